// The Plan step on its own: pure, asserted on the decisions it returns.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Decision, PolicySpec } from '@homeostat/protocol';
import type { DeviceFacts } from './analyze.js';
import { chooseDegree } from './degree.js';
import { DEMO_AUTONOMY, DEMO_POLICIES } from './demo-policies.js';
import { type PlanInput, type PlanOutcome, peersOf, planDecision } from './plan.js';
import type { DeviceSignal as Signal } from './signals.js';

const NOW = 1_800_000_000_000;
const spec = (name: string): PolicySpec => {
  const p = DEMO_POLICIES.find((x) => x.name === name);
  assert.ok(p, name);
  return p.spec;
};

const fleet: DeviceFacts[] = [
  { name: 'room-01-thermostat', labels: { site: 'home', model: 'th-100', room: 'room-01' } },
  { name: 'room-01-heater', labels: { site: 'home', model: 'ht-200', room: 'room-01' } },
  {
    name: 'room-01-spare',
    labels: { site: 'home', model: 'th-100', room: 'room-01', 'backup-for': 'room-01-thermostat' },
  },
  { name: 'room-02-heater', labels: { site: 'home', model: 'ht-200', room: 'room-02' } },
  { name: 'pump-01', labels: { site: 'plant', model: 'pm-400' } },
];

const silent: Signal = {
  kind: 'liveness',
  device: 'room-01-thermostat',
  state: 'offline',
  since: NOW - 10,
  at: NOW - 10,
  heartbeatMs: 1000,
  lastSeen: NOW - 1900,
  evidence: { kind: 'heartbeat-missed', detail: 'nothing received for 1810 ms' },
};

const bearing: Signal = {
  kind: 'event',
  device: 'pump-01',
  type: 'alarm',
  code: 'BEARING_WEAR',
  at: NOW,
  severity: 'critical',
  message: 'bearing wear',
  data: { rule: 'pump-bearing-alarm' },
};

function input(policy: string, signal: Signal, extra: Partial<PlanInput> = {}): PlanInput {
  const device = fleet.find((d) => d.name === signal.device);
  assert.ok(device);
  return {
    id: 'dec-000000000001',
    now: NOW,
    policy: { name: policy, spec: spec(policy) },
    signal,
    device,
    fleet,
    autonomy: undefined,
    recent: [],
    localActions: [],
    ...extra,
  };
}

function decided(outcome: PlanOutcome): Decision {
  assert.equal(outcome.kind, 'decision', outcome.kind === 'skip' ? outcome.reason : '');
  return (outcome as { decision: Decision }).decision;
}

const steps = (d: Decision) => d.actions.map((a) => `${a.action} ${a.device ?? '-'} ${a.state}`);

