import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  inMaintenanceWindow,
  planRollout,
  type RolloutAction,
  type RolloutDevice,
  type RolloutStrategy,
  type RolloutView,
  waveTarget,
} from './plan.js';

const T0 = Date.UTC(2026, 10, 27, 2, 0); // a Friday, 02:00 UTC
const strategy: RolloutStrategy = {
  canary: 2,
  waves: [0.1, 0.5, 1],
  maxUnavailable: 5,
  deviceTimeoutMs: 600_000,
  soakMs: 60_000,
  minSuccessRate: 0.9,
  abortFailureRate: 0.5,
  abortMinDevices: 2,
};
const view: RolloutView = { phase: 'progressing', startsLastMinute: 0, waveFinishedAt: null };

function fleet(n: number): RolloutDevice[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `d${String(i).padStart(3, '0')}`,
    state: 'pending',
    wave: null,
    since: T0,
  }));
}

function set(devices: RolloutDevice[], state: (i: number) => Partial<RolloutDevice>): void {
  devices.forEach((d, i) => {
    Object.assign(d, state(i));
  });
}

const starts = (actions: RolloutAction[]) => actions.filter((a) => a.kind === 'start').map((a) => a.device);

/** Runs a plan's starts as the controller would, each device ending as `outcome` says. */
function apply(devices: RolloutDevice[], actions: RolloutAction[], now: number): void {
  for (const a of actions) {
    const d = devices.find((x) => 'device' in a && x.name === a.device);
    if (!d) continue;
    if (a.kind === 'start') Object.assign(d, { state: 'updating', wave: a.wave, since: now });
    if (a.kind === 'time-out') Object.assign(d, { state: 'failed', since: now });
    if (a.kind === 'roll-back') Object.assign(d, { state: 'rolling-back', since: now });
  }
}

test('waves: a canary, then growing batches to the whole selection', () => {
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => waveTarget(strategy, 100, i)),
    [2, 10, 50, 100],
  );
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => waveTarget(strategy, 3, i)),
    [2, 2, 2, 3],
  );
});

test('a healthy rollout goes wave by wave, within maxUnavailable, soaking between waves, to completion', () => {
  const devices = fleet(20);
  let now = T0;
  let v: RolloutView = { ...view };
  const startedPerWave: number[] = [];
  for (let step = 0; step < 200; step++) {
    const plan = planRollout(strategy, v, devices, {}, now);
    if (plan.actions.some((a) => a.kind === 'complete')) break;
    const s = starts(plan.actions);
    assert.ok(s.length <= strategy.maxUnavailable, 'never more than maxUnavailable at once');
    if (s.length > 0) startedPerWave[plan.wave] = (startedPerWave[plan.wave] ?? 0) + s.length;
    apply(devices, plan.actions, now);
    now += 10_000;
    // Every updating device succeeds 10 s later.
    for (const d of devices) if (d.state === 'updating') Object.assign(d, { state: 'succeeded', since: now });
    const waveDone = devices.every((d) => d.state !== 'updating');
    v = { ...v, waveFinishedAt: waveDone ? (v.waveFinishedAt ?? now) : null };
    if (s.length > 0) v.waveFinishedAt = null;
  }
  assert.ok(devices.every((d) => d.state === 'succeeded'));
  assert.equal(startedPerWave[0], 2, 'the canary');
  assert.equal(
    startedPerWave.reduce((a, b) => a + (b ?? 0), 0),
    20,
  );
});

test('a bricked canary never reports: it times out, the abort halts the rollout before wave 1', () => {
  const devices = fleet(1000);
  const first = planRollout(strategy, view, devices, {}, T0);
  assert.deepEqual(starts(first.actions), ['d000', 'd001']);
  apply(devices, first.actions, T0);
  // Nothing is heard; the rollout waits for the wave, then times the devices out.
  const waiting = planRollout(strategy, view, devices, {}, T0 + 300_000);
  assert.deepEqual(waiting.actions, []);
  assert.equal(waiting.waiting, 'wave 0 in progress');
  const later = planRollout(strategy, view, devices, {}, T0 + 600_000);
  assert.deepEqual(
    later.actions.map((a) => a.kind),
    ['time-out', 'time-out', 'halt'],
  );
  const halt = later.actions.find((a) => a.kind === 'halt');
  assert.match(halt?.kind === 'halt' ? halt.reason : '', /2 of 2 finished devices failed/);
  assert.equal(devices.filter((d) => d.state !== 'pending').length / devices.length, 0.002, '0.2 % got it');
});

