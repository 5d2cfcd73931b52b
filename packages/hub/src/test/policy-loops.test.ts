// Policies that would loop on their own actions are refused at apply, over the real API: one
// that feeds its own trigger (ERR_POLICY_SELF_LOOP), and one that closes a cycle with a stored
// policy (ERR_POLICY_PING_PONG); nothing is stored either way. Policies of scope hub are checked
// for what only makes sense on the hub.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestHub, type TestHub } from './harness.js';

describe('policies: loops refused at apply', () => {
  let t: TestHub;
  before(async () => {
    t = await startTestHub({ hubPolicies: false });
  });
  after(() => t.close());

  const put = (name: string, spec: unknown) => t.api('PUT', `/api/v1/policies/${name}`, { spec });
  const stored = async () =>
    (await t.api('GET', '/api/v1/policies')).body.items.map((p: { metadata: { name: string } }) => p.metadata.name);

  test('a rotation on auth failures without quarantine feeds itself: ERR_POLICY_SELF_LOOP, nothing stored', async () => {
    const r = await put('rotate-on-failures', {
      property: 'self-protection',
      scope: { selector: 'model=th-100' },
      trigger: { kind: 'security', signal: 'auth-failures', atLeast: 5 },
      analysis: { symptom: 'credential-attack' },
      plan: [{ action: 'rotate-credentials' }],
    });
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.equal(r.body.error.code, 'ERR_POLICY_SELF_LOOP');
    assert.match(r.body.error.message, /policy rotate-on-failures refused: it would trigger itself/);
    assert.match(r.body.error.details[0], /rotate-credentials\): the device keeps connecting with its old token/);
    assert.deepEqual(await stored(), []);
  });

  test('a command resent on its own failed result: ERR_POLICY_SELF_LOOP', async () => {
    const r = await put('retry-reset', {
      property: 'self-healing',
      scope: { selector: 'model=pm-400' },
      trigger: { kind: 'event', type: 'command-result', code: 'ERR_VALIDATION' },
      analysis: { symptom: 'reset-failed' },
      plan: [{ action: 'send-command', command: 'reset' }],
    });
    assert.equal(r.status, 422);
    assert.equal(r.body.error.code, 'ERR_POLICY_SELF_LOOP');
    assert.match(
      r.body.error.details[0],
      /retry-reset triggers on an event of type command-result with code ERR_VALIDATION/,
    );
  });

  test('two policies whose commands answer each other: the second is refused with ERR_POLICY_PING_PONG', async () => {
    const first = await put('thermostat-asks-heater', {
      property: 'self-healing',
      scope: { selector: 'model=th-100' },
      trigger: { kind: 'event', type: 'command-result', code: 'ERR_BUSY' },
      analysis: { symptom: 'busy' },
      plan: [{ action: 'send-command', command: 'sync', target: { sameLabel: 'room', selector: 'model=ht-200' } }],
    });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const second = await put('heater-asks-thermostat', {
      property: 'self-healing',
      scope: { selector: 'model=ht-200' },
      trigger: { kind: 'event', type: 'command-result', code: 'ERR_BUSY' },
      analysis: { symptom: 'busy' },
      plan: [{ action: 'send-command', command: 'sync', target: { sameLabel: 'room', selector: 'model=th-100' } }],
    });
    assert.equal(second.status, 422, JSON.stringify(second.body));
    assert.equal(second.body.error.code, 'ERR_POLICY_PING_PONG');
    assert.match(
      second.body.error.message,
      /policy heater-asks-thermostat refused: it and thermostat-asks-heater would trigger each other in turn/,
    );
    assert.equal(second.body.error.details.length, 2);
    assert.deepEqual(await stored(), ['thermostat-asks-heater']);
  });

  test('scope hub: device actions, device triggers and inverted thresholds are refused as invalid', async () => {
    const r = await put('hub-wrong', {
      property: 'self-healing',
      scope: 'hub',
      trigger: { kind: 'hub', metric: 'ingest-backlog', above: 100, clearAt: 200 },
      analysis: { symptom: 'backlog' },
      plan: [{ action: 'quarantine' }, { action: 'backpressure' }],
      verify: { check: 'online', withinMs: 60_000 },
    });
    assert.equal(r.status, 422);
    assert.equal(r.body.error.code, 'ERR_POLICY_INVALID');
    assert.deepEqual(r.body.error.details, [
      '/spec/trigger/clearAt: 200 is over the threshold 100: it must be at or under it',
      '/spec/plan/0/action: quarantine acts on a device: a policy of scope hub acts on the hub (tighten-retention, backpressure, shed-work, open-incident)',
      '/spec/verify/check: online is about devices: a policy of scope hub verifies with cleared',
    ]);
    const onDevice = await put('device-backpressure', {
      property: 'self-healing',
      scope: { selector: 'model=th-100' },
      trigger: { kind: 'liveness', state: 'offline' },
      analysis: { symptom: 'x' },
      plan: [{ action: 'backpressure' }],
    });
    assert.equal(onDevice.status, 422);
    assert.deepEqual(onDevice.body.error.details, [
      '/spec/plan/0/action: backpressure acts on the hub: only in a policy of scope hub',
    ]);
  });
});
