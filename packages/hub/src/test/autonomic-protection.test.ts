// Self-protection end to end, on a fake clock with real MQTT clients: a device name hammered with
// bad credentials makes a quarantine decision that waits for a person (the default for a
// destructive action); approved, the device is quarantined, its token revoked, its connection
// closed and an incident opened. The same at degree act, at observe, and unanswered.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { FakeClock } from '@homeostat/kit';
import type { AutonomySpec } from '@homeostat/protocol';
import { DEMO_POLICIES } from '../autonomic/demo-policies.js';
import { startTestHub, type TestHub, until } from './harness.js';

const policy = DEMO_POLICIES.find((p) => p.name === 'quarantine-on-auth-failures');

describe('autonomic: self-protection', () => {
  let t: TestHub;
  let clock: FakeClock;
  let token: string;

  beforeEach(async () => {
    clock = new FakeClock(1_800_000_000_000);
    t = await startTestHub({ heartbeatMs: 1000 }, { clock });
    assert.ok(policy);
    const put = await t.api('PUT', `/api/v1/policies/${policy.name}`, { labels: policy.labels, spec: policy.spec });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    token = await t.createDevice('rogue', { site: 'lab' });
  });
  afterEach(() => t.close());

  /** Connections under the device's name with a wrong token, each refused. */
  async function hammer(times: number): Promise<void> {
    for (let i = 0; i < times; i++) {
      await t.mqtt({ clientId: 'rogue', username: 'rogue', password: `wrong-${i}` }).then(
        () => assert.fail('a wrong token was accepted'),
        () => {},
      );
    }
    await t.hub.autonomic.idle();
  }

  const decisions = async () => (await t.api('GET', '/api/v1/decisions?device=rogue')).body.items;
  const setAutonomy = async (spec: AutonomySpec) => {
    const r = await t.api('PUT', '/api/v1/autonomy', spec);
    assert.equal(r.status, 200, JSON.stringify(r.body));
  };

  test('below the threshold nothing is decided; at it, a quarantine waits for approval; approved, it is carried out', async () => {
    const device = await t.mqtt({ clientId: 'rogue', username: 'rogue', password: token });
    let closed = false;
    device.on('close', () => {
      closed = true;
    });
    await hammer(19);
    assert.deepEqual(await decisions(), []);
    await hammer(1);
    const [d] = await decisions();
    assert.equal(d.state, 'awaiting-approval');
    assert.equal(d.degree, 'approve');
    assert.match(d.degreeSource, /default for destructive actions \(quarantine, rotate-credentials\)/);
    assert.equal(d.trigger.evidence.count, 20);
    assert.equal(d.approval.default, 'reject');
    assert.equal(d.approval.deadline, clock.now() + 15 * 60_000);
    assert.deepEqual(
      d.actions.map((a: { action: string; state: string }) => `${a.action} ${a.state}`),
      ['quarantine planned', 'rotate-credentials planned', 'open-incident planned'],
    );
    assert.match(d.explanation, /20 auth failures within 60 s/);
    assert.match(d.explanation, /Waiting for a person to approve or reject it/);
    // Still waiting: the device is untouched, more failures make no second decision.
    assert.notEqual((await t.api('GET', '/api/v1/devices/rogue')).body.status.lifecycle, 'quarantined');
    await hammer(5);
    assert.equal((await decisions()).length, 1);

    const viewer = (await t.api('POST', '/api/v1/tokens', { name: 'watcher', role: 'viewer' })).body.secret;
    const forbidden = await t.api('POST', `/api/v1/decisions/${d.id}/approve`, {}, viewer);
    assert.equal(forbidden.status, 403);

    const approved = await t.api('POST', `/api/v1/decisions/${d.id}/approve`, { reason: 'not ours' });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    assert.equal(approved.body.state, 'succeeded');
    assert.equal(approved.body.approval.by, 'admin');
    assert.deepEqual(
      approved.body.actions.map((a: { state: string }) => a.state),
      ['done', 'done', 'done'],
    );
    assert.equal((await t.api('GET', '/api/v1/devices/rogue')).body.status.lifecycle, 'quarantined');
    await until(() => closed, 3000, 'the connection closed');
    // The old token no longer works, even once the quarantine is lifted.
    const lifted = await t.api('PUT', '/api/v1/devices/rogue/lifecycle', { lifecycle: 'active' });
    assert.equal(lifted.status, 200);
    await assert.rejects(t.mqtt({ clientId: 'rogue', username: 'rogue', password: token }));
    const incidents = (await t.api('GET', '/api/v1/incidents?device=rogue')).body.items;
    assert.equal(incidents.length, 1);
    assert.equal(incidents[0].severity, 'critical');
    assert.deepEqual(incidents[0].decisions, [d.id]);
    assert.equal(approved.body.incident, incidents[0].id);

    assert.equal((await t.api('POST', `/api/v1/decisions/${d.id}/approve`, {})).body.error.code, 'ERR_DECISION_STATE');
    // Verified once the refusals have stopped for the window.
    await clock.advance(5 * 60_000 + 1000);
    await t.hub.autonomic.idle();
    const verified = (await t.api('GET', `/api/v1/decisions/${d.id}`)).body;
    assert.equal(verified.state, 'verified', verified.explanation);
    assert.match(verified.explanation, /Verification: expected that the trigger does not fire again/);
  });

  test('at degree act the hub quarantines at once and reports', async () => {
    await setAutonomy({ rules: [{ scope: { device: 'rogue' }, property: 'self-protection', degree: 'act' }] });
    await hammer(20);
    const [d] = await decisions();
    assert.equal(d.state, 'succeeded');
    assert.equal(d.degree, 'act');
    assert.equal(d.degreeSource, 'autonomy rule for device rogue, self-protection');
    assert.equal((await t.api('GET', '/api/v1/devices/rogue')).body.status.lifecycle, 'quarantined');
    const autonomy = (await t.api('GET', '/api/v1/autonomy')).body;
    assert.deepEqual(
      autonomy.status.record.find((r: { property: string }) => r.property === 'self-protection'),
      { property: 'self-protection', degree: 'act', decisions: 1, acted: 1, overruled: 0, escalated: 0, held: 0 },
    );
  });

  test('at degree observe the hub records and does nothing', async () => {
    await setAutonomy({ rules: [{ scope: 'fleet', degree: 'observe' }] });
    await hammer(20);
    const [d] = await decisions();
    assert.equal(d.state, 'proposed');
    assert.deepEqual(
      d.actions.map((a: { state: string }) => a.state),
      ['not-executed', 'not-executed', 'not-executed'],
    );
    assert.match(d.explanation, /recorded what it saw and did nothing/);
    assert.notEqual((await t.api('GET', '/api/v1/devices/rogue')).body.status.lifecycle, 'quarantined');
    assert.deepEqual((await t.api('GET', '/api/v1/incidents')).body.items, []);
  });

  test('unanswered by the deadline, the stated default applies: reject by default, approve when configured', async () => {
    await setAutonomy({ rules: [], approval: { deadlineMs: 60_000 } });
    await hammer(20);
    const [d] = await decisions();
    await clock.advance(61_000);
    await t.hub.autonomic.idle();
    const expired = (await t.api('GET', `/api/v1/decisions/${d.id}`)).body;
    assert.equal(expired.state, 'expired');
    assert.match(expired.explanation, /Nobody answered before the deadline/);
    assert.notEqual((await t.api('GET', '/api/v1/devices/rogue')).body.status.lifecycle, 'quarantined');

    // After the cooldown, a new attack asks again; this time silence means yes.
    await setAutonomy({ rules: [], approval: { deadlineMs: 60_000, default: 'approve' } });
    await clock.advance(60 * 60_000);
    await hammer(20);
    const again = (await decisions()).find((x: { id: string }) => x.id !== d.id);
    assert.equal(again.state, 'awaiting-approval');
    await clock.advance(61_000);
    await t.hub.autonomic.idle();
    assert.equal((await t.api('GET', `/api/v1/decisions/${again.id}`)).body.state, 'succeeded');
    assert.equal((await t.api('GET', '/api/v1/devices/rogue')).body.status.lifecycle, 'quarantined');
    const record = (await t.api('GET', '/api/v1/autonomy')).body.status.record;
    assert.deepEqual(record, [
      { property: 'self-protection', degree: 'approve', decisions: 2, acted: 1, overruled: 1, escalated: 0, held: 0 },
    ]);
  });

  test('a rejected decision does nothing', async () => {
    await hammer(20);
    const [d] = await decisions();
    const rejected = await t.api('POST', `/api/v1/decisions/${d.id}/reject`, { reason: 'our own test rig' });
    assert.equal(rejected.body.state, 'rejected');
    assert.match(rejected.body.explanation, /Rejected by admin \(our own test rig\): nothing was done/);
    assert.notEqual((await t.api('GET', '/api/v1/devices/rogue')).body.status.lifecycle, 'quarantined');
    assert.equal((await t.api('POST', '/api/v1/decisions/dec-000000000000/reject', {})).status, 404);
  });
});