test('the abort criterion acts mid-wave and rolls back every device that took the new version', () => {
  const devices = fleet(100);
  const s: RolloutStrategy = { ...strategy, canary: 10, maxUnavailable: 10, abortMinDevices: 4, abortFailureRate: 0.5 };
  apply(devices, planRollout(s, view, devices, {}, T0).actions, T0);
  // 3 failed, 1 succeeded, 6 still updating: 75 % of 4 finished.
  set(devices.slice(0, 3), () => ({ state: 'failed' }));
  Object.assign(devices[3] as RolloutDevice, { state: 'succeeded' });
  const plan = planRollout(s, view, devices, {}, T0 + 1000);
  assert.equal(plan.actions[0]?.kind, 'halt');
  assert.deepEqual(
    plan.actions.filter((a) => a.kind === 'roll-back').map((a) => (a.kind === 'roll-back' ? a.device : '')),
    ['d003', 'd004', 'd005', 'd006', 'd007', 'd008', 'd009'],
  );
  assert.equal(planRollout(s, { ...view, phase: 'halted' }, devices, {}, T0 + 2000).actions.length, 0);
});

test('gates between waves: the success rate, and behaviour against the devices not yet updated', () => {
  const s: RolloutStrategy = {
    ...strategy,
    canary: 10,
    maxUnavailable: 10,
    abortFailureRate: 0.9,
    behaviour: [{ signal: 'module_crashes', maxRatio: 2 }],
  };
  const devices = fleet(100);
  apply(devices, planRollout(s, view, devices, {}, T0).actions, T0);
  set(devices.slice(0, 10), (i) => ({ state: i < 2 ? 'failed' : 'succeeded' }));
  const low = planRollout(s, view, devices, {}, T0 + 100_000);
  assert.equal(low.actions[0]?.kind, 'halt');
  assert.match(low.actions[0]?.kind === 'halt' ? low.actions[0].reason : '', /success rate 80 %/);

  set(devices.slice(0, 10), () => ({ state: 'succeeded' }));
  const crashy = planRollout(
    s,
    { ...view, waveFinishedAt: T0 },
    devices,
    { module_crashes: { updated: 3, notUpdated: 0.4 } },
    T0 + 100_000,
  );
  assert.equal(crashy.actions[0]?.kind, 'halt');
  assert.deepEqual(crashy.actions[0]?.kind === 'halt' ? crashy.actions[0].evidence : {}, {
    signal: 'module_crashes',
    updated: 3,
    notUpdated: 0.4,
    allowed: 1.3,
  });
  const fine = planRollout(
    s,
    { ...view, waveFinishedAt: T0 },
    devices,
    { module_crashes: { updated: 0.5, notUpdated: 0.4 } },
    T0 + 100_000,
  );
  // Wave 1 (10 %) is reached by the canary of 10 already: the next wave that adds devices starts.
  assert.equal(fine.wave, 2);
  assert.equal(starts(fine.actions).length, 10);
});

test('a metric whose fall is the regression: the updated devices under minRatio times the others halt it', () => {
  const s: RolloutStrategy = {
    ...strategy,
    canary: 10,
    maxUnavailable: 10,
    behaviour: [{ signal: 'metric:flow', minRatio: 0.9, slack: 0 }],
  };
  const devices = fleet(100);
  apply(devices, planRollout(s, view, devices, {}, T0).actions, T0);
  set(devices.slice(0, 10), () => ({ state: 'succeeded' }));
  const after = (updated: number) =>
    planRollout(
      s,
      { ...view, waveFinishedAt: T0 },
      devices,
      { 'metric:flow': { updated, notUpdated: 40, updatedDevices: 10, notUpdatedDevices: 90 } },
      T0 + 100_000,
    );
  const fell = after(30);
  assert.equal(fell.actions[0]?.kind, 'halt');
  assert.match(
    fell.actions[0]?.kind === 'halt' ? fell.actions[0].reason : '',
    /metric:flow: 30 on updated .* 40 .*at least 36/,
  );
  assert.deepEqual(fell.actions[0]?.kind === 'halt' ? fell.actions[0].evidence : {}, {
    signal: 'metric:flow',
    updated: 30,
    notUpdated: 40,
    required: 36,
    updatedDevices: 10,
    notUpdatedDevices: 90,
  });
  // At the floor, or above the others (a floor alone sets no ceiling): the next wave starts.
  for (const updated of [36, 80]) {
    const next = after(updated);
    assert.equal(next.actions[0]?.kind, 'start', String(updated));
    assert.equal(next.wave, 2);
  }
});

