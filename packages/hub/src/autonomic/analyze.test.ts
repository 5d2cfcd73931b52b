// Analyze and the policy checks on their own: triggers, the partition guard, and what a policy
// is refused for at apply.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PolicySpec } from '@homeostat/protocol';
import { firesTrigger, judgePartition, type SiteDevice } from './analyze.js';
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
