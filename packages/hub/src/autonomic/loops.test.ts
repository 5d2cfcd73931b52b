import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PolicySpec } from '@homeostat/protocol';
import { checkPolicy } from './check-policy.js';
import { DEMO_POLICIES } from './demo-policies.js';
import { HUB_POLICIES } from './hub-policies.js';
import { pingPong, selfLoops } from './loops.js';

const base = (over: Partial<PolicySpec>): PolicySpec => ({
  property: 'self-healing',
  scope: { selector: 'model=th-100' },
  trigger: { kind: 'liveness', state: 'offline' },
  analysis: { symptom: 'test' },
  plan: [{ action: 'open-incident' }],
  ...over,
});

const fleet = [
  { name: 'th-1', labels: { model: 'th-100', room: 'r1' } },
  { name: 'ht-1', labels: { model: 'ht-200', room: 'r1' } },
];

test('loops: rotating credentials on auth failures, without a quarantine, feeds its own trigger', () => {
  const spec = base({
    trigger: { kind: 'security', signal: 'auth-failures', atLeast: 5 },
    plan: [{ action: 'rotate-credentials' }],
  });
  const [loop, ...more] = selfLoops({ name: 'rotate', spec }, fleet);
  assert.equal(more.length, 0);
  assert.match(
    loop ?? '',
    /^rotate \/spec\/plan\/0 \(rotate-credentials\): the device keeps connecting with its old token/,
  );
  assert.match(loop ?? '', /rotate triggers on auth-failures \(at least 5\)$/);
  // With a quarantine in the plan its refusals carry its lifecycle: no signal, no loop.
  const contained = { ...spec, plan: [{ action: 'quarantine' as const }, { action: 'rotate-credentials' as const }] };
  assert.deepEqual(selfLoops({ name: 'contained', spec: contained }, fleet), []);
});

test('loops: a command sent on a failed command result loops; on another trigger it does not', () => {
  const spec = base({
    trigger: { kind: 'event', type: 'command-result', code: 'ERR_VALIDATION' },
    plan: [{ action: 'send-command', command: 'reset' }],
  });
  assert.match(
    selfLoops({ name: 'retry', spec }, fleet)[0] ?? '',
    /send-command\): the device answers the command reset/,
  );
  const alarm = { ...spec, trigger: { kind: 'event' as const, type: 'alarm' as const, code: 'ERR_VALIDATION' } };
  assert.deepEqual(selfLoops({ name: 'on-alarm', spec: alarm }, fleet), []);
  // Sent to peers no scope of this policy can cover: the answer never reaches its trigger.
  const elsewhere = {
    ...spec,
    plan: [
      {
        action: 'send-command' as const,
        command: 'reset',
        target: { sameLabel: 'room', selector: 'model=ht-200' },
      },
    ],
  };
  assert.deepEqual(selfLoops({ name: 'elsewhere', spec: elsewhere }, fleet), []);
});

test('loops: a quarantine or rotation on a device going silent is no loop: it cannot come back by itself', () => {
  assert.deepEqual(selfLoops({ name: 'q', spec: base({ plan: [{ action: 'quarantine' }] }) }, fleet), []);
  assert.deepEqual(selfLoops({ name: 'r', spec: base({ plan: [{ action: 'rotate-credentials' }] }) }, fleet), []);
});

