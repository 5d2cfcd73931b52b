// `homeostat devices create|rotate-token`: the two commands that return a device token. The
// hub keeps only a hash, so the token is printed exactly once, with a warning on stderr.

import type { CreateDeviceRequest, DeviceCredentials } from '@homeostat/protocol';
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
