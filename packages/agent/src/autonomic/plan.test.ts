// The device loop's planner, on plans: safe mode after the link is down long enough and back,
// the battery guard cooperating with a module, the watchdog's limit, adaptive sampling's bounds,
// the degrees, and the policies parsed from the desired state.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { initialKnowledge, type Knowledge, type LoopSignal, planLoop } from './plan.js';
import { type LoopPolicies, parseLoopPolicies } from './policies.js';

const HEARTBEAT_MS = 1000;

function policies(desired: Record<string, unknown>): LoopPolicies {
  const { policies, problems } = parseLoopPolicies(desired);
  assert.deepEqual(problems, []);
  return policies;
}

/** Runs the signals in order from fresh knowledge; returns the codes decided and the knowledge. */
function run(p: LoopPolicies, signals: [number, LoopSignal][], k: Knowledge = initialKnowledge(0, 1000)) {
  const decided = [];
  for (const [now, signal] of signals) {
    const out = planLoop(k, p, signal, now, HEARTBEAT_MS);
    k = out.knowledge;
    decided.push(...out.decisions);
  }
  return { decided, k };
}

const HEATER_SAFE = { safeMode: { desired: { mode: 'auto', setpoint: 19 } } };

describe('device loop planner: safe mode', () => {
  test('enters after three heartbeats without the link, once, and leaves when it is back', () => {
    const p = policies(HEATER_SAFE);
    const { decided, k } = run(p, [
      [0, { kind: 'link', up: true }],
      [5000, { kind: 'link', up: false }],
      [7000, { kind: 'tick' }],
      [8000, { kind: 'tick' }],
      [9000, { kind: 'tick' }],
      [20_000, { kind: 'link', up: true }],
    ]);
    assert.deepEqual(
      decided.map((d) => `${d.code} ${JSON.stringify(d.plan)}`),
      [
        'SAFE_MODE_ENTERED [{"op":"apply-desired","overlay":{"mode":"auto","setpoint":19}}]',
        'SAFE_MODE_EXITED [{"op":"restore-desired"}]',
      ],
    );
    assert.equal(decided[0]?.degree, 'act');
    assert.deepEqual(decided[0]?.trigger, { kind: 'link', state: 'down', forMs: 3000, afterMs: 3000 });
    assert.equal(k.safeMode, false);
  });

  test('a mower docks by its actuator; a short outage changes nothing', () => {
    const p = policies({ safeMode: { afterMs: 10_000, actuate: { mode: 'dock' } } });
    assert.deepEqual(
      run(p, [
        [0, { kind: 'link', up: false }],
        [9000, { kind: 'tick' }],
        [9500, { kind: 'link', up: true }],
      ]).decided,
      [],
    );
    const { decided } = run(p, [
      [0, { kind: 'link', up: false }],
      [10_000, { kind: 'tick' }],
    ]);
    assert.deepEqual(decided[0]?.plan, [
      { op: 'apply-desired', overlay: {} },
      { op: 'actuate', actuator: 'mode', value: 'dock' },
    ]);
  });

  test('the degree comes from autonomy; under observe the exit is still decided once', () => {
    const p = policies({ ...HEATER_SAFE, autonomy: { safeMode: 'observe' } });
    const { decided } = run(p, [
      [3000, { kind: 'tick' }],
      [4000, { kind: 'tick' }],
      [5000, { kind: 'link', up: true }],
    ]);
    assert.deepEqual(
      decided.map((d) => `${d.code} ${d.degree}`),
      ['SAFE_MODE_ENTERED observe', 'SAFE_MODE_EXITED observe'],
    );
  });
});

const GUARD = {
  batteryGuard: {
    below: 15,
    resumeAbove: 90,
    actuate: { mode: 'dock' },
    resume: { mode: 'mow' },
    homeWhen: { metric: 'state', in: [0, 2, 3] },
  },
};
const MOWING = 1;
const RETURNING = 2;