test('loops: two policies whose commands answer each other ping-pong; the way round is named', () => {
  const a = base({
    trigger: { kind: 'event', type: 'command-result', code: 'ERR_BUSY' },
    plan: [{ action: 'send-command', command: 'sync', target: { sameLabel: 'room', selector: 'model=ht-200' } }],
  });
  const b = base({
    scope: { selector: 'model=ht-200' },
    trigger: { kind: 'event', type: 'command-result', code: 'ERR_BUSY' },
    plan: [{ action: 'send-command', command: 'sync', target: { sameLabel: 'room', selector: 'model=th-100' } }],
  });
  assert.deepEqual(selfLoops({ name: 'a', spec: a }, fleet), []);
  const cycle = pingPong({ name: 'a', spec: a }, [{ name: 'b', spec: b }], fleet);
  assert.equal(cycle.length, 2);
  assert.match(
    cycle[0] ?? '',
    /^a \/spec\/plan\/0 \(send-command\): .*; b triggers on an event of type command-result/,
  );
  assert.match(
    cycle[1] ?? '',
    /^b \/spec\/plan\/0 \(send-command\): .*; a triggers on an event of type command-result/,
  );
  // Narrowed to another room than b's scope can reach, the cycle is broken.
  const other = { ...b, scope: { selector: 'model=ht-200,room=r2' } };
  const narrowedA = {
    ...a,
    plan: [
      {
        action: 'send-command' as const,
        command: 'sync',
        target: { sameLabel: 'room', selector: 'model=ht-200,room=r1' },
      },
    ],
  };
  assert.deepEqual(pingPong({ name: 'a', spec: narrowedA }, [{ name: 'b', spec: other }], fleet), []);
});

test('loops: a command on auth failures and a rotation on its failed result ping-pong', () => {
  const onFailures = base({
    scope: 'fleet',
    trigger: { kind: 'security', signal: 'auth-failures', atLeast: 3 },
    plan: [{ action: 'send-command', command: 'reauth' }],
  });
  const onResult = base({
    trigger: { kind: 'event', type: 'command-result', code: 'ERR_AUTH' },
    plan: [{ action: 'rotate-credentials' }],
  });
  const cycle = pingPong({ name: 'on-failures', spec: onFailures }, [{ name: 'on-result', spec: onResult }], fleet);
  assert.deepEqual(
    cycle.map((e) => e.split(':')[0]),
    ['on-failures /spec/plan/0 (send-command)', 'on-result /spec/plan/0 (rotate-credentials)'],
  );
  // Stored first, on-result alone does not loop; the cycle is found from either side.
  assert.deepEqual(selfLoops({ name: 'on-result', spec: onResult }, fleet), []);
  assert.equal(
    pingPong({ name: 'on-result', spec: onResult }, [{ name: 'on-failures', spec: onFailures }], fleet).length,
    2,
  );
});

test('loops: the demo and hub policies loop neither alone nor together', () => {
  const all = [...DEMO_POLICIES, ...HUB_POLICIES];
  for (const p of all) {
    assert.deepEqual(selfLoops(p, fleet), [], p.name);
    assert.deepEqual(pingPong(p, all, fleet), [], p.name);
  }
});

test('the hub policies shipped pass every check they would meet if applied', () => {
  for (const p of HUB_POLICIES)
    assert.deepEqual(checkPolicy(p.name, p.spec, [...DEMO_POLICIES, ...HUB_POLICIES], fleet), [], p.name);
});

test('loops: a metric trigger is fed by no action for certain; its threshold is checked at apply', () => {
  const trigger = { kind: 'metric' as const, metric: 'temperature', stat: 'avg' as const, above: 30 };
  // Slowing the telemetry of the device it watches changes how it reports, not what it measures.
  const spec = base({ trigger, plan: [{ action: 'patch-desired', patch: { telemetry: { intervalMs: 60_000 } } }] });
  assert.deepEqual(selfLoops({ name: 'slow-down', spec }, fleet), []);
  assert.deepEqual(pingPong({ name: 'slow-down', spec }, [{ name: 'again', spec }], fleet), []);
  assert.deepEqual(checkPolicy('slow-down', spec, [], fleet), []);
  assert.deepEqual(checkPolicy('band', base({ trigger: { ...trigger, below: 10 } }), [], fleet), [
    '/spec/trigger: give exactly one of above and below',
  ]);
  assert.deepEqual(checkPolicy('clear', base({ trigger: { ...trigger, clearAt: 31 } }), [], fleet), [
    '/spec/trigger/clearAt: 31 is over the threshold 30: it must be at or under it',
  ]);
  assert.deepEqual(
    checkPolicy('below', base({ trigger: { ...trigger, above: undefined, below: 5, clearAt: 4 } }), [], fleet),
    ['/spec/trigger/clearAt: 4 is under the threshold 5: it must be at or over it'],
  );
});
