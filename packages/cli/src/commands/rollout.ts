// `homeostat rollout status|pause|resume|undo|history NAME`, and the table of `get rollouts`.
// `status -w` polls the hub every second and prints the progress again whenever it changes, until
// the revision finishes (exit 1 when it halted) or Ctrl-C. The status says plainly what a halt
// leaves behind: a device that committed the version cannot go back to an older one.

import { type Rollout, type RolloutDryRun, type RolloutHistory, routes } from '@homeostat/protocol';
import type { Command } from 'commander';
import { parseInteger, parseName } from '../args.js';
import { contextOf, outputOption } from '../context.js';
import { CliError } from '../errors.js';
import { formatDuration, formatInstant, formatTable, printOutput } from '../format.js';
import type { CliIo } from '../io.js';

/** Poll interval of `status -w`, ms. */
const WATCH_MS = 1000;
const BAR = 24;
const FINISHED = new Set(['complete', 'halted', 'undone', 'superseded']);

export function registerRollout(program: Command, io: CliIo): void {
  const rollout = program.command('rollout').description('follow and steer rollouts of signed artifacts');

  rollout
    .command('status')
    .description('progress of the current revision: a bar per wave, counts, the phase, why it halted')
    .argument('<name>', 'a rollout name')
    .option('-w, --watch', 'refresh every second until the revision completes or halts (or Ctrl-C)')
    .addOption(outputOption())
    .action(async (name: string, opts: { watch?: boolean }, command: Command) => {
      const ctx = contextOf(io, command);
      const client = await ctx.client();
      let last = '';
      for (;;) {
        const r = await client.getRollout(parseName('rollout', name));
        const text = ctx.output === 'table' ? describeRollout(r, io.now()) : '';
        if (ctx.output !== 'table' || text !== last)
          printOutput(io, ctx.output, r, () => (last === '' ? text : `\n${text}`));
        last = text;
        if (!opts.watch) return;
        if (FINISHED.has(r.status.phase)) {
          if (r.status.phase !== 'complete') {
            throw new CliError(`rollout ${name} revision ${r.status.revision} is ${r.status.phase}`);
          }
          return;
        }
        await io.sleep(WATCH_MS);
      }
    });

  for (const action of ['pause', 'resume'] as const) {
    rollout
      .command(action)
      .description(action === 'pause' ? 'start no more devices (those updating carry on)' : 'start devices again')
      .argument('<name>', 'a rollout name')
      .addOption(outputOption())
      .action(async (name: string, _opts: unknown, command: Command) => {
        const ctx = contextOf(io, command);
        const path = action === 'pause' ? routes.rolloutPause : routes.rolloutResume;
        const r = await (await ctx.client()).rolloutAction(path(parseName('rollout', name)));
        printOutput(io, ctx.output, r, () => `rollout/${name} ${r.status.phase} (revision ${r.status.revision})\n`);
      });
  }

  rollout
    .command('undo')
    .description(
      "target an earlier revision's artifact again, as a new revision (devices never install an older version than they run)",
    )
    .argument('<name>', 'a rollout name')
    .option('--to-revision <n>', 'the revision to go back to (default: the one before)')
    .addOption(outputOption())
    .action(async (name: string, opts: { toRevision?: string }, command: Command) => {
      const ctx = contextOf(io, command);
      const body =
        opts.toRevision === undefined ? {} : { toRevision: parseInteger('--to-revision', opts.toRevision, 1) };
      const r = await (await ctx.client()).rolloutAction(routes.rolloutUndo(parseName('rollout', name)), body);
      printOutput(io, ctx.output, r, () => {
        const { artifact } = r.spec;
        let text = `rollout/${name} undone: revision ${r.status.revision} targets ${artifact.name} ${artifact.version}\n`;
        if (r.status.counts.ahead > 0) text += `${aheadNote(r.status.counts.ahead)}\n`;
        return text;
      });
    });

  rollout
    .command('history')
    .description('every revision: artifact, phase, outcome, why it halted')
    .argument('<name>', 'a rollout name')
    .addOption(outputOption())
    .action(async (name: string, _opts: unknown, command: Command) => {
      const ctx = contextOf(io, command);
      const h = await (await ctx.client()).rolloutHistory(parseName('rollout', name));
      printOutput(io, ctx.output, h, () => historyTable(h, io.now()));
    });
}

export function rolloutTable(items: readonly Rollout[], now: number): string {
  return formatTable(
    ['NAME', 'REVISION', 'ARTIFACT', 'PHASE', 'WAVE', 'SUCCEEDED', 'FAILED', 'AGE'],
    items.map((r) => [
      r.metadata.name,
      String(r.status.revision),
      `${r.spec.artifact.name} ${r.spec.artifact.version}`,
      r.status.phase,
      `${r.status.wave}/${r.status.waves.length - 1}`,
      `${r.status.counts.succeeded}/${r.status.counts.eligible}`,
      String(r.status.counts.failed),
      formatDuration(now - r.metadata.createdAt),
    ]),
  );
}