describe('device loop planner: battery guard', () => {
  test('no module sent it home: the guard docks it, then resumes it once charged', () => {
    const { decided } = run(policies(GUARD), [
      [0, { kind: 'sample', metrics: { battery: 20, state: MOWING } }],
      [1000, { kind: 'sample', metrics: { battery: 14.9, state: MOWING } }],
      [2000, { kind: 'sample', metrics: { battery: 14.8, state: RETURNING } }],
      [3000, { kind: 'sample', metrics: { battery: 50, state: 3 } }],
      [4000, { kind: 'sample', metrics: { battery: 90.1, state: 3 } }],
    ]);
    assert.deepEqual(
      decided.map((d) => `${d.code} ${JSON.stringify(d.plan)}`),
      [
        'BATTERY_GUARD_RETURN [{"op":"actuate","actuator":"mode","value":"dock"}]',
        'BATTERY_GUARD_RESUMED [{"op":"actuate","actuator":"mode","value":"mow"}]',
      ],
    );
  });

  test('a module already acted: the guard defers, says so once, and adds nothing', () => {
    const { decided } = run(policies(GUARD), [
      [0, { kind: 'event', event: { type: 'action', code: 'RETURN_TO_BASE', data: { rule: 'mower-return-to-base' } } }],
      [1000, { kind: 'sample', metrics: { battery: 14, state: MOWING } }],
      [2000, { kind: 'sample', metrics: { battery: 13, state: RETURNING } }],
      [3000, { kind: 'sample', metrics: { battery: 95, state: 3 } }],
    ]);
    assert.deepEqual(
      decided.map((d) => d.code),
      ['BATTERY_GUARD_DEFERRED'],
    );
    assert.deepEqual(decided[0]?.plan, []);
    assert.match(decided[0]?.evidence ?? '', /RETURN_TO_BASE by mower-return-to-base/);
  });

  test('deferred, then sent back out while still low (no module acting any more): the guard acts', () => {
    const { decided } = run(policies(GUARD), [
      [0, { kind: 'sample', metrics: { battery: 14, state: RETURNING } }],
      [120_000, { kind: 'sample', metrics: { battery: 13, state: MOWING } }],
    ]);
    assert.deepEqual(
      decided.map((d) => d.code),
      ['BATTERY_GUARD_DEFERRED', 'BATTERY_GUARD_RETURN'],
    );
  });
});

describe('device loop planner: module watchdog', () => {
  const crash = (rev: string): LoopSignal => ({
    kind: 'event',
    event: { type: 'alarm', code: 'MODULE_CRASHED', data: { module: 'flaky', rev } },
  });
  const loop = (rev: string): LoopSignal => ({
    kind: 'event',
    event: { type: 'alarm', code: 'MODULE_CRASH_LOOP', data: { module: 'flaky', rev } },
  });

  test('stops a module after its limit of crashes in the loop; a new rev starts over', () => {
    const p = policies({ watchdog: { stopAfterCrashes: 3 } });
    const signals: [number, LoopSignal][] = [
      [0, crash('a')],
      [1, crash('a')],
      [2, loop('a')],
      [3, crash('a')],
      [4, crash('a')],
      [5, crash('a')],
      [6, crash('b')],
    ];
    const { decided, k } = run(p, signals);
    assert.deepEqual(
      decided.map((d) => `${d.code} ${JSON.stringify(d.plan)}`),
      ['MODULE_STOPPED [{"op":"stop-module","module":"flaky","rev":"a"}]'],
    );
    assert.deepEqual(k.modules.flaky, { rev: 'b', crashesInLoop: 0, stopped: false });
  });
});

describe('device loop planner: adaptive sampling', () => {
  const p = policies({ sampling: { minMs: 1000, maxMs: 8000, tolerance: { temperature: 0.1 }, steadyFor: 2 } });
  const sample = (temperature: number): LoopSignal => ({ kind: 'sample', metrics: { temperature } });

  test('doubles while steady up to maxMs, drops to minMs on a change or an alarm', () => {
    const steady: [number, LoopSignal][] = Array.from({ length: 9 }, (_, i) => [i * 1000, sample(20)]);
    const { decided, k } = run(p, [
      ...steady,
      [10_000, sample(20.5)],
      [11_000, { kind: 'event', event: { type: 'alarm', code: 'ROOM_TOO_COLD' } }],
      [12_000, sample(20.5)],
    ]);
    assert.deepEqual(
      decided.map((d) => `${d.analysis.symptom} ${JSON.stringify(d.plan)}`),
      [
        'steady [{"op":"set-sample-interval","ms":2000}]',
        'steady [{"op":"set-sample-interval","ms":4000}]',
        'steady [{"op":"set-sample-interval","ms":8000}]',
        'changing [{"op":"set-sample-interval","ms":1000}]',
      ],
    );
    // The alarm keeps it fast although the value holds still.
    assert.equal(k.sampling.ms, 1000);
    assert.equal(k.sampling.steady, 0);
  });
});

describe('device loop policies from the desired state', () => {
  test('invalid keys are reported and ignored; the watchdog is on by default and can be turned off', () => {
    const { policies: p, problems } = parseLoopPolicies({
      safeMode: 'yes',
      batteryGuard: { below: 20, resumeAbove: 10, actuate: {} },
      autonomy: { safeMode: 'approve', nope: 'act' },
    });
    assert.deepEqual(problems, [
      'safeMode: must be an object',
      'batteryGuard: below and resumeAbove must be numbers, resumeAbove above below',
      'autonomy.safeMode: degree must be observe | recommend | act',
      'autonomy.nope: unknown device policy (safeMode, batteryGuard, watchdog, sampling)',
    ]);
    assert.equal(p.safeMode, null);
    assert.deepEqual(p.watchdog, { stopAfterCrashes: 5 });
    assert.equal(parseLoopPolicies({ watchdog: false }).policies.watchdog, null);
  });
});
