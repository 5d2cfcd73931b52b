// `homeostat twin set|patch`: changes a device's desired state with a JSON merge patch. The
// patch carries the desired version it is based on, so two people editing at once cannot
// silently overwrite each other: the hub answers 409 and this command explains what happened.

import type { Device } from '@homeostat/protocol';
import type { Command } from 'commander';
import { parseAssignments, parseInteger, parseName } from '../args.js';
import type { HubClient } from '../client.js';
import { type CommandContext, contextOf, outputOption } from '../context.js';
import { ApiError, CliError, UsageError } from '../errors.js';
import { printOutput } from '../format.js';
import type { CliIo } from '../io.js';
import { parseJsonObject } from '../json-arg.js';

const VERSION_HELP = 'the desired version this change is based on (default: the current one)';

export function registerTwin(program: Command, io: CliIo): void {
  const twin = program.command('twin').description("change a device's desired state");

  twin
    .command('set')
    .description('set desired keys: key=value (JSON values; null deletes; a.b=value nests)')
    .argument('<name>', 'the device name')
    .argument('<assignments...>', 'key=value pairs')
    .option('--version <n>', VERSION_HELP)
    .addOption(outputOption())
    .action(async (name: string, assignments: string[], opts: { version?: string }, command: Command) => {
      const ctx = contextOf(io, command);
      await patchDesired(ctx, parseName('device', name), parseAssignments(assignments), opts.version);
    });

  twin
    .command('patch')
    .description('apply a JSON merge patch (RFC 7396) to the desired state')
    .argument('<name>', 'the device name')
    .requiredOption('--json <patch>', 'the merge patch, a JSON object; null deletes a key')
    .option('--version <n>', VERSION_HELP)
    .addOption(outputOption())
    .action(async (name: string, opts: { json: string; version?: string }, command: Command) => {
      const ctx = contextOf(io, command);
      const patch = parseJsonObject('--json', opts.json);
      if (Object.keys(patch).length === 0) throw new UsageError('invalid --json: the patch is empty');
      await patchDesired(ctx, parseName('device', name), patch, opts.version);
    });
}

async function patchDesired(
  ctx: CommandContext,
  name: string,
  state: Record<string, unknown>,
  versionFlag: string | undefined,
): Promise<void> {
  const explicit = versionFlag === undefined ? undefined : parseInteger('--version', versionFlag, 0);
  const client = await ctx.client();
  const version = explicit ?? (await client.getDevice(name)).twin.desired.version;
  let device: Device;
  try {
    device = await client.patchDesired(name, { version, state });
  } catch (err) {
    if (err instanceof ApiError && err.code === 'ERR_TWIN_VERSION_CONFLICT')
      throw await conflict(client, name, version, err);
    throw err;
  }
  const { desired } = device.twin;
  printOutput(ctx.io, ctx.output, device, () => `device/${name} desired state updated to version ${desired.version}\n`);
}

/** Explains a 409 with the version now stored, when the hub still answers. */
async function conflict(client: HubClient, name: string, based: number, err: ApiError): Promise<CliError> {
  let now = '';
  try {
    now = ` (it is now at version ${(await client.getDevice(name)).twin.desired.version})`;
  } catch {
    // The explanation is a courtesy; the conflict itself is what must be reported.
  }
  return new CliError(err.message, [
    ...err.details,
    `the desired state of ${name} changed after version ${based}${now}; nothing was changed`,
    `review it with \`homeostat describe device ${name}\`, then retry (without --version to build on the current one)`,
  ]);
}
