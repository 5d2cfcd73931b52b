// `homeostat get devices|deployments|modules|enrollmentgroups|events|tokens|incidents`: lists (or one resource by
// name) as a table, JSON or YAML. JSON and YAML print the resource, or `{items}` for a list, as the API does.
// Retired devices are left out of `get devices` unless `--all` is given.

import { type EventsQuery, parseSelector } from '@homeostat/protocol';
import type { Command } from 'commander';
import { parseInteger, parseName } from '../args.js';
import type { HubClient } from '../client.js';
import { contextOf, outputOption } from '../context.js';
import { UsageError } from '../errors.js';
import { printOutput } from '../format.js';
import type { CliIo } from '../io.js';
import {
  deploymentTable,
  deviceTable,
  eventTable,
  groupTable,
  moduleRows,
  moduleTable,
  tokenTable,
} from '../tables.js';
import { getArtifacts } from './artifacts.js';
import { listIncidents, withListOptions } from './incidents.js';
import { rolloutTable } from './rollout.js';

export function registerGet(program: Command, io: CliIo): void {
  const get = program.command('get').description('list resources, or show one by name');

  get
    .command('devices')
    .aliases(['device', 'dev'])
    .description('list devices (NAME shows one)')
    .argument('[name]', 'a device name')
    .option('-l, --selector <selector>', 'label selector, e.g. site=paris,model!=m1,beta,!retired')
    .option('-A, --all', 'also the retired (replaced) devices')
    .addOption(outputOption())
    .action(async (name: string | undefined, opts: { selector?: string; all?: boolean }, command: Command) => {
      const ctx = contextOf(io, command);
      if (name !== undefined && opts.selector !== undefined)
        throw new UsageError('give a NAME or a --selector, not both');
      if (opts.selector !== undefined) {
        const parsed = parseSelector(opts.selector);
        if ('errors' in parsed) throw new UsageError('invalid selector', parsed.errors);
      }
      const client = await ctx.client();
      if (name !== undefined) {
        const device = await client.getDevice(parseName('device', name));
        printOutput(io, ctx.output, device, () => deviceTable([device], io.now()));
        return;
      }
      const all = await client.listDevices(opts.selector);
      const items = opts.all ? all : all.filter((d) => d.status.lifecycle !== 'retired');
      printOutput(io, ctx.output, { items }, () => (items.length === 0 ? '' : deviceTable(items, io.now())));
      if (items.length === 0 && ctx.output === 'table') io.stderr('no devices found\n');
    });

  registerNamedKind(get, io, {
    command: 'deployments',
    aliases: ['deployment', 'deploy'],
    description: 'list deployments with the devices they target, have applied, and fail on (NAME shows one)',
    label: 'deployment',
    one: (client, name) => client.getDeployment(name),
    all: (client) => client.listDeployments(),
    table: deploymentTable,
  });

  get
    .command('modules')
    .alias('module')
    .description('list the modules of each device: desired (rev, deployment) and reported (rev, state)')
    .option('--device <name>', 'only this device')
    .option('-l, --selector <selector>', 'only devices matching this label selector')
    .addOption(outputOption())
    .action(async (opts: { device?: string; selector?: string }, command: Command) => {
      const ctx = contextOf(io, command);
      if (opts.device !== undefined && opts.selector !== undefined) {
        throw new UsageError('give a --device or a --selector, not both');
      }
      const client = await ctx.client();
      if (opts.device !== undefined) {
        const list = await client.deviceModules(parseName('device', opts.device));
        const rows = list.items.map((module) => ({ device: list.device, module }));
        printOutput(io, ctx.output, list, () => (rows.length === 0 ? '' : moduleTable(rows, io.now())));
        if (rows.length === 0 && ctx.output === 'table') io.stderr(`no modules on device ${list.device}\n`);
        return;
      }
      const rows = moduleRows(await client.listDevices(opts.selector));
      const items = rows.map(({ device, module }) => ({ device, ...module }));
      printOutput(io, ctx.output, { items }, () => (rows.length === 0 ? '' : moduleTable(rows, io.now())));
      if (rows.length === 0 && ctx.output === 'table') io.stderr('no modules found\n');
    });

  registerNamedKind(get, io, {
    command: 'enrollmentgroups',
    aliases: ['enrollmentgroup', 'enrollment-groups', 'enrollment-group', 'eg'],
    description: 'list enrollment groups (NAME shows one)',
    label: 'enrollment group',
    one: (client, name) => client.getEnrollmentGroup(name),
    all: (client) => client.listEnrollmentGroups(),
    table: groupTable,
  });

  get
    .command('events')
    .alias('event')
    .description('list hub events, oldest first')
    .option('--device <name>', 'only events about this device')
    .option('--type <type>', 'only events of this type')
    .option('--after <id>', 'only events with a larger id (to page or follow)')
    .option('--limit <n>', 'at most this many events (1-1000)')
    .addOption(outputOption())
    .action(async (opts: { device?: string; type?: string; after?: string; limit?: string }, command: Command) => {
      const ctx = contextOf(io, command);
      const query: EventsQuery = {};
      if (opts.device !== undefined) query.device = parseName('device', opts.device);
      if (opts.type !== undefined) query.type = opts.type;
      if (opts.after !== undefined) query.after = parseInteger('--after', opts.after, 0);
      if (opts.limit !== undefined) query.limit = parseInteger('--limit', opts.limit, 1, 1000);
      const items = await (await ctx.client()).listEvents(query);
      printOutput(io, ctx.output, { items }, () => (items.length === 0 ? '' : eventTable(items, io.now())));
      if (items.length === 0 && ctx.output === 'table') io.stderr('no events found\n');
    });

  get
    .command('artifacts')
    .alias('artifact')
    .description('list artifacts pushed to the hub (NAME: every version of one)')
    .argument('[name]', 'an artifact name')
    .addOption(outputOption())
    .action((name: string | undefined, _opts: unknown, command: Command) => getArtifacts(io, command, name));

  registerNamedKind(get, io, {
    command: 'rollouts',
    aliases: ['rollout', 'ro'],
    description: 'list rollouts with their revision, artifact, phase and progress (NAME shows one)',
    label: 'rollout',
    one: (client, name) => client.getRollout(name),
    all: (client) => client.listRollouts(),
    table: rolloutTable,
  });

  withListOptions(
    get
      .command('incidents')
      .alias('incident')
      .description('list incidents and work orders, the newest first (ID shows one)')
      .argument('[id]', 'an incident id'),
  )
    .addOption(outputOption())
    .action((id: string | undefined, opts: object, command: Command) => listIncidents(io, command, opts, id));

  get
    .command('tokens')
    .alias('token')
    .description('list API tokens (names and roles; secrets are never shown again)')
    .addOption(outputOption())
    .action(async (_opts: unknown, command: Command) => {
      const ctx = contextOf(io, command);
      const items = await (await ctx.client()).listTokens();
      printOutput(io, ctx.output, { items }, () => (items.length === 0 ? '' : tokenTable(items, io.now())));
      if (items.length === 0 && ctx.output === 'table') io.stderr('no tokens found\n');
    });
}