test('soak, pause, the rate limit and maintenance windows hold starts back', () => {
  const devices = fleet(50);
  set(devices.slice(0, 2), () => ({ state: 'succeeded', wave: 0 }));
  assert.equal(
    planRollout(strategy, { ...view, waveFinishedAt: T0 }, devices, {}, T0 + 30_000).waiting,
    'soaking after wave 0',
  );
  const next = planRollout(strategy, { ...view, waveFinishedAt: T0 }, devices, {}, T0 + 60_000);
  assert.deepEqual(starts(next.actions), ['d002', 'd003', 'd004']);
  assert.equal(next.wave, 1);
  assert.equal(planRollout(strategy, { ...view, phase: 'paused' }, devices, {}, T0 + 60_000).waiting, 'paused');
  const limited = { ...strategy, startsPerMinute: 3 };
  const soaked = { ...view, waveFinishedAt: T0 };
  assert.equal(
    planRollout(limited, { ...soaked, startsLastMinute: 3 }, devices, {}, T0 + 60_000).waiting,
    'rate limit',
  );
  const nights = { ...strategy, maintenanceWindows: [{ startMinute: 22 * 60, endMinute: 4 * 60 }] };
  assert.equal(planRollout(nights, soaked, devices, {}, T0 + 60_000).waiting, null, '02:01 is inside 22:00-04:00');
  assert.equal(planRollout(nights, soaked, devices, {}, T0 + 3 * 3_600_000).waiting, 'outside the maintenance windows');
});

test('maintenance windows: days, and windows across midnight', () => {
  const w = [{ days: [5], startMinute: 23 * 60, endMinute: 60 }]; // Friday 23:00 to Saturday 01:00
  assert.equal(inMaintenanceWindow(w, Date.UTC(2026, 10, 27, 23, 30)), true);
  assert.equal(inMaintenanceWindow(w, Date.UTC(2026, 10, 28, 0, 30)), true, 'Saturday 00:30 belongs to Friday night');
  assert.equal(inMaintenanceWindow(w, Date.UTC(2026, 10, 28, 23, 30)), false, 'Saturday night is not a window');
  assert.equal(inMaintenanceWindow(undefined, T0), true);
});

test('a wave that has just finished soaks from now, even when its last device finished by timing out', () => {
  const devices = fleet(20);
  set(devices.slice(0, 1), () => ({ state: 'succeeded', wave: 0 }));
  set(devices.slice(1, 2), () => ({ state: 'updating', wave: 0, since: T0 }));
  const s: RolloutStrategy = { ...strategy, abortMinDevices: 5, minSuccessRate: 0.5 };
  const plan = planRollout(s, view, devices, {}, T0 + strategy.deviceTimeoutMs);
  assert.deepEqual(
    plan.actions.map((a) => a.kind),
    ['time-out'],
  );
  assert.equal(plan.waiting, 'soaking after wave 0');
  assert.equal(planRollout({ ...s, soakMs: 0 }, view, devices, {}, T0).waiting, 'wave 0 in progress');
});

test('the last wave has a gate too: a bad last wave halts the rollout instead of completing it', () => {
  const devices = fleet(10);
  set(devices, (i) => ({ state: i < 3 ? 'failed' : 'succeeded', wave: 1 }));
  const s: RolloutStrategy = { ...strategy, abortFailureRate: 0.5, minSuccessRate: 0.9 };
  const plan = planRollout(s, { ...view, waveFinishedAt: T0 }, devices, {}, T0 + 120_000);
  assert.equal(plan.actions.find((a) => a.kind === 'halt')?.kind, 'halt');
  assert.equal(
    plan.actions.some((a) => a.kind === 'complete'),
    false,
  );
  set(devices, () => ({ state: 'succeeded' }));
  const ok = planRollout(s, { ...view, waveFinishedAt: T0 }, devices, {}, T0 + 120_000);
  assert.deepEqual(ok.actions, [{ kind: 'complete' }]);
  assert.deepEqual(planRollout(s, { ...view, phase: 'paused' }, devices, {}, T0).actions, [{ kind: 'complete' }]);
});
