// `homeostat explain device NAME` and `explain decision ID`: what the system did and why, in
// plain language, from what the hub recorded: the trigger and its evidence, the analysis, the
// plan, how far it was allowed to go, what each action did, and whether it worked.

import type { Decision } from '@homeostat/protocol';
import type { Command } from 'commander';
import { parseName } from '../args.js';
import { contextOf, outputOption } from '../context.js';
import { printOutput } from '../format.js';
import type { CliIo } from '../io.js';

/** Decisions `explain device` tells, the newest first. */
const DEVICE_DECISIONS = 10;

export function registerExplain(program: Command, io: CliIo): void {
  const explain = program.command('explain').description('what the system did and why, in plain language');

  explain
    .command('decision')
    .description('one decision: trigger and evidence, analysis, plan, actions and results, verification')
    .argument('<id>', 'the decision id')
    .addOption(outputOption())
    .action(async (id: string, _opts: unknown, command: Command) => {
      const ctx = contextOf(io, command);
      const d = await (await ctx.client()).getDecision(id);
      printOutput(io, ctx.output, d, () => tell(d));
    });

  explain
    .command('device')
    .description('what the autonomic manager decided about a device lately, and the incidents it opened')
    .argument('<name>', 'the device name')
    .addOption(outputOption())
    .action(async (name: string, _opts: unknown, command: Command) => {
      const ctx = contextOf(io, command);
      const client = await ctx.client();
      const device = parseName('device', name);
      const [decisions, incidents] = await Promise.all([
        client.listDecisions({ device, limit: DEVICE_DECISIONS }),
        client.listIncidents({ device, state: 'open', limit: 20 }),
      ]);
      printOutput(io, ctx.output, { device, decisions, incidents }, () => {
        if (decisions.length === 0) return `The autonomic manager has decided nothing about ${device}.\n`;
        const head = `${device}: ${decisions.length === DEVICE_DECISIONS ? `the last ${DEVICE_DECISIONS}` : decisions.length} decision${decisions.length === 1 ? '' : 's'}, the newest first.\n`;
        const open =
          incidents.length === 0
            ? 'No open incident.\n'
            : `Open: ${incidents.map((i) => `${i.id} (${i.type}, ${i.severity}): ${i.title}`).join('; ')}.\n`;
        return `${head}${open}\n${decisions.map(tell).join('\n')}`;
      });
    });
}

/** The stored explanation, then the history of its states. */
function tell(d: Decision): string {
  const history = d.history.map((h) => `  ${new Date(h.at).toISOString()}  ${h.state}: ${h.note}`);
  return `${d.explanation}\nHistory:\n${history.join('\n')}\n`;
}
