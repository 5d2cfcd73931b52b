// `homeostat get devices|enrollmentgroups|events|tokens`: lists (or one resource by name) as a
// table, JSON or YAML. JSON and YAML print the resource, or `{items}` for a list, as the API does.

import { type EventsQuery, parseSelector } from '@homeostat/protocol';
import type { Command } from 'commander';
import { parseInteger, parseName } from '../args.js';
import { contextOf, outputOption } from '../context.js';
import { UsageError } from '../errors.js';
import { printOutput } from '../format.js';
import type { CliIo } from '../io.js';
import { deviceTable, eventTable, groupTable, tokenTable } from '../tables.js';
import { getArtifacts } from './artifacts.js';

export function registerGet(program: Command, io: CliIo): void {
  const get = program.command('get').description('list resources, or show one by name');

  get
    .command('devices')
    .aliases(['device', 'dev'])
    .description('list devices (NAME shows one)')
    .argument('[name]', 'a device name')
    .option('-l, --selector <selector>', 'label selector, e.g. site=paris,model!=m1,beta,!retired')
    .addOption(outputOption())
    .action(async (name: string | undefined, opts: { selector?: string }, command: Command) => {
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
      const items = await client.listDevices(opts.selector);
      printOutput(io, ctx.output, { items }, () => (items.length === 0 ? '' : deviceTable(items, io.now())));
      if (items.length === 0 && ctx.output === 'table') io.stderr('no devices found\n');
    });

  get
    .command('enrollmentgroups')
    .aliases(['enrollmentgroup', 'enrollment-groups', 'enrollment-group', 'eg'])
    .description('list enrollment groups (NAME shows one)')
    .argument('[name]', 'an enrollment group name')
    .addOption(outputOption())
    .action(async (name: string | undefined, _opts: unknown, command: Command) => {
      const ctx = contextOf(io, command);
      const client = await ctx.client();
      if (name !== undefined) {
        const group = await client.getEnrollmentGroup(parseName('enrollment group', name));
        printOutput(io, ctx.output, group, () => groupTable([group], io.now()));
        return;
      }
      const items = await client.listEnrollmentGroups();
      printOutput(io, ctx.output, { items }, () => (items.length === 0 ? '' : groupTable(items, io.now())));
      if (items.length === 0 && ctx.output === 'table') io.stderr('no enrollment groups found\n');
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
