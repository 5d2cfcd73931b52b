// What every fleet command needs: the IO, the global flags, and a hub client built only when
// the command actually talks to the hub (so `apply --dry-run` and usage errors need no login).

import { type Command, Option } from 'commander';
import { HubClient } from './client.js';
import { type ConnectionFlags, resolveConnection } from './config.js';
import { OUTPUT_FORMATS, type OutputFormat, parseOutputFormat } from './format.js';
import type { CliIo } from './io.js';

export interface CommandContext {
  io: CliIo;
  flags: ConnectionFlags;
  output: OutputFormat;
  client(): Promise<HubClient>;
}

/** The `-o` flag, added to each command whose result can be printed as data. */
export function outputOption(): Option {
  return new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('table');
}

/** Reads the global flags (`--server`, `--token`) and the command's `-o` from commander. */
export function contextOf(io: CliIo, command: Command): CommandContext {
  const opts = command.optsWithGlobals<{ server?: string; token?: string; output?: string }>();
  const flags: ConnectionFlags = { server: opts.server, token: opts.token };
  return {
    io,
    flags,
    output: parseOutputFormat(opts.output ?? 'table'),
    async client() {
      const { server, token } = await resolveConnection(io, flags);
      return new HubClient(io, server, token);
    },
  };
}