describe('plan', () => {
  test('a silent thermostat: its room heater to safe mode, an incident, the hand-over to its labelled backup; act', () => {
    const d = decided(planDecision(input('room-thermostat-silent', silent)));
    assert.equal(d.state, 'executing');
    assert.equal(d.degree, 'act');
    assert.deepEqual(steps(d), [
      'patch-desired room-01-heater planned',
      'open-incident room-01-thermostat planned',
      'hand-over room-01-spare planned',
    ]);
    assert.deepEqual(d.actions[0]?.params, { patch: { mode: 'auto' } });
    assert.deepEqual(d.actions[2]?.params, { from: 'room-01-thermostat' });
    assert.deepEqual(
      d.history.map((h) => h.state),
      ['executing'],
    );
  });

  test('without a labelled backup the hand-over is planned as skipped, saying why', () => {
    const d = decided(
      planDecision(input('room-thermostat-silent', silent, { fleet: fleet.filter((f) => f.name !== 'room-01-spare') })),
    );
    assert.equal(d.actions[2]?.state, 'skipped');
    assert.match(d.actions[2]?.result ?? '', /backup-for=room-01-thermostat matches no device/);
  });

  test('destructive actions wait for approval by default, with a deadline and the stated default', () => {
    const signal: Signal = {
      kind: 'security',
      device: 'pump-01',
      signal: 'auth-failures',
      code: 'ERR_MQTT_AUTH_FAILED',
      message: 'bad',
      at: NOW,
      times: Array(20).fill(NOW),
    };
    const d = decided(planDecision(input('quarantine-on-auth-failures', signal)));
    assert.equal(d.state, 'awaiting-approval');
    assert.deepEqual(d.approval, { deadline: NOW + 900_000, default: 'reject', by: null, at: null, reason: null });
    const configured = decided(
      planDecision(
        input('quarantine-on-auth-failures', signal, {
          autonomy: { rules: [], approval: { deadlineMs: 5000, default: 'approve' } },
        }),
      ),
    );
    assert.equal(configured.approval?.deadline, NOW + 5000);
    assert.equal(configured.approval?.default, 'approve');
  });

  test('observe records only; recommend proposes the plan', () => {
    const observe = decided(
      planDecision(
        input('pump-bearing-wear', bearing, { autonomy: { rules: [{ scope: 'fleet', degree: 'observe' }] } }),
      ),
    );
    assert.equal(observe.state, 'proposed');
    assert.deepEqual(steps(observe), ['patch-desired pump-01 not-executed', 'work-order pump-01 not-executed']);
    const recommend = decided(
      planDecision(
        input('pump-bearing-wear', bearing, {
          autonomy: { rules: [{ scope: { site: 'plant' }, degree: 'recommend' }] },
        }),
      ),
    );
    assert.equal(recommend.state, 'proposed');
    assert.equal(recommend.degreeSource, 'autonomy rule for site plant');
    assert.deepEqual(steps(recommend), ['patch-desired pump-01 planned', 'work-order pump-01 planned']);
  });

  test('rolling a module back acts at the degree of its property, on the module the trigger names', () => {
    const signal: Signal = {
      kind: 'module-crash-loop',
      device: 'pump-01',
      module: 'pump-bearing-alarm',
      at: NOW,
      evidence: {},
    };
    const d = decided(planDecision(input('module-crash-loop-rollback', signal, { autonomy: DEMO_AUTONOMY })));
    assert.equal(d.degree, 'act');
    assert.equal(d.state, 'executing');
    assert.deepEqual(
      d.actions.map((a) => [a.action, a.device, a.params.module]),
      [
        ['rollback-module', 'pump-01', 'pump-bearing-alarm'],
        ['open-incident', 'pump-01', undefined],
      ],
    );
    // Without an autonomy rule, a rollback is destructive: it waits for a person.
    const waits = decided(planDecision(input('module-crash-loop-rollback', signal)));
    assert.equal(waits.state, 'awaiting-approval');
    assert.match(waits.degreeSource, /default for destructive actions \(rollback-module\)/);
  });

  test('an open decision or the cooldown skips; after the cooldown a new decision is made', () => {
    const first = decided(planDecision(input('pump-bearing-wear', bearing)));
    const open = { ...first, state: 'awaiting-approval' as const };
    assert.match(
      (planDecision(input('pump-bearing-wear', bearing, { recent: [open] })) as { reason: string }).reason,
      /still awaiting-approval/,
    );
    const done = { ...first, state: 'verified' as const };
    assert.match(
      (planDecision(input('pump-bearing-wear', bearing, { recent: [done] })) as { reason: string }).reason,
      /cooling down/,
    );
    const later = planDecision(input('pump-bearing-wear', bearing, { recent: [done], now: NOW + 3_600_000 }));
    assert.equal(later.kind, 'decision');
  });

  test('a rate limit holds for good once the policy acted that often in the window', () => {
    const other = (id: string, device: string): Decision => ({
      ...decided(planDecision(input('room-thermostat-silent', silent))),
      id,
      trigger: { kind: 'liveness', device, at: NOW, summary: '', evidence: {} },
      state: 'succeeded',
    });
    const recent = Array.from({ length: 10 }, (_, i) => other(`dec-${i}`, `room-x${i}`));
    const d = decided(planDecision(input('room-thermostat-silent', silent, { recent })));
    assert.equal(d.state, 'held');
    assert.equal(d.hold?.until, null);
    assert.match(
      d.hold?.reason ?? '',
      /rate limit: 10 decisions of room-thermostat-silent acted in the last 60 s \(at most 10\)/,
    );
  });

  test("a device's own recent decision holds the fleet until its cooldown passes, unless it is the trigger's own rule", () => {
    const own = { device: 'pump-01', at: NOW - 1000, code: 'RULE_ACTIVATED', rule: 'pump-bearing-alarm' };
    assert.equal(
      decided(planDecision(input('pump-bearing-wear', bearing, { localActions: [own] }))).state,
      'executing',
    );
    const other = { device: 'pump-01', at: NOW - 1000, code: 'RULE_ACTIVATED', rule: 'speed-limiter' };
    const d = decided(planDecision(input('pump-bearing-wear', bearing, { localActions: [other] })));
    assert.equal(d.state, 'held');
    assert.equal(d.hold?.until, NOW - 1000 + 3_600_000);
    const stale = { ...other, at: NOW - 3_600_001 };
    assert.equal(
      decided(planDecision(input('pump-bearing-wear', bearing, { localActions: [stale] }))).state,
      'executing',
    );
  });

  test('the explanation tells the story in plain language', () => {
    const d = decided(planDecision(input('room-thermostat-silent', silent)));
    assert.equal(
      d.explanation,
      [
        'Decision dec-000000000001 (self-healing) by policy room-thermostat-silent, about room-01-thermostat, room-01-heater, room-01-spare.',
        'What happened: at 2027-01-15T07:59:59.990Z, room-01-thermostat is offline: nothing received for 1810 ms.',
        "Analysis: thermostat-silent: the room's thermostat stopped reporting: its heater, in 'remote' mode, would hold its last order blind.",
        'Plan:',
        '  1. set the desired state of room-01-heater: {"mode":"auto"}: not done yet',
        '  2. open a warning incident: not done yet',
        '  3. hand the duties of room-01-thermostat over to room-01-spare: not done yet',
        'Degree: act (act, then report), from the default for safe actions.',
        'Now: executing. The hub is carrying out the plan.',
      ].join('\n'),
    );
  });
});

