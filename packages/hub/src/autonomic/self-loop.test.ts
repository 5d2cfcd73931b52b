import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '@homeostat/kit';
import type { AutonomySpec, Decision, PolicySpec } from '@homeostat/protocol';
import type { RetentionJob } from '../controllers/retention.js';
import type { Backpressure } from '../ingest/backpressure.js';
import { createMetrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import type { ActionDeps } from './execute.js';
import { runAction } from './execute.js';
import { HubModes } from './hub-modes.js';
import { transition } from './plan.js';
import { SelfLoop } from './self-loop.js';

const spec: PolicySpec = {
  property: 'self-optimization',
  scope: 'hub',
  trigger: { kind: 'hub', metric: 'controller-lag-ms', above: 1000, clearAt: 200, forMs: 500 },
  analysis: { symptom: 'controllers-behind' },
  plan: [{ action: 'shed-work', work: 'hub-placement' }],
  verify: { check: 'cleared', withinMs: 60_000 },
  cooldownMs: 0,
};

/** A hub loop over decisions kept in an array, its modes pausing a flag. */
function setup(autonomy?: AutonomySpec) {
  const clock = new FakeClock(1_000_000);
  const paused = { placement: false };
  const metrics = createMetrics();
  const hub = new HubModes({
    metrics,
    retention: {} as RetentionJob,
    backpressure: {} as Backpressure,
    work: {
      'hub-placement': {
        setPaused: (p) => {
          paused.placement = p;
        },
      },
      'controller-resync': { setPaused: () => {} },
    },
  });
  const decisions: Decision[] = [];
  const deps = { clock, hub, store: {} as Store } as unknown as ActionDeps & { store: Store };
  const work: Promise<void>[] = [];
  const save = async (d: Decision) => {
    const i = decisions.findIndex((x) => x.id === d.id);
    if (i >= 0) decisions[i] = d;
    else decisions.unshift(d);
    return d;
  };
  const host: ConstructorParameters<typeof SelfLoop>[0] = {
    deps,
    policies: () => [{ name: 'shed', spec }],
    autonomy: () => autonomy,
    enqueue: (fn) => void work.push(fn()),
    save,
    // The manager's execute, in short: every action, then verifying.
    async execute(d) {
      const actions = [];
      for (const a of d.actions) actions.push((await runAction(deps, d, a)).action);
      const now = clock.now();
      const verification = {
        check: 'cleared' as const,
        deadline: now + 60_000,
        outcome: 'pending' as const,
        at: null,
        detail: null,
      };
      return save(transition({ ...d, actions, verification }, 'succeeded', now, 'done'));
    },
    recent: async () => [...decisions],
    log: () => {},
  };
  let loop = new SelfLoop(host);
  const sample = async (value: number, afterMs = 0) => {
    await clock.advance(afterMs);
    loop.onSignal({ kind: 'hub', metric: 'controller-lag-ms', value, at: clock.now(), evidence: {} });
    await Promise.all(work.splice(0));
  };
  /** The hub restarted: a new loop over the same records, nothing held. */
  const restart = async () => {
    paused.placement = false;
    loop = new SelfLoop(host);
    await loop.reset();
  };
  return { loop: () => loop, decisions, paused, sample, modes: hub, restart };
}

test('hub loop: fires once held for forMs, holds its mode through the hysteresis band, undoes and verifies when cleared', async () => {
  const { loop: current, decisions, paused, sample } = setup();
  const loop = current();
  await sample(1500);
  assert.equal(decisions.length, 0, 'not held long enough yet');
  await sample(1500, 499);
  assert.equal(decisions.length, 0);
  await sample(1500, 1);
  assert.equal(decisions.length, 1);
  const [d] = decisions;
  assert.equal(d?.state, 'succeeded');
  assert.equal(d?.degree, 'act');
  assert.equal(d?.actions[0]?.result, 'models placed in the hub paused');
  assert.equal(paused.placement, true);
  assert.ok(loop.firing('shed'));

  // Under the threshold but over clearAt: still the same symptom, nothing undone, no new decision.
  await sample(800, 1000);
  await sample(1200, 1000);
  assert.equal(decisions.length, 1);
  assert.equal(paused.placement, true);

  await sample(150, 1000);
  assert.equal(paused.placement, false);
  const cleared = decisions[0];
  assert.equal(cleared?.state, 'verified');
  assert.deepEqual(
    cleared?.actions.map((a) => `${a.action}${a.params.undo ? ' undo' : ''} ${a.state}: ${a.result}`),
    ['shed-work done: models placed in the hub paused', 'shed-work undo done: models placed in the hub resumed'],
  );
  assert.match(
    cleared?.history.at(-1)?.note ?? '',
    /the symptom cleared: controller-lag-ms is 150, back past 200; undone: shed-work/,
  );

  // A second episode is a second decision.
  await sample(5000, 1000);
  await sample(5000, 500);
  assert.equal(decisions.length, 2);
  assert.equal(paused.placement, true);
});

test('hub loop: at degree observe the decision is recorded and the hub is left alone', async () => {
  const { decisions, paused, sample } = setup({
    rules: [{ scope: 'fleet', property: 'self-optimization', degree: 'observe' }],
  });
  await sample(1500);
  await sample(1500, 500);
  const [d] = decisions;
  assert.equal(d?.state, 'proposed');
  assert.equal(d?.degree, 'observe');
  assert.equal(d?.actions[0]?.state, 'not-executed');
  assert.equal(paused.placement, false);
  await sample(0, 1000);
  assert.equal(decisions[0]?.actions.length, 1, 'nothing to undo');
  assert.equal(paused.placement, false);
});

test('hub modes: a mode held by two decisions lifts when the last lets go', async () => {
  const { paused, modes } = setup();
  const shed = { action: 'shed-work' as const, params: { work: 'hub-placement' } };
  await modes.apply('dec-1', shed);
  await modes.apply('dec-2', shed);
  assert.deepEqual(modes.held, { 'shed-hub-placement': ['dec-1', 'dec-2'] });
  assert.equal(await modes.release('dec-1', shed), 'models placed in the hub paused (still held by dec-2)');
  assert.equal(paused.placement, true);
  assert.equal(await modes.release('dec-2', shed), 'models placed in the hub resumed');
  assert.equal(paused.placement, false);
  assert.match(await modes.release('dec-2', shed), /was not held by dec-2 \(the hub restarted since\)/);
});

test('hub loop: after a restart a decision holds nothing; a symptom still there makes a new one', async () => {
  const { decisions, paused, sample, restart } = setup();
  await sample(1500);
  await sample(1500, 500);
  assert.equal(paused.placement, true);
  await restart();
  const [before] = decisions;
  assert.equal(before?.actions.at(-1)?.result, 'the hub restarted: it starts as configured');
  assert.equal(before?.actions.at(-1)?.params.undo, true);
  assert.match(before?.history.at(-1)?.note ?? '', /the hub restarted: shed-work no longer held/);
  // Still behind: the restarted hub sheds the work again, in a decision of its own.
  await sample(1500, 1000);
  await sample(1500, 500);
  assert.equal(decisions.length, 2);
  assert.equal(paused.placement, true);
});
