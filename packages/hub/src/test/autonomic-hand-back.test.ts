// Hand-back and post-mortems end to end, on a fake clock with real MQTT clients and a real SQLite
// file: a thermostat goes silent, its duty goes to its backup and its heater to safe mode; it
// comes back, and once stable and past the hold-down its peers return to what they did before,
// the incident resolves itself and its blameless post-mortem has the right timeline and figures.
// A thermostat that flaps does not swing its duties back and forth.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { FakeClock } from '@homeostat/kit';
import type { MqttClient } from 'mqtt';
import { DEMO_POLICIES } from '../autonomic/demo-policies.js';
import { startTestHub, type TestHub, until } from './harness.js';

/** The demo's room policy with a 20 s cooldown, so the hold-down passes in a short test. */
const HOLD_DOWN_MS = 20_000;

describe('autonomic: hand-back and post-mortem', () => {
  let t: TestHub;
  let clock: FakeClock;
  let t0: number;

  beforeEach(async () => {
    clock = new FakeClock(1_800_000_000_000);
    t0 = clock.now();
    t = await startTestHub({ heartbeatMs: 1000 }, { clock });
    const room = DEMO_POLICIES.find((p) => p.name === 'room-thermostat-silent');
    assert.ok(room);
    const spec = { ...room.spec, cooldownMs: HOLD_DOWN_MS };
    assert.equal((await t.api('PUT', `/api/v1/policies/${room.name}`, { spec })).status, 201);
  });
  afterEach(() => t.close());

  const device = (name: string, labels: Record<string, string>, desired?: Record<string, unknown>) =>
    t.createDevice(name, labels, desired);

  async function online(name: string, token: string): Promise<MqttClient> {
    const c = await t.mqtt({ clientId: name, username: name, password: token });
    await beat(c, name, 'status');
    return c;
  }

  /** A heartbeat (or a status online), seen by the hub before the clock moves on. */
  async function beat(c: MqttClient, name: string, topic: 'heartbeat' | 'status' = 'heartbeat') {
    const payload = topic === 'status' ? JSON.stringify({ online: true, heartbeatMs: 1000 }) : '';
    await c.publishAsync(`homeostat/v1/${name}/${topic}`, payload, { qos: 1, retain: topic === 'status' });
    const now = clock.now();
    await until(
      async () => {
        const l = (await t.api('GET', `/api/v1/devices/${name}`)).body.status.liveness;
        return l.state === 'online' && l.lastSeen === now;
      },
      5000,
      `${name} heard`,
    );
  }

  async function reportApplied(c: MqttClient, name: string, version: number) {
    const desired = (await t.api('GET', `/api/v1/devices/${name}`)).body.twin.desired;
    await c.publishAsync(
      `homeostat/v1/${name}/twin/reported`,
      JSON.stringify({ version, state: desired.state, desiredVersion: desired.version }),
      { qos: 1 },
    );
    await until(
      async () => (await t.api('GET', `/api/v1/devices/${name}`)).body.twin.reported.desiredVersion === desired.version,
    );
  }

  async function step(ms: number) {
    await clock.advance(ms);
    await t.hub.autonomic.idle();
  }

  const decisionsOf = async (policy: string) =>
    (await t.api('GET', `/api/v1/decisions?policy=${policy}`)).body.items as {
      id: string;
      state: string;
      createdAt: number;
    }[];

  /** The room of the demo: a thermostat, its heater, and a backup labelled for it. */
  async function room() {
    const labels = (model: string, extra: Record<string, string> = {}) => ({
      site: 'home',
      room: 'room-01',
      model,
      ...extra,
    });
    const th = await online(
      'room-01-thermostat',
      await device('room-01-thermostat', labels('th-100'), { setpoint: 21 }),
    );
    const heater = await online('room-01-heater', await device('room-01-heater', labels('ht-200'), { mode: 'remote' }));
    const backupToken = await device('room-01-backup', labels('th-100', { 'backup-for': 'room-01-thermostat' }), {
      setpoint: 19,
      display: 'on',
    });
    const backup = await online('room-01-backup', backupToken);
    const others: [MqttClient, string][] = [
      [heater, 'room-01-heater'],
      [backup, 'room-01-backup'],
    ];
    return { th, heater, backup, others };
  }

  /** The thermostat stays silent (offline after 1.8 s, then the site's settle time): the hand-over decision. */
  async function handedOver(others: [MqttClient, string][]) {
    for (let i = 0; i < 3; i++) await second(others);
    const [over] = (await t.api('GET', '/api/v1/decisions?policy=room-thermostat-silent')).body.items;
    assert.ok(over, 'a hand-over decision');
    return over;
  }

  /** Every device but the thermostat keeps beating while the clock moves a second. */
  async function second(clients: [MqttClient, string][]) {
    await step(1000);
    for (const [c, name] of clients) await beat(c, name);
  }

  test('silent, handed over, back and stable: handed back, the incident resolves, the post-mortem tells it', async () => {
    const { th, heater, backup, others } = await room();
    const over = await handedOver(others);
    assert.equal(over.state, 'succeeded', over.explanation);
    assert.deepEqual((await t.api('GET', '/api/v1/devices/room-01-heater')).body.twin.desired.state, { mode: 'auto' });
    assert.deepEqual((await t.api('GET', '/api/v1/devices/room-01-backup')).body.twin.desired.state, {
      setpoint: 21,
      display: 'on',
    });
    await reportApplied(heater, 'room-01-heater', 1);
    await reportApplied(backup, 'room-01-backup', 1);
    await second(others);
    assert.equal((await t.api('GET', `/api/v1/decisions/${over.id}`)).body.state, 'verified');

    // Back: online, and stable, but the hold-down has not passed: nothing moves yet.
    const back = clock.now();
    await beat(th, 'room-01-thermostat', 'status');
    for (let i = 0; i < 5; i++) {
      await second(others);
      await beat(th, 'room-01-thermostat');
    }
    assert.deepEqual(await decisionsOf('hub-hand-back'), []);
    while (clock.now() < over.createdAt + HOLD_DOWN_MS + 1000) {
      await second(others);
      await beat(th, 'room-01-thermostat');
    }
    const [handBack] = (await t.api('GET', '/api/v1/decisions?policy=hub-hand-back')).body.items;
    assert.ok(handBack, 'a hand-back decision');
    assert.equal(handBack.state, 'succeeded', handBack.explanation);
    assert.equal(handBack.follows, over.id);
    assert.equal(handBack.trigger.kind, 'recovery');
    assert.equal(handBack.incident, over.incident);
    assert.deepEqual(
      handBack.actions.map(
        (a: { action: string; device: string; state: string }) => `${a.action} ${a.device} ${a.state}`,
      ),
      ['hand-back room-01-heater done', 'hand-back room-01-backup done'],
    );
    assert.match(handBack.explanation, /Follows decision dec-/);
    // The peers do what they did before; the backup keeps what nobody handed over.
    assert.deepEqual((await t.api('GET', '/api/v1/devices/room-01-heater')).body.twin.desired.state, {
      mode: 'remote',
    });
    assert.deepEqual((await t.api('GET', '/api/v1/devices/room-01-backup')).body.twin.desired.state, {
      setpoint: 19,
      display: 'on',
    });

    const incident = (await t.api('GET', `/api/v1/incidents/${over.incident}`)).body;
    assert.equal(incident.state, 'resolved', JSON.stringify(incident.timeline));
    assert.equal(incident.resolution.by, 'autonomic-loop');
    assert.ok(incident.decisions.includes(handBack.id));
    assert.match(incident.timeline.at(-2).message, /room-01-thermostat is back and stable; 2 of 2 duties handed back/);
    assert.equal(
      (await t.api('POST', `/api/v1/incidents/${incident.id}/resolve`, { note: 'again' })).body.error.code,
      'ERR_INCIDENT_STATE',
    );

    const pm = (await t.api('GET', `/api/v1/incidents/${incident.id}/postmortem`)).body;
    assert.equal(pm.kind, 'PostMortem');
    assert.equal(pm.resolution.by, 'the autonomic loop');
    // Figures from the last sign of health (the status at t0).
    assert.equal(pm.impact.startedAt, t0);
    assert.equal(pm.figures.timeToDetectMs, over.createdAt - t0);
    assert.ok(pm.figures.timeToDetectMs <= 3000, `detected after ${pm.figures.timeToDetectMs} ms`);
    const firstPatch = over.actions[0].finishedAt;
    assert.equal(pm.figures.timeToMitigateMs, firstPatch - t0);
    assert.equal(pm.figures.timeToResolveMs, incident.resolvedAt - t0);
    assert.ok(incident.resolvedAt >= back + 2000);
    const kinds = pm.timeline.map((e: { kind: string }) => e.kind);
    assert.deepEqual(kinds.slice(0, 3), ['onset', 'detection', 'decision']);
    for (const k of ['action', 'verification', 'hand-back', 'resolution']) assert.ok(kinds.includes(k), k);
    assert.equal(kinds.at(-1), 'resolution');
    assert.ok(
      pm.wentWell.some((w: string) => /had its expected effect: applied by room-01-heater, room-01-backup/.test(w)),
    );
    assert.ok(pm.wentWell.some((w: string) => /duties went back/.test(w)));
    assert.deepEqual(pm.wentWrong, ['nothing: every action carried out had its effect']);
    assert.deepEqual(pm.followUps, []);
    assert.doesNotMatch(JSON.stringify(pm), /test-admin|admin/);

    const md = await fetch(`${t.started.httpUrl}/api/v1/incidents/${incident.id}/postmortem?format=md`, {
      headers: { authorization: 'Bearer test-admin-token-0123456789' },
    });
    assert.match(md.headers.get('content-type') ?? '', /text\/markdown/);
    const text = await md.text();
    assert.match(text, /^# Post-mortem: thermostat-silent on room-01-thermostat\n/);
    assert.match(text, /\| time to detect \| time to mitigate \| time to resolve \|/);
    assert.match(text, /## What worked\n\n- detected/);
    const accept = await fetch(`${t.started.httpUrl}/api/v1/incidents/${incident.id}/postmortem`, {
      headers: { authorization: 'Bearer test-admin-token-0123456789', accept: 'text/markdown' },
    });
    assert.equal(await accept.text(), text);
  });

  test('a flapping thermostat: one hand-over, no hand-back while it flaps, one once it is stable', async () => {
    const { th, others } = await room();
    const over = await handedOver(others);
    // Flaps within the hold-down: back for three seconds (stable enough on its own), then silent
    // for two (offline again), over and over.
    let flaps = 0;
    while (clock.now() < over.createdAt + HOLD_DOWN_MS - 5000) {
      await beat(th, 'room-01-thermostat', 'status');
      for (let i = 0; i < 3; i++) {
        await second(others);
        await beat(th, 'room-01-thermostat');
      }
      await second(others);
      await second(others);
      assert.equal((await t.api('GET', '/api/v1/devices/room-01-thermostat')).body.status.liveness.state, 'offline');
      flaps++;
    }
    assert.ok(flaps >= 3, `${flaps} flaps`);
    assert.equal((await decisionsOf('room-thermostat-silent')).length, 1);
    assert.deepEqual(await decisionsOf('hub-hand-back'), []);
    assert.deepEqual((await t.api('GET', '/api/v1/devices/room-01-heater')).body.twin.desired.state, { mode: 'auto' });
    // Stable past the hold-down: its duties go back, once.
    await beat(th, 'room-01-thermostat', 'status');
    for (let i = 0; i < 8; i++) {
      await second(others);
      await beat(th, 'room-01-thermostat');
    }
    assert.equal((await decisionsOf('hub-hand-back')).length, 1);
    assert.equal((await decisionsOf('room-thermostat-silent')).length, 1);
    assert.deepEqual((await t.api('GET', '/api/v1/devices/room-01-heater')).body.twin.desired.state, {
      mode: 'remote',
    });
    for (let i = 0; i < 5; i++) {
      await second(others);
      await beat(th, 'room-01-thermostat');
    }
    assert.equal((await decisionsOf('hub-hand-back')).length, 1);
  });

  test('at degree approve the hand-back waits for a person; approved, the duties go back and the incident resolves', async () => {
    const { th, heater, backup, others } = await room();
    const over = await handedOver(others);
    await reportApplied(heater, 'room-01-heater', 1);
    await reportApplied(backup, 'room-01-backup', 1);
    const rules = { rules: [{ scope: 'fleet', property: 'self-healing', degree: 'approve' }] };
    assert.equal((await t.api('PUT', '/api/v1/autonomy', rules)).status, 200);
    await beat(th, 'room-01-thermostat', 'status');
    while (clock.now() < over.createdAt + HOLD_DOWN_MS + 3000) {
      await second(others);
      await beat(th, 'room-01-thermostat');
    }
    const waiting = await decisionsOf('hub-hand-back');
    assert.equal(waiting.length, 1);
    assert.equal(waiting[0]?.state, 'awaiting-approval');
    assert.deepEqual((await t.api('GET', '/api/v1/devices/room-01-heater')).body.twin.desired.state, { mode: 'auto' });
    assert.equal((await t.api('GET', `/api/v1/incidents/${over.incident}`)).body.state, 'open');
    // Not asked twice while it waits.
    await second(others);
    await beat(th, 'room-01-thermostat');
    assert.equal((await decisionsOf('hub-hand-back')).length, 1);

    const approved = (await t.api('POST', `/api/v1/decisions/${waiting[0]?.id}/approve`, {})).body;
    assert.equal(approved.state, 'succeeded', approved.explanation);
    assert.deepEqual((await t.api('GET', '/api/v1/devices/room-01-heater')).body.twin.desired.state, {
      mode: 'remote',
    });
    const incident = (await t.api('GET', `/api/v1/incidents/${over.incident}`)).body;
    assert.equal(incident.state, 'resolved', JSON.stringify(incident.timeline));
    const pm = (await t.api('GET', `/api/v1/incidents/${incident.id}/postmortem`)).body;
    assert.ok(
      pm.timeline.some(
        (e: { kind: string; message: string }) => e.kind === 'approval' && e.message === 'a person approved the plan',
      ),
    );
  });
});