function historyTable(h: RolloutHistory, now: number): string {
  return formatTable(
    ['REVISION', 'ARTIFACT', 'PHASE', 'AGE', 'SUCCEEDED', 'FAILED', 'STRANDED', 'NOTE'],
    h.items.map((r) => [
      String(r.revision),
      `${r.artifact.name} ${r.artifact.version}`,
      r.phase,
      formatDuration(now - r.createdAt),
      String(r.counts?.succeeded ?? '-'),
      String(r.counts?.failed ?? '-'),
      String(r.counts?.stranded ?? '-'),
      r.halt !== null ? `halted: ${r.halt.reason}` : r.undoOf !== null ? `undo to revision ${r.undoOf}` : '',
    ]),
  );
}

/** `#` succeeded, `x` failed, `~` updating, `.` not started: the wave's devices, scaled to the bar. */
function bar(w: Rollout['status']['waves'][number]): string {
  const total = Math.max(w.targeted, w.started, 1);
  const cells = (n: number) => Math.round((n / total) * BAR);
  const ok = cells(w.succeeded);
  const bad = Math.min(BAR - ok, cells(w.failed));
  const busy = Math.min(BAR - ok - bad, cells(w.updating));
  return `[${'#'.repeat(ok)}${'x'.repeat(bad)}${'~'.repeat(busy)}${'.'.repeat(BAR - ok - bad - busy)}]`;
}

export function describeRollout(r: Rollout, now: number): string {
  const s = r.status;
  const c = s.counts;
  const lines = [
    `rollout/${r.metadata.name}  revision ${s.revision}  ${r.spec.artifact.name} ${r.spec.artifact.version}  ${s.phase}${s.waiting ? ` (${s.waiting})` : ''}`,
    `selector ${r.spec.selector || '<every device>'}: ${c.targeted} targeted, ${c.eligible} to update, ${c.succeeded} succeeded, ${c.failed} failed, ${c.updating} updating, ${c.pending} pending`,
  ];
  const skipped = [
    [c.current, 'already on it'],
    [c.ahead, 'on a newer version'],
    [c.otherModel, 'of another model'],
    [c.held, 'held by another rollout'],
  ].filter(([n]) => (n as number) > 0);
  if (skipped.length > 0) lines.push(`skipped: ${skipped.map(([n, why]) => `${n} ${why}`).join(', ')}`);
  for (const w of s.waves) {
    const label = w.index === 0 ? 'canary' : `wave ${w.index}`;
    const rolled = w.rolledBack > 0 ? `, ${w.rolledBack} rolled back` : '';
    lines.push(
      `${label.padEnd(7)} ${bar(w)} ${w.started}/${w.targeted} started, ${w.succeeded} ok, ${w.failed} failed${rolled}`,
    );
  }
  if (s.halt !== null) {
    const evidence = Object.entries(s.halt.evidence)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    lines.push(`halted ${formatInstant(s.halt.at, now)}: ${s.halt.reason}`, `  evidence: ${evidence}`);
  }
  if (c.stranded > 0) {
    lines.push(
      `  ${c.stranded} ${c.stranded === 1 ? 'device' : 'devices'} committed ${r.spec.artifact.version} and cannot be rolled back (a device never installs an older version): release a fixed, higher version and apply it as a new revision`,
    );
  }
  if (c.rollbackRequested > 0) {
    lines.push(
      `  ${c.rollbackRequested} still updating: the update was withdrawn; one on trial rolls back by itself if its probe fails`,
    );
  }
  if (c.ahead > 0 && s.phase !== 'halted') lines.push(`  ${aheadNote(c.ahead)}`);
  return `${lines.join('\n')}\n`;
}

function aheadNote(n: number): string {
  return `${n} ${n === 1 ? 'device runs' : 'devices run'} a newer version and stay${n === 1 ? 's' : ''} on it (no downgrade): a fixed, higher version moves them`;
}

export function describeRolloutDryRun(ref: string, d: RolloutDryRun): string {
  const verb = d.created
    ? 'created'
    : d.newRevision
      ? `configured as revision ${d.rollout.status.revision}`
      : 'configured';
  const lines = [
    `${ref} would be ${verb} (dry run): ${d.rollout.spec.artifact.name} ${d.rollout.spec.artifact.version}`,
  ];
  for (const w of d.waves) {
    const shown =
      w.devices.slice(0, 10).join(', ') + (w.devices.length > 10 ? `, and ${w.devices.length - 10} more` : '');
    lines.push(
      `  ${w.index === 0 ? 'canary' : `wave ${w.index}`}: ${w.devices.length} ${w.devices.length === 1 ? 'device' : 'devices'}${shown ? `: ${shown}` : ''}`,
    );
  }
  for (const [key, why] of [
    ['current', 'already on it'],
    ['ahead', 'on a newer version'],
    ['otherModel', 'of another model'],
    ['held', 'held by another rollout'],
  ] as const) {
    if (d.excluded[key].length > 0) lines.push(`  skipped, ${why}: ${d.excluded[key].join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}
