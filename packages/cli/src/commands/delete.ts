// `homeostat delete device|deployment|enrollmentgroup|rollout|token NAME...`: deletes each name in
// turn, carries on past failures (like kubectl) and exits 1 if any of them failed. `delete rollout`
// takes `--force` (a progressing rollout too).

import type { Command } from 'commander';
import { parseName } from '../args.js';
import type { HubClient } from '../client.js';
import { contextOf } from '../context.js';
import { ApiError, CliError, formatError } from '../errors.js';
import type { CliIo } from '../io.js';

interface Kind {
  command: string;
  aliases: string[];
  label: string;
  ref: string;
  /** Takes `--force`: deletes what the hub refuses to delete otherwise. */
  force?: string;
  remove(client: HubClient, name: string, force: boolean): Promise<void>;
}

const KINDS: Kind[] = [
  {
    command: 'device',
    aliases: ['devices', 'dev'],
    label: 'device',
    ref: 'device',
    remove: (c, n) => c.deleteDevice(n),
  },
  {
    command: 'deployment',
    aliases: ['deployments', 'deploy'],
    label: 'deployment',
    ref: 'deployment',
    remove: (c, n) => c.deleteDeployment(n),
  },
  {
    command: 'enrollmentgroup',
    aliases: ['enrollmentgroups', 'enrollment-group', 'enrollment-groups', 'eg'],
    label: 'enrollment group',
    ref: 'enrollmentgroup',
    remove: (c, n) => c.deleteEnrollmentGroup(n),
  },
  {
    command: 'rollout',
    aliases: ['rollouts', 'ro'],
    label: 'rollout',
    ref: 'rollout',
    force: 'delete a progressing rollout too (devices keep what they run; those installing stop)',
    remove: (c, n, force) => c.deleteRollout(n, force),
  },
  { command: 'token', aliases: ['tokens'], label: 'API token', ref: 'token', remove: (c, n) => c.deleteToken(n) },
];

export function registerDelete(program: Command, io: CliIo): void {
  const del = program.command('delete').description('delete resources by name');
  for (const kind of KINDS) {
    const cmd = del
      .command(kind.command)
      .aliases(kind.aliases)
      .description(`delete ${kind.label}s`)
      .argument('<names...>', `${kind.label} names`);
    if (kind.force !== undefined) cmd.option('--force', kind.force);
    cmd.action(async (names: string[], opts: { force?: boolean }, command: Command) => {
      const checked = names.map((n) => parseName(kind.label, n));
      const client = await contextOf(io, command).client();
      let failed = 0;
      for (const name of checked) {
        try {
          await kind.remove(client, name, opts.force === true);
          io.stdout(`${kind.ref}/${name} deleted\n`);
        } catch (err) {
          // Only the hub's refusal is per name; an unreachable hub would fail every other name too.
          if (!(err instanceof ApiError) || checked.length === 1) throw err;
          failed++;
          io.stderr(formatError(err));
        }
      }
      if (failed > 0) throw new CliError(`${failed} of ${checked.length} deletions failed`);
    });
  }
}
