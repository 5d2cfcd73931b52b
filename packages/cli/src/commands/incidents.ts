// `homeostat incidents`: what the autonomic manager handed to people. `incidents resolve ID
// --note …` closes one (the hub writes its post-mortem then), `incidents postmortem ID` prints the
// blameless post-mortem (Markdown, or JSON and YAML with -o). `get incidents` and `describe
// incident` use the table and the description below.

import type { Incident, IncidentsQuery } from '@homeostat/protocol';
import { type Command, Option } from 'commander';
import { parseInteger, parseName } from '../args.js';
import { contextOf, outputOption } from '../context.js';
import { UsageError } from '../errors.js';
import { formatDuration, formatInstant, formatTable, printOutput } from '../format.js';
import type { CliIo } from '../io.js';

const ID = /^(inc|wo)-[0-9a-f]{12}$/;

export function parseIncidentId(id: string): string {
  if (!ID.test(id)) throw new UsageError(`invalid incident id ${JSON.stringify(id)} (inc-… or wo- and 12 hex digits)`);
  return id;
}

interface ListFlags {
  device?: string;
  state?: 'open' | 'resolved';
  limit?: string;
}

/** `--device`, `--state`, `--limit` of an incident listing, as a query. */
export function incidentQuery(opts: ListFlags): IncidentsQuery {
  return {
    ...(opts.device !== undefined ? { device: parseName('device', opts.device) } : {}),
    ...(opts.state !== undefined ? { state: opts.state } : {}),
    limit: opts.limit === undefined ? 100 : parseInteger('--limit', opts.limit, 1, 1000),
  };
}

/** The listing options, on `incidents list` and `get incidents`. */
export function withListOptions(command: Command): Command {
  return command
    .option('--device <name>', 'only incidents about this device')
    .addOption(new Option('--state <state>', 'only open or resolved ones').choices(['open', 'resolved']))
    .option('--limit <n>', 'at most this many (1-1000)', '100');
}

export async function listIncidents(io: CliIo, command: Command, opts: ListFlags, id?: string): Promise<void> {
  const ctx = contextOf(io, command);
  const client = await ctx.client();
  if (id !== undefined) {
    const one = await client.getIncident(parseIncidentId(id));
    printOutput(io, ctx.output, one, () => incidentTable([one], io.now()));
    return;
  }
  const items = await client.listIncidents(incidentQuery(opts));
  printOutput(io, ctx.output, { items }, () => incidentTable(items, io.now()));
}

export function registerIncidents(program: Command, io: CliIo): void {
  const incidents = program
    .command('incidents')
    .alias('incident')
    .description('incidents and work orders for people; resolve them, read their post-mortems');

  withListOptions(incidents.command('list', { isDefault: true }).description('list incidents, the newest first'))
    .addOption(outputOption())
    .action((opts: ListFlags, command: Command) => listIncidents(io, command, opts));

  incidents
    .command('resolve')
    .description('resolve an open incident or work order; the hub writes the post-mortem of an incident')
    .argument('<id>', 'the incident id, e.g. inc-4f1c2a9b7e30')
    .requiredOption('--note <text>', 'what was done, for the record')
    .addOption(outputOption())
    .action(async (id: string, opts: { note: string }, command: Command) => {
      const ctx = contextOf(io, command);
      if (opts.note.trim() === '') throw new UsageError('--note must say what was done');
      const i = await (await ctx.client()).resolveIncident(parseIncidentId(id), opts.note);
      const next = i.type === 'incident' ? `; its post-mortem: homeostat incidents postmortem ${i.id}` : '';
      printOutput(io, ctx.output, i, () => `incident/${i.id} resolved${next}\n`);
    });

  incidents
    .command('postmortem')
    .alias('post-mortem')
    .description('the blameless post-mortem of a resolved incident (Markdown; -o json|yaml for the record)')
    .argument('<id>', 'the incident id')
    .addOption(outputOption())
    .action(async (id: string, _opts: unknown, command: Command) => {
      const ctx = contextOf(io, command);
      const client = await ctx.client();
      if (ctx.output === 'table') {
        io.stdout(await client.getPostMortemMarkdown(parseIncidentId(id)));
        return;
      }
      const p = await client.getPostMortem(parseIncidentId(id));
      printOutput(io, ctx.output, p, () => '');
    });
}

export function incidentTable(items: readonly Incident[], now: number): string {
  if (items.length === 0) return 'no incidents\n';
  return formatTable(
    ['ID', 'TYPE', 'SEVERITY', 'STATE', 'DEVICES', 'TITLE', 'AGE'],
    items.map((i) => [
      i.id,
      i.type,
      i.severity,
      i.state,
      i.devices.length > 2 ? `${i.devices.slice(0, 2).join(',')},+${i.devices.length - 2}` : i.devices.join(','),
      i.title,
      formatDuration(now - i.openedAt),
    ]),
  );
}

export function describeIncident(i: Incident, now: number): string {
  const rows: [string, string][] = [
    ['ID', i.id],
    ['Type', i.type],
    ['Title', i.title],
    ['Symptom', i.symptom],
    ['Severity', i.severity],
    ['State', i.state],
    ['Devices', i.devices.join(', ') || '<none>'],
    ['Decisions', i.decisions.join(', ') || '<none>'],
    ['Opened', formatInstant(i.openedAt, now)],
    ['Resolved', i.resolvedAt === null ? '<open>' : formatInstant(i.resolvedAt, now)],
  ];
  if (i.resolution) rows.push(['Resolution', `by ${i.resolution.by}: ${i.resolution.note}`]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  const head = rows.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`).join('\n');
  const timeline = i.timeline.map((e) => `  ${new Date(e.at).toISOString()}  ${e.message}`).join('\n');
  const next =
    i.state === 'resolved' && i.type === 'incident' ? `\n\nPost-mortem: homeostat incidents postmortem ${i.id}` : '';
  return `${head}\n\nTimeline:\n${timeline}${next}\n`;
}
