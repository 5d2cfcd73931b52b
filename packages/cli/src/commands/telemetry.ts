// `homeostat telemetry NAME --metric M`: one metric's recent points from the hub's store.

import { isMetricName, type TelemetryQuery } from '@homeostat/protocol';
import type { Command } from 'commander';
import { parseDuration, parseInteger, parseName } from '../args.js';
import { contextOf, outputOption } from '../context.js';
import { UsageError } from '../errors.js';
import { formatTable, printOutput } from '../format.js';
import type { CliIo } from '../io.js';

export function registerTelemetry(program: Command, io: CliIo): void {
  program
    .command('telemetry')
    .description("show a device's telemetry for one metric")
    .argument('<name>', 'the device name')
    .requiredOption('--metric <metric>', 'the metric, e.g. temperature')
    .option('--since <duration>', 'how far back, e.g. 30s, 10m, 2h, 1d (default: the hub decides)')
    .option('--limit <n>', 'at most this many points (1-10000)')
    .addOption(outputOption())
    .action(async (name: string, opts: { metric: string; since?: string; limit?: string }, command: Command) => {
      const ctx = contextOf(io, command);
      if (!isMetricName(opts.metric)) {
        throw new UsageError(
          `invalid --metric ${JSON.stringify(opts.metric)}: a letter, then letters, digits, '_' and '.'`,
        );
      }
      const query: TelemetryQuery = { metric: opts.metric };
      if (opts.since !== undefined) query.from = Math.max(0, io.now() - parseDuration('--since', opts.since));
      if (opts.limit !== undefined) query.limit = parseInteger('--limit', opts.limit, 1, 10_000);
      const series = await (await ctx.client()).telemetry(parseName('device', name), query);
      printOutput(io, ctx.output, series, () =>
        series.points.length === 0
          ? ''
          : formatTable(
              ['TIME', 'SEQ', 'VALUE'],
              series.points.map((p) => [new Date(p.ts).toISOString(), String(p.seq), String(p.value)]),
            ),
      );
      if (ctx.output !== 'table') return;
      if (series.points.length === 0) io.stderr(`no ${series.metric} points for ${series.device} in that range\n`);
      if (series.truncated) {
        io.stderr(`note: truncated to ${series.points.length} points; narrow --since or raise --limit\n`);
      }
    });
}