describe('degree', () => {
  test('the most specific scope wins, and a rule naming the property wins within a scope', () => {
    const spec = {
      rules: [
        { scope: 'fleet' as const, degree: 'observe' as const },
        { scope: { site: 'home' }, degree: 'recommend' as const },
        { scope: { site: 'home' }, property: 'self-healing' as const, degree: 'approve' as const },
        { scope: { device: 'room-01-heater' }, degree: 'act' as const },
      ],
    };
    const heater = fleet[1] ?? assert.fail();
    const thermostat = fleet[0] ?? assert.fail();
    const pump = fleet[4] ?? assert.fail();
    assert.equal(chooseDegree(spec, 'self-healing', heater, []).degree, 'act');
    assert.equal(chooseDegree(spec, 'self-healing', thermostat, []).degree, 'approve');
    assert.equal(chooseDegree(spec, 'self-protection', thermostat, []).degree, 'recommend');
    assert.equal(chooseDegree(spec, 'self-protection', pump, ['quarantine']).degree, 'observe');
    assert.deepEqual(chooseDegree(undefined, 'self-protection', pump, ['quarantine', 'open-incident']), {
      degree: 'approve',
      source: 'default for destructive actions (quarantine)',
    });
    assert.equal(chooseDegree(undefined, 'self-healing', pump, ['patch-desired']).degree, 'act');
  });
});

describe('peers', () => {
  test('labelled for the device first, else sharing its label, narrowed by a selector', () => {
    const thermostat = fleet[0] ?? assert.fail();
    assert.deepEqual(peersOf({ labelledFor: 'backup-for', sameLabel: 'room' }, thermostat, fleet), ['room-01-spare']);
    assert.deepEqual(peersOf({ sameLabel: 'room' }, thermostat, fleet), ['room-01-heater', 'room-01-spare']);
    assert.deepEqual(peersOf({ sameLabel: 'room', selector: 'model=ht-200' }, thermostat, fleet), ['room-01-heater']);
    assert.deepEqual(peersOf({ sameLabel: 'floor' }, thermostat, fleet), []);
  });
});
