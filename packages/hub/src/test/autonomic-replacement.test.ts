// Device replacement end to end, with real MQTT clients and a real SQLite file: a person replaces
// a thermostat (dry run first, refusals with precise codes), the new one inherits labels, desired
// state and duties, the old one is retired, refused at connect and kept in the record; a device
// claimed for a slot held by an offline device replaces it by itself.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { FakeClock } from '@homeostat/kit';
import type { Decision } from '@homeostat/protocol';
import { inbox, startTestHub, type TestHub, until } from './harness.js';

describe('autonomic: device replacement', () => {
  let t: TestHub;
  let clock: FakeClock;

  beforeEach(async () => {
    clock = new FakeClock(1_800_000_000_000);
    t = await startTestHub({ heartbeatMs: 1000 }, { clock });
  });
  afterEach(() => t.close());

  const device = (name: string, labels: Record<string, string>, desired?: Record<string, unknown>) =>
    t.createDevice(name, labels, desired);
  const online = (name: string, token: string) => t.online(name, token);

  /** Claims a device through an enrollment group over MQTT; the answer's `ok`. */
  async function claim(claimToken: string, clientId: string, name: string): Promise<boolean> {
    const c = await t.mqtt({ clientId, username: '_claim', password: claimToken, clean: true });
    const box = inbox(c);
    await c.subscribeAsync(`homeostat/v1/_claim/${clientId}/response`, { qos: 1 });
    await c.publishAsync(`homeostat/v1/_claim/${clientId}/request`, JSON.stringify({ name }), { qos: 1 });
    return JSON.parse((await box.next(() => true)).payload).ok;
  }

  const replace = (old: string, body: unknown, query = '', token?: string) =>
    t.api('POST', `/api/v1/devices/${old}/replace${query}`, body, token);

  test('a person replaces a device: dry run, refusals, inheritance, retirement, history kept', async () => {
    const labels = { site: 'home', room: 'room-01', model: 'th-100', slot: 'room-01-thermostat' };
    const oldToken = await device('th-old', labels, { setpoint: 21, schedule: 'eco' });
    await device('backup', { site: 'home', 'backup-for': 'th-old' });
    await device('th-new', { 'hw-rev': 'c' });
    await device('elsewhere', { slot: 'room-02-thermostat' });
    const old = await online('th-old', oldToken);
    await old.publishAsync(
      'homeostat/v1/th-old/telemetry',
      JSON.stringify({ seq: 1, ts: clock.now(), metrics: { temperature: 20.5 } }),
      { qos: 1 },
    );
    // A decision waiting for a person acts on th-old: it will act on th-new.
    const waiting: Decision = {
      apiVersion: 'homeostat/v1',
      kind: 'Decision',
      id: 'dec-00000000beef',
      policy: 'tune',
      property: 'self-optimization',
      devices: ['th-old'],
      createdAt: clock.now(),
      updatedAt: clock.now(),
      trigger: { kind: 'event', device: 'th-old', at: clock.now(), summary: 'th-old reported DRIFT', evidence: {} },
      analysis: { symptom: 'drift', summary: 'drift' },
      degree: 'approve',
      degreeSource: 'autonomy rule for fleet',
      state: 'awaiting-approval',
      approval: { deadline: clock.now() + 600_000, default: 'reject', by: null, at: null, reason: null },
      hold: null,
      actions: [
        {
          action: 'patch-desired',
          device: 'th-old',
          params: { patch: { offset: 0.5 } },
          state: 'planned',
          result: null,
          startedAt: null,
          finishedAt: null,
        },
      ],
      verification: null,
      incident: null,
      history: [],
      explanation: '',
    };
    await t.hub.services.store.saveDecision(waiting);

    // Refusals, each with its code; nothing changes.
    assert.equal((await replace('nobody', { with: 'th-new' })).body.error.code, 'ERR_DEVICE_NOT_FOUND');
    assert.equal((await replace('th-old', { with: 'nobody' })).body.error.code, 'ERR_DEVICE_NOT_FOUND');
    const self = await replace('th-old', { with: 'th-old' });
    assert.equal(self.status, 400);
    assert.equal(self.body.error.code, 'ERR_REPLACE_SELF');
    const busy = await replace('th-old', { with: 'elsewhere' });
    assert.equal(busy.status, 409);
    assert.equal(busy.body.error.code, 'ERR_REPLACE_IN_SERVICE');
    const viewer = (await t.api('POST', '/api/v1/tokens', { name: 'look', role: 'viewer' })).body.secret;
    assert.equal((await replace('th-old', { with: 'th-new' }, '', viewer)).body.error.code, 'ERR_AUTH_FORBIDDEN');
    assert.equal((await replace('th-old', { with: 'Bad Name' })).body.error.code, 'ERR_VALIDATION');

    const dry = await replace('th-old', { with: 'th-new' }, '?dryRun=true');
    assert.equal(dry.status, 200, JSON.stringify(dry.body));
    assert.equal(dry.body.dryRun, true);
    assert.equal(dry.body.decision, null);
    assert.deepEqual(dry.body.plan.labels, { 'hw-rev': 'c', ...labels });
    assert.deepEqual(dry.body.plan.desiredKeys, ['schedule', 'setpoint']);
    assert.deepEqual(dry.body.plan.relabelled, [{ device: 'backup', key: 'backup-for' }]);
    assert.deepEqual(dry.body.plan.approvals, [{ id: 'dec-00000000beef', change: 'retarget' }]);
    assert.equal((await t.api('GET', '/api/v1/devices/th-old')).body.status.lifecycle, 'active');

    const closed = new Promise<void>((resolve) => old.once('close', () => resolve()));
    const done = await replace('th-old', { with: 'th-new' });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    const d = done.body.decision;
    assert.equal(d.property, 'self-configuration');
    assert.equal(d.policy, 'hub-device-replacement');
    assert.equal(d.trigger.kind, 'request');
    assert.equal(d.state, 'succeeded', d.explanation);
    assert.match(d.explanation, /replace th-old with th-new: labels, desired state and duties move/);
    assert.match(d.actions[0].result, /th-old retired, its token revoked and its connection closed/);
    await closed;

    const neu = (await t.api('GET', '/api/v1/devices/th-new')).body;
    assert.deepEqual(neu.metadata.labels, { 'hw-rev': 'c', ...labels });
    assert.deepEqual(neu.twin.desired.state, { setpoint: 21, schedule: 'eco' });
    assert.equal((await t.api('GET', '/api/v1/devices/backup')).body.metadata.labels['backup-for'], 'th-new');
    const retired = (await t.api('GET', '/api/v1/devices/th-old')).body;
    assert.equal(retired.status.lifecycle, 'retired');
    assert.equal(retired.status.replacedBy, 'th-new');
    assert.deepEqual(retired.metadata.labels, {});
    // Still listed, and its history still answers.
    assert.ok(
      (await t.api('GET', '/api/v1/devices')).body.items.some(
        (x: { metadata: { name: string } }) => x.metadata.name === 'th-old',
      ),
    );
    const points = (await t.api('GET', '/api/v1/devices/th-old/telemetry?metric=temperature&from=0')).body.points;
    assert.deepEqual(
      points.map((p: { value: number }) => p.value),
      [20.5],
    );
    const history = (await t.api('GET', '/api/v1/decisions?device=th-old')).body.items.map((x: Decision) => x.id);
    assert.ok(history.includes(d.id));
    assert.ok(history.includes('dec-00000000beef'));
    // The waiting decision now acts on th-new; approved, it patches th-new.
    const moved = (await t.api('GET', '/api/v1/decisions/dec-00000000beef')).body;
    assert.equal(moved.actions[0].device, 'th-new');
    assert.match(moved.history.at(-1).note, /th-old replaced by th-new .*: its actions now apply to th-new/);
    const approved = (await t.api('POST', '/api/v1/decisions/dec-00000000beef/approve', {})).body;
    assert.equal(approved.state, 'succeeded', approved.explanation);
    assert.equal((await t.api('GET', '/api/v1/devices/th-new')).body.twin.desired.state.offset, 0.5);

    // The old token no longer connects, and the refusal says why.
    await assert.rejects(t.mqtt({ clientId: 'th-old', username: 'th-old', password: oldToken }), /Not authorized/i);
    await until(async () =>
      (await t.api('GET', '/api/v1/events?device=th-old&type=security')).body.items.some(
        (e: { code: string }) => e.code === 'ERR_DEVICE_RETIRED',
      ),
    );
    const again = await replace('th-old', { with: 'th-new' });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'ERR_DEVICE_RETIRED');
    assert.equal((await replace('backup', { with: 'th-old' })).body.error.code, 'ERR_DEVICE_RETIRED');
  });

  test('duties held by the old device move to the new one, and go back to it when it returns', async () => {
    const policy = {
      property: 'self-healing',
      scope: { selector: 'model=th-100' },
      trigger: { kind: 'liveness', state: 'offline' },
      analysis: { symptom: 'thermostat-silent' },
      plan: [{ action: 'open-incident' }, { action: 'hand-over', to: { labelledFor: 'backup-for' } }],
      cooldownMs: 5000,
    };
    assert.equal((await t.api('PUT', '/api/v1/policies/silent', { spec: policy })).status, 201);
    assert.equal(
      (await t.api('PUT', '/api/v1/policies/hub-hand-back', { spec: policy })).body.error.code,
      'ERR_POLICY_INVALID',
    );
    const main = await online('main', await device('main', { model: 'th-100' }, { setpoint: 22 }));
    await online('spare', await device('spare', { 'backup-for': 'main' }, { display: 'on' }));
    await device('spare-2', {});
    await clock.advance(1900);
    await t.hub.autonomic.idle();
    const [over] = (await t.api('GET', '/api/v1/decisions?policy=silent')).body.items;
    assert.equal(over.state, 'succeeded', over.explanation);
    assert.equal((await t.api('GET', '/api/v1/devices/spare')).body.twin.desired.state.setpoint, 22);

    const r = await replace('spare', { with: 'spare-2' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.plan.handOvers, [{ id: `${over.id}-1`, from: 'main', to: 'spare-2' }]);
    // The incident names the peer too: the replacement joins it.
    assert.deepEqual(r.body.plan.incidents, [over.incident]);
    const joined = (await t.api('GET', `/api/v1/incidents/${over.incident}`)).body;
    assert.ok(joined.devices.includes('spare-2'));
    assert.match(joined.timeline.at(-1).message, /spare replaced by spare-2/);
    assert.deepEqual((await t.api('GET', '/api/v1/devices/spare-2')).body.twin.desired.state, {
      display: 'on',
      setpoint: 22,
    });
    // main comes back and stays: the duty goes back from spare-2, the device now holding it.
    await main.publishAsync('homeostat/v1/main/status', JSON.stringify({ online: true, heartbeatMs: 1000 }), {
      qos: 1,
    });
    for (let i = 0; i < 6; i++) {
      await clock.advance(1000);
      await main.publishAsync('homeostat/v1/main/heartbeat', '', { qos: 1 });
      await until(
        async () => (await t.api('GET', '/api/v1/devices/main')).body.status.liveness.lastSeen === clock.now(),
      );
    }
    await t.hub.autonomic.idle();
    const [back] = (await t.api('GET', '/api/v1/decisions?policy=hub-hand-back')).body.items;
    assert.ok(back, 'handed back');
    assert.equal(back.actions[0].device, 'spare-2');
    assert.deepEqual((await t.api('GET', '/api/v1/devices/spare-2')).body.twin.desired.state, { display: 'on' });
    const resolved = (await t.api('GET', `/api/v1/incidents/${over.incident}`)).body;
    assert.equal(resolved.state, 'resolved', JSON.stringify(resolved.timeline));
  });

  test('a device claimed for the slot of an offline device replaces it by itself', async () => {
    const group = await t.api('POST', '/api/v1/enrollment-groups', {
      name: 'bay-3',
      template: { labels: { slot: 'pump-bay-3', model: 'pm-400' } },
    });
    assert.equal(group.status, 201);
    const old = await device('pump-a', { slot: 'pump-bay-3', model: 'pm-400', site: 'plant' }, { speed: 0.7 });
    await online('pump-a', old);
    await clock.advance(2000);
    assert.equal((await t.api('GET', '/api/v1/devices/pump-a')).body.status.liveness.state, 'offline');

    assert.equal(await claim(group.body.claimToken, 'claim-bay-3', 'pump-b'), true);
    await t.hub.autonomic.idle();

    const [d] = (await t.api('GET', '/api/v1/decisions?device=pump-b')).body.items;
    assert.ok(d, 'a replacement decision');
    assert.equal(d.trigger.kind, 'enrollment');
    assert.equal(d.state, 'succeeded', d.explanation);
    assert.match(
      d.trigger.summary,
      /pump-b was claimed through enrollment group bay-3 for slot pump-bay-3, held by pump-a \(offline since/,
    );
    const b = (await t.api('GET', '/api/v1/devices/pump-b')).body;
    assert.deepEqual(b.metadata.labels, { slot: 'pump-bay-3', model: 'pm-400', site: 'plant' });
    assert.deepEqual(b.twin.desired.state, { speed: 0.7 });
    assert.equal((await t.api('GET', '/api/v1/devices/pump-a')).body.status.replacedBy, 'pump-b');
    const explained = (await t.api('GET', '/api/v1/decisions?device=pump-a')).body.items[0].explanation;
    assert.match(explained, /Decision dec-[0-9a-f]{12} \(self-configuration\) by policy hub-device-replacement/);

    // An online holder keeps its slot: a second claim for it replaces nothing, and says why.
    await online('pump-b', (await t.api('POST', '/api/v1/devices/pump-b/token')).body.token);
    assert.equal(await claim(group.body.claimToken, 'claim-bay-3b', 'pump-c'), true);
    await t.hub.autonomic.idle();
    assert.deepEqual((await t.api('GET', '/api/v1/decisions?device=pump-c')).body.items, []);
    await until(async () =>
      (await t.api('GET', '/api/v1/events?device=pump-c')).body.items.some((e: { message: string }) =>
        /slot pump-bay-3 is held by pump-b, which is online: pump-c does not replace it/.test(e.message),
      ),
    );
  });
});
