// `homeostat tokens create NAME --role ROLE`: an API token for a person or a script (admin only).
// The hub stores a hash, so the secret is printed this once.

import { ROLES, type Role } from '@homeostat/protocol';
import { type Command, Option } from 'commander';
import { parseName } from '../args.js';
import { contextOf, outputOption } from '../context.js';
import { printOutput } from '../format.js';
import type { CliIo } from '../io.js';

export function registerTokens(program: Command, io: CliIo): void {
  const tokens = program.command('tokens').alias('token').description('create API tokens (list: get tokens)');

  tokens
    .command('create')
    .description('create an API token and print its secret (shown once)')
    .argument('<name>', 'a name for the token, e.g. ci or alice')
    .addOption(new Option('--role <role>', 'what the token may do').choices(ROLES).makeOptionMandatory())
    .addOption(outputOption())
    .action(async (name: string, opts: { role: Role }, command: Command) => {
      const ctx = contextOf(io, command);
      const created = await (await ctx.client()).createToken({ name: parseName('token', name), role: opts.role });
      printOutput(
        io,
        ctx.output,
        created,
        () => `token/${created.token.name} created (role ${created.token.role})\nsecret: ${created.secret}\n`,
      );
      io.stderr(
        `warning: the secret of token/${created.token.name} is shown only this once; store it now (delete the token and create another to replace it)\n`,
      );
    });
}
