// `homeostat devices create|rotate-token`: the two commands that return a device token. The
// hub keeps only a hash, so the token is printed exactly once, with a warning on stderr.
// `devices replace OLD --with NEW`: the new device takes the old one's place, which is retired.

import type { CreateDeviceRequest, DeviceCredentials, ReplaceDeviceResponse } from '@homeostat/protocol';
import type { Command } from 'commander';
import { collect, parseLabelArgs, parseName } from '../args.js';
import { contextOf, outputOption } from '../context.js';
import { printOutput } from '../format.js';
import type { CliIo } from '../io.js';
import { parseJsonObject } from '../json-arg.js';
import { deviceTable } from '../tables.js';

export function registerDevices(program: Command, io: CliIo): void {
  const devices = program.command('devices').alias('device').description('create devices and rotate their tokens');

  devices
    .command('create')
    .description('register a device and print its token (shown once)')
    .argument('<name>', 'the device name')
    .option('-l, --label <key=value>', 'a label; repeat or separate with commas', collect, [])
    .option('--desired <json>', 'initial desired state, a JSON object')
    .addOption(outputOption())
    .action(async (name: string, opts: { label: string[]; desired?: string }, command: Command) => {
      const ctx = contextOf(io, command);
      const request: CreateDeviceRequest = { name: parseName('device', name) };
      const labels = parseLabelArgs(opts.label);
      if (Object.keys(labels).length > 0) request.labels = labels;
      if (opts.desired !== undefined) request.desired = parseJsonObject('--desired', opts.desired);
      const created = await (await ctx.client()).createDevice(request);
      printCredentials(io, ctx.output, 'created', created);
    });

  devices
    .command('replace')
    .description('replace OLD with NEW: labels, desired state and duties move to NEW; OLD is retired, its history kept')
    .argument('<old>', 'the device to retire')
    .requiredOption('--with <new>', 'the device that takes its place')
    .option('--dry-run', 'show what would move; change nothing')
    .addOption(outputOption())
    .action(async (old: string, opts: { with: string; dryRun?: boolean }, command: Command) => {
      const ctx = contextOf(io, command);
      const client = await ctx.client();
      const r = await client.replaceDevice(
        parseName('device', old),
        parseName('device', opts.with),
        opts.dryRun === true,
      );
      printOutput(io, ctx.output, r, () => replacementText(r));
    });

  devices
    .command('rotate-token')
    .description('issue a new token for a device; the old one stops working')
    .argument('<name>', 'the device name')
    .addOption(outputOption())
    .action(async (name: string, _opts: unknown, command: Command) => {
      const ctx = contextOf(io, command);
      const rotated = await (await ctx.client()).rotateDeviceToken(parseName('device', name));
      printCredentials(io, ctx.output, 'token rotated', rotated);
    });
}

/** The device and its token, once; JSON and YAML carry the token field for scripts. */
export function printCredentials(io: CliIo, output: 'table' | 'json' | 'yaml', verb: string, creds: DeviceCredentials) {
  const name = creds.device.metadata.name;
  printOutput(
    io,
    output,
    creds,
    () => `device/${name} ${verb}\n\n${deviceTable([creds.device], io.now())}\ntoken: ${creds.token}\n`,
  );
  io.stderr(tokenWarning(`device ${name}`, `homeostat devices rotate-token ${name}`));
}

/** The warning printed beside any secret the hub will not show again. */
export function tokenWarning(what: string, renew: string): string {
  return `warning: the token of ${what} is shown only this once; store it now (\`${renew}\` issues a new one)\n`;
}

/** What a replacement moved (or would move), in plain words. */
function replacementText(r: ReplaceDeviceResponse): string {
  const p = r.plan;
  const list = (items: readonly string[]) => (items.length === 0 ? 'none' : items.join(', '));
  const lines = [
    r.dryRun
      ? `device/${p.old} would be replaced by ${p.new} (dry run: nothing changed)`
      : `device/${p.old} replaced by ${p.new}`,
    '',
    `Labels:        ${list(Object.entries(p.labels).map(([k, v]) => `${k}=${v}`))}`,
    `Desired keys:  ${list(p.desiredKeys)} (modules come from deployments)`,
    `Relabelled:    ${list(p.relabelled.map((x) => `${x.device} (${x.key})`))}`,
    `Hand-overs:    ${list(p.handOvers.map((h) => `${h.id} (${h.from} -> ${h.to})`))}`,
    `Incidents:     ${list(p.incidents)}`,
    `Approvals:     ${list(p.approvals.map((a) => `${a.id} (${a.change})`))}`,
  ];
  if (r.decision) lines.push('', r.decision.explanation);
  else lines.push('', `${p.old} would be retired: its token revoked, its connection closed, its history kept.`);
  return `${lines.join('\n')}\n`;
}
