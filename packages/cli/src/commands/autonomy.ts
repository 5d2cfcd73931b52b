// `homeostat autonomy`: the degree each self-management property runs at, per scope, and what
// each degree did: how often it acted, was overruled (rejected or left to expire) or escalated.

import type { AutonomySettings } from '@homeostat/protocol';
import type { Command } from 'commander';
import { contextOf, outputOption } from '../context.js';
import { formatTable, printOutput } from '../format.js';
import type { CliIo } from '../io.js';

export function registerAutonomy(program: Command, io: CliIo): void {
  program
    .command('autonomy')
    .description('how far each self-management property may go on its own, and what each degree did')
    .addOption(outputOption())
    .action(async (_opts: unknown, command: Command) => {
      const ctx = contextOf(io, command);
      const settings = await (await ctx.client()).getAutonomy();
      printOutput(io, ctx.output, settings, () => describeAutonomy(settings));
    });
}

export function describeAutonomy(a: AutonomySettings): string {
  const fleet = formatTable(
    ['PROPERTY', 'FLEET DEGREE', 'FROM'],
    a.status.fleet.map((f) => [f.property, f.degree, f.source]),
  );
  const scopeOf = (s: AutonomySettings['spec']['rules'][number]['scope']) =>
    s === 'fleet' ? 'fleet' : 'site' in s ? `site=${s.site}` : `device/${s.device}`;
  const rules =
    a.spec.rules.length === 0
      ? 'No rules: destructive actions (quarantine, rotate-credentials, rollback-module) wait for approval, the rest act.\n'
      : formatTable(
          ['SCOPE', 'PROPERTY', 'DEGREE'],
          a.spec.rules.map((r) => [scopeOf(r.scope), r.property ?? '(all)', r.degree]),
        );
  const approval = a.spec.approval ?? {};
  const deadline = `Approvals wait ${(approval.deadlineMs ?? 900_000) / 60_000} min, then ${approval.default ?? 'reject'}.\n`;
  const record =
    a.status.record.length === 0
      ? 'No decisions yet.\n'
      : formatTable(
          ['PROPERTY', 'DEGREE', 'DECISIONS', 'ACTED', 'OVERRULED', 'ESCALATED', 'HELD'],
          a.status.record.map((r) => [
            r.property,
            r.degree,
            String(r.decisions),
            String(r.acted),
            String(r.overruled),
            String(r.escalated),
            String(r.held),
          ]),
        );
  return `${fleet}\nRules (the most specific scope wins: device, site, fleet):\n${rules}${deadline}\nRecord:\n${record}`;
}