/** A kind listed by `get KIND`, or shown alone by `get KIND NAME`. */
interface NamedKind<T> {
  command: string;
  aliases: string[];
  description: string;
  /** For messages: `an enrollment group name`, `no enrollment groups found`. */
  label: string;
  one(client: HubClient, name: string): Promise<T>;
  all(client: HubClient): Promise<T[]>;
  table(items: readonly T[], now: number): string;
}

function registerNamedKind<T>(get: Command, io: CliIo, kind: NamedKind<T>): void {
  get
    .command(kind.command)
    .aliases(kind.aliases)
    .description(kind.description)
    .argument('[name]', `${/^[aeiou]/.test(kind.label) ? 'an' : 'a'} ${kind.label} name`)
    .addOption(outputOption())
    .action(async (name: string | undefined, _opts: unknown, command: Command) => {
      const ctx = contextOf(io, command);
      const client = await ctx.client();
      if (name !== undefined) {
        const item = await kind.one(client, parseName(kind.label, name));
        printOutput(io, ctx.output, item, () => kind.table([item], io.now()));
        return;
      }
      const items = await kind.all(client);
      printOutput(io, ctx.output, { items }, () => (items.length === 0 ? '' : kind.table(items, io.now())));
      if (items.length === 0 && ctx.output === 'table') io.stderr(`no ${kind.label}s found\n`);
    });
}
