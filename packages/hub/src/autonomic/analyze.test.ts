// Analyze and the policy checks on their own: triggers, the partition guard, and what a policy
// is refused for at apply.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock } from '@homeostat/kit';
import type { PolicySpec } from '@homeostat/protocol';
import { firesTrigger, guardPartition, judgePartition, type SiteDevice } from './analyze.js';
import { checkPolicy } from './check-policy.js';
import { DEMO_POLICIES } from './demo-policies.js';
import { crashLoopsIn, securitySignalOf } from './signals.js';

const NOW = 1_800_000_000_000;

describe('partition guard', () => {
  const device = { name: 'd1', labels: { site: 'annex' }, lastSeen: NOW - 1900, heartbeatMs: 1000 };
  const site = (states: [SiteDevice['state'], number | null][]): SiteDevice[] =>
    states.map(([state, lastSeen], i) => ({ name: `d${i + 1}`, state, lastSeen }));

  test('half the site silent within two intervals, at least three: the network', () => {
    const verdict = judgePartition(
      device,
      site([
        ['offline', NOW - 1900],
        ['offline', NOW - 1500],
        ['suspect', NOW - 1600],
        ['online', NOW],
        ['online', NOW],
        ['online', NOW],
      ]),
    );
    assert.deepEqual(verdict, { partition: true, site: 'annex', silent: ['d1', 'd2', 'd3'], total: 6, windowMs: 2000 });
  });

  test('one device, or devices that went silent long apart, are devices', () => {
    assert.deepEqual(
      judgePartition(
        device,
        site([
          ['offline', NOW - 1900],
          ['online', NOW],
          ['online', NOW],
        ]),
      ),
      {
        partition: false,
      },
    );
    // Three silent, but one of them for an hour: not the same event.
    const apart = site([
      ['offline', NOW - 1900],
      ['offline', NOW - 1800],
      ['offline', NOW - 3_600_000],
      ['online', NOW],
    ]);
    assert.deepEqual(judgePartition(device, apart), { partition: false });
    // Three silent out of seven: under half.
    const few = site([
      ['offline', NOW - 1900],
      ['offline', NOW - 1800],
      ['offline', NOW - 1700],
      ...Array.from({ length: 4 }, () => ['online', NOW] as [SiteDevice['state'], number]),
    ]);
    assert.deepEqual(judgePartition(device, few), { partition: false });
    // No site label: no partition to judge.
    assert.deepEqual(judgePartition({ ...device, labels: {} }, site([['offline', NOW]])), { partition: false });
  });
});

