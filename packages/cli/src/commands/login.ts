// `homeostat login`: checks a server and token with GET /whoami, then saves both (mode 0600)
// for later commands. The token is never printed, not even in errors.

import type { Command } from 'commander';
import { HubClient } from '../client.js';
import { serverFromFlagsOrEnv, writeConfig } from '../config.js';
import { UsageError } from '../errors.js';
import type { CliIo } from '../io.js';

export function registerLogin(program: Command, io: CliIo): void {
  program
    .command('login')
    .description('check a hub server and API token, and save them for later commands')
    .option('--token-stdin', 'read the token from standard input (keeps it out of the shell history)')
    .addHelpText(
      'after',
      '\nThe server and token come from the global --server and --token flags (or HOMEOSTAT_SERVER,\n' +
        'HOMEOSTAT_TOKEN). The config goes to $HOMEOSTAT_CONFIG, $XDG_CONFIG_HOME/homeostat/config.json\n' +
        'or ~/.config/homeostat/config.json.',
    )
    .action(async (_opts: unknown, command: Command) => {
      const opts = command.optsWithGlobals<{ server?: string; token?: string; tokenStdin?: boolean }>();
      const server = serverFromFlagsOrEnv(io, opts);
      if (server === undefined) throw new UsageError('login needs --server URL (or HOMEOSTAT_SERVER)');
      if (opts.tokenStdin && opts.token !== undefined)
        throw new UsageError('give either --token or --token-stdin, not both');
      const token = opts.tokenStdin ? (await io.readStdin()).trim() : (opts.token ?? io.env.HOMEOSTAT_TOKEN);
      if (!token) throw new UsageError('login needs a token: --token TOKEN, --token-stdin, or HOMEOSTAT_TOKEN');
      const who = await new HubClient(io, server, token).whoami();
      await writeConfig(io, { server, token });
      io.stdout(`logged in to ${server} as ${who.name} (${who.role})\n`);
    });
}
