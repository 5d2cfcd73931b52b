// `homeostat decisions`: what the fleet's autonomic manager decided, and the approvals it waits
// for. `decisions approve|reject ID` answers one; the hub carries an approved plan out at once
// and the answer shows what each action did.

import { DECISION_STATES, type Decision, type DecisionState } from '@homeostat/protocol';
import { type Command, Option } from 'commander';
import { parseName } from '../args.js';
import { contextOf, outputOption } from '../context.js';
import { formatDuration, formatTable, printOutput } from '../format.js';
import type { CliIo } from '../io.js';

interface ListFlags {
  device?: string;
  policy?: string;
  state?: DecisionState;
  limit?: string;
}

export function registerDecisions(program: Command, io: CliIo): void {
  const decisions = program
    .command('decisions')
    .alias('decision')
    .description('decisions of the autonomic manager; approve or reject those that wait for a person');

  decisions
    .command('list', { isDefault: true })
    .description('list decisions, the newest first')
    .option('--device <name>', 'only decisions about this device')
    .option('--policy <name>', 'only decisions of this policy')
    .addOption(new Option('--state <state>', 'only decisions in this state').choices(DECISION_STATES))
    .option('--limit <n>', 'at most this many', '50')
    .addOption(outputOption())
    .action(async (opts: ListFlags, command: Command) => {
      const ctx = contextOf(io, command);
      const items = await (await ctx.client()).listDecisions({
        ...(opts.device !== undefined ? { device: parseName('device', opts.device) } : {}),
        ...(opts.policy !== undefined ? { policy: parseName('policy', opts.policy) } : {}),
        ...(opts.state !== undefined ? { state: opts.state } : {}),
        limit: Number(opts.limit ?? 50),
      });
      printOutput(io, ctx.output, { items }, () => decisionTable(items, io.now()));
    });

  for (const verdict of ['approve', 'reject'] as const) {
    decisions
      .command(verdict)
      .description(
        verdict === 'approve'
          ? 'approve a decision awaiting approval: the hub carries its plan out now'
          : 'reject a decision awaiting approval: nothing is done',
      )
      .argument('<id>', 'the decision id, e.g. dec-4f1c2a9b7e30')
      .option('--reason <text>', 'why, for the record')
      .addOption(outputOption())
      .action(async (id: string, opts: { reason?: string }, command: Command) => {
        const ctx = contextOf(io, command);
        const d = await (await ctx.client()).decide(id, verdict, opts.reason);
        printOutput(io, ctx.output, d, () => `decision/${d.id} ${d.state}\n\n${d.explanation}\n`);
      });
  }
}

/** The devices a decision is about, shortened; a decision of the hub's loop on itself is about the hub. */
function devicesOf(d: Decision): string {
  if (d.devices.length === 0) return d.trigger.kind === 'hub' ? '(hub)' : '-';
  return d.devices.length > 2 ? `${d.devices.slice(0, 2).join(',')},+${d.devices.length - 2}` : d.devices.join(',');
}

export function decisionTable(items: readonly Decision[], now: number): string {
  if (items.length === 0) return 'no decisions\n';
  return formatTable(
    ['ID', 'POLICY', 'PROPERTY', 'DEVICES', 'DEGREE', 'STATE', 'AGE'],
    items.map((d) => [d.id, d.policy, d.property, devicesOf(d), d.degree, d.state, formatDuration(now - d.createdAt)]),
  );
}