describe('partition guard, at detection and while it waits', () => {
  // Heartbeat 1 s; the device was last heard at 0 and turns offline at 1800 (1.8 intervals); the
  // guard may wait until 2600 (0.8 interval more). Siblings online and heard after 1100 are not cut
  // off with it.
  const HB = 1000;
  const silent = { name: 'th', labels: { site: 'home' }, lastSeen: 0, heartbeatMs: HB };
  const SETTLE = 2600;
  const sib = (name: string, lastSeen: number | null, state: SiteDevice['state'] = 'online'): SiteDevice => ({
    name,
    state,
    lastSeen,
    heartbeatMs: HB,
  });
  /** The silent device and eight siblings heartbeating each second at these phases (ms after 0). */
  const siteAt = (clock: FakeClock, phases: number[], cutAt = Number.POSITIVE_INFINITY): SiteDevice[] => [
    sib('th', 0, 'offline'),
    ...phases.map((p, i) => {
      // The last heartbeat at or before now (and before the cut), every HB from phase p.
      const upTo = Math.min(clock.now(), cutAt);
      const last = upTo < p ? null : p + Math.floor((upTo - p) / HB) * HB;
      const state = last !== null && clock.now() - last > 1.5 * HB ? 'suspect' : 'online';
      return sib(`d${i + 1}`, last, state);
    }),
  ];

  test('most of the site heard since the silence began: the device, decided at detection', () => {
    const clock = new FakeClock(1800);
    const step = guardPartition(silent, siteAt(clock, [300, 400, 500, 600, 700, 800, 900, 1000]), clock.now(), SETTLE);
    // Heard at 1300..1800 (after 1100): six; the two heard at 900 and 1000 might be cut with it,
    // but three of nine is under half the site.
    assert.deepEqual(step, { kind: 'device', heard: ['d1', 'd2', 'd3', 'd4', 'd5', 'd6'], possible: 3, total: 9 });
  });

  test('siblings not heard since yet: wait for their next heartbeat, then decide, before the settle time', async () => {
    const clock = new FakeClock(1800);
    // Heard last at 1010..1090: none after 1100 yet; their next heartbeats fall due at 2010..2090.
    const phases = [10, 20, 30, 40, 50, 60, 70, 90];
    let step = guardPartition(silent, siteAt(clock, phases), clock.now(), SETTLE);
    assert.deepEqual(step, { kind: 'wait', until: 2010 });
    await clock.advance(2010 - clock.now());
    step = guardPartition(silent, siteAt(clock, phases), clock.now(), SETTLE);
    // One heard; eight of nine may still be silent together.
    assert.deepEqual(step, { kind: 'wait', until: 2020 });
    await clock.advance(2050 - clock.now());
    step = guardPartition(silent, siteAt(clock, phases), clock.now(), SETTLE);
    // Five heard (at 2010..2050), four of nine left: not a partition, 550 ms before the settle time.
    assert.deepEqual(step, { kind: 'device', heard: ['d1', 'd2', 'd3', 'd4', 'd5'], possible: 4, total: 9 });
  });

  test('a whole site cut at once: it waits out the settle time, then the judgement holds it', async () => {
    const clock = new FakeClock(1800);
    // Cut at 900: every sibling last heard between 0 and 900, none after.
    const phases = [50, 150, 250, 350, 450, 550, 650, 750];
    let step = guardPartition(silent, siteAt(clock, phases, 900), clock.now(), SETTLE);
    // Every sibling's next heartbeat (1050..1750) is overdue: look again a tenth of an interval on.
    assert.deepEqual(step, { kind: 'wait', until: 1900 });
    for (let i = 0; i < 20 && step.kind === 'wait'; i++) {
      await clock.advance(step.until - clock.now());
      step = guardPartition(silent, siteAt(clock, phases, 900), clock.now(), SETTLE);
    }
    assert.deepEqual(step, { kind: 'judge' });
    assert.equal(clock.now(), SETTLE);
    const verdict = judgePartition(silent, siteAt(clock, phases, 900));
    assert.equal(verdict.partition, true);
  });

  test('siblings heard since but gone offline (disconnected) are not taken as heard', () => {
    const dropped = ['d1', 'd2', 'd3', 'd4'].map((n) => sib(n, 1500, 'offline'));
    const step = guardPartition(silent, [sib('th', 0, 'offline'), ...dropped, sib('d5', 1700)], 1800, SETTLE);
    // d5's next heartbeat is due at 2700, after the settle time: wait until then, and judge.
    assert.deepEqual(step, { kind: 'wait', until: SETTLE });
  });

  test('no site, too few devices to be a partition, or a heartbeat overdue', () => {
    const clock = new FakeClock(1800);
    assert.deepEqual(guardPartition({ ...silent, labels: {} }, [], clock.now(), SETTLE), {
      kind: 'device',
      heard: [],
      possible: 1,
      total: 0,
    });
    // Two devices, both silent: under the three a partition needs.
    assert.deepEqual(guardPartition(silent, [sib('th', 0, 'offline'), sib('d1', 100, 'suspect')], 1800, SETTLE), {
      kind: 'device',
      heard: [],
      possible: 2,
      total: 2,
    });
    // Never-heard devices and devices silent for an hour are not part of this silence.
    const old = [sib('th', 0, 'offline'), sib('d1', null, 'unknown'), sib('d2', -3_600_000, 'offline'), sib('d3', 500)];
    assert.equal(guardPartition(silent, old, 1800, SETTLE).kind, 'device');
    // A sibling online but overdue (heard at 700, due at 1700): look again a tenth of an interval on.
    const overdue = [sib('th', 0, 'offline'), sib('d1', 700), sib('d2', 600), sib('d3', 1000)];
    assert.deepEqual(guardPartition(silent, overdue, 1800, SETTLE), { kind: 'wait', until: 1900 });
  });
});

describe('triggers and signals', () => {
  test('security counts within the window; events by code and type; crash loops by module', () => {
    const trigger = { kind: 'security' as const, signal: 'auth-failures' as const, atLeast: 3, withinMs: 1000 };
    const s = (times: number[]) => ({
      kind: 'security' as const,
      device: 'x',
      signal: 'auth-failures' as const,
      code: 'ERR_MQTT_AUTH_FAILED',
      message: '',
      at: NOW,
      times,
    });
    assert.equal(firesTrigger(trigger, s([NOW - 2000, NOW - 500, NOW])), false);
    assert.equal(firesTrigger(trigger, s([NOW - 900, NOW - 500, NOW])), true);
    const event = {
      kind: 'event' as const,
      device: 'x',
      type: 'alarm',
      code: 'BEARING_WEAR',
      at: NOW,
      severity: '',
      message: '',
      data: {},
    };
    assert.equal(firesTrigger({ kind: 'event', code: 'BEARING_WEAR' }, event), true);
    assert.equal(firesTrigger({ kind: 'event', type: 'action', code: 'BEARING_WEAR' }, event), false);
    const [loop] = crashLoopsIn(
      'x',
      { modules: { a: { state: 'running' }, b: { state: 'crash-loop', restarts: 3 } } },
      NOW,
    );
    assert.ok(loop);
    assert.equal(firesTrigger({ kind: 'module-crash-loop', module: 'b' }, loop), true);
    assert.equal(firesTrigger({ kind: 'module-crash-loop', module: 'a' }, loop), false);
  });

  test('which hub events are security signals: not those of a device already contained', () => {
    const e = (type: string, code: string, data: Record<string, unknown> = {}) => ({
      ts: NOW,
      device: 'x',
      seq: null,
      source: 'hub' as const,
      type,
      code,
      severity: 'warning' as const,
      message: '',
      data,
    });
    assert.equal(securitySignalOf(e('security', 'ERR_MQTT_AUTH_FAILED')), 'auth-failures');
    assert.equal(securitySignalOf(e('security', 'ERR_MQTT_AUTH_FAILED', { lifecycle: 'quarantined' })), null);
    assert.equal(securitySignalOf(e('security', 'ERR_MQTT_TOPIC_DENIED')), 'topic-violations');
    assert.equal(securitySignalOf(e('protocol', 'ERR_BAD_JSON')), 'refused-messages');
    assert.equal(securitySignalOf(e('protocol', 'ERR_TELEMETRY_TIMESTAMP')), null);
  });
});

describe('policy checks at apply', () => {
  const fleet = [
    { name: 'a', labels: { site: 'paris', model: 'th-100' } },
    { name: 'b', labels: { site: 'paris', model: 'ht-200' } },
  ];
  const base: PolicySpec = {
    property: 'self-healing',
    scope: { selector: 'model=th-100' },
    trigger: { kind: 'liveness', state: 'offline' },
    analysis: { symptom: 'silent' },
    plan: [
      { action: 'patch-desired', target: { sameLabel: 'site', selector: 'model=ht-200' }, patch: { mode: 'auto' } },
    ],
  };

  test('the demo policies pass, together', () => {
    const all = DEMO_POLICIES.map((p) => ({ name: p.name, spec: p.spec }));
    for (const p of all) assert.deepEqual(checkPolicy(p.name, p.spec, all, fleet), [], p.name);
  });

  test('a policy that contradicts another on the same trigger and scope', () => {
    const other = {
      name: 'keep-remote',
      spec: { ...base, plan: [{ ...base.plan[0], patch: { mode: 'remote' } }] } as PolicySpec,
    };
    assert.deepEqual(checkPolicy('safe-mode', base, [other], fleet), [
      '/spec/plan/0/patch/mode: contradicts policy keep-remote, which sets mode to "remote" on the same trigger and scope',
    ]);
    // Another trigger is no contradiction.
    const later = {
      ...other,
      spec: { ...other.spec, trigger: { kind: 'liveness' as const, state: 'suspect' as const } },
    };
    assert.deepEqual(checkPolicy('safe-mode', base, [later], fleet), []);
  });

  test('the whole fleet at once without a rate limit, unknown devices, bad selectors, peers named by nothing', () => {
    const problems = checkPolicy(
      'p',
      {
        ...base,
        scope: 'fleet',
        plan: [
          { action: 'patch-desired', target: { selector: 'model=ht-200' }, patch: { mode: 'auto' } },
          { action: 'hand-over', to: { sameLabel: 'room', selector: 'bad key=x' } },
        ],
        verify: { check: 'online', withinMs: 1000 },
      },
      [],
      fleet,
    );
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.match(problems[0] ?? '', /^\/spec\/rateLimit: the scope covers the whole fleet/);
    assert.match(problems[1] ?? '', /^\/spec\/plan\/0\/target: name the peer by labelledFor or sameLabel/);
    assert.match(problems[2] ?? '', /^\/spec\/plan\/1\/to\/selector: /);
    // A selector every device matches is the whole fleet too.
    assert.match(checkPolicy('p', { ...base, scope: { selector: 'site=paris' } }, [], fleet)[0] ?? '', /rateLimit/);
    assert.deepEqual(checkPolicy('p', { ...base, scope: { devices: ['a', 'ghost'] } }, [], fleet), [
      '/spec/scope/devices/1: no device named ghost',
    ]);
  });
});
