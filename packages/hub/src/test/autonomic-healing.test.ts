// Self-healing end to end, on a fake clock with real MQTT clients and the demo's own policies:
// a silent thermostat puts its room's heater in safe mode, opens an incident and hands its duty
// to the backup labelled for it, verified when the devices apply it; a whole site going silent
// at once is a partition: one held decision, no action; a pump's bearing alarm slows it and
// writes a work order, unless the pump's own loop is acting.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { FakeClock } from '@homeostat/kit';
import type { MqttClient } from 'mqtt';
import { DEMO_POLICIES } from '../autonomic/demo-policies.js';
import { startTestHub, type TestHub } from './harness.js';

describe('autonomic: self-healing', () => {
  let t: TestHub;
  let clock: FakeClock;

  beforeEach(async () => {
    clock = new FakeClock(1_800_000_000_000);
    t = await startTestHub({ heartbeatMs: 1000 }, { clock });
    for (const p of DEMO_POLICIES) {
      const r = await t.api('PUT', `/api/v1/policies/${p.name}`, { labels: p.labels, spec: p.spec });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
  });
  afterEach(() => t.close());

  async function device(name: string, labels: Record<string, string>, desired?: Record<string, unknown>) {
    const r = await t.api('POST', '/api/v1/devices', { name, labels, ...(desired ? { desired } : {}) });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.token as string;
  }

  /** Connects as the device and announces it online with a heartbeat of 1 s. */
  async function online(name: string, token: string): Promise<MqttClient> {
    const c = await t.mqtt({ clientId: name, username: name, password: token });
    await c.publishAsync(`homeostat/v1/${name}/status`, JSON.stringify({ online: true, heartbeatMs: 1000 }), {
      qos: 1,
      retain: true,
    });
    return c;
  }

  async function reportApplied(c: MqttClient, name: string): Promise<void> {
    const desired = (await t.api('GET', `/api/v1/devices/${name}`)).body.twin.desired;
    await c.publishAsync(
      `homeostat/v1/${name}/twin/reported`,
      JSON.stringify({ version: 1, state: desired.state, desiredVersion: desired.version }),
      { qos: 1 },
    );
  }

  const room = (n: string, model: string, extra: Record<string, string> = {}) => ({
    site: 'home',
    model,
    room: n,
    ...extra,
  });

  test('a silent thermostat: heater to safe mode, incident, duty handed to its backup, verified', async () => {
    const thermostat = await device('room-01-thermostat', room('room-01', 'th-100'), { setpoint: 21 });
    const heater = await device('room-01-heater', room('room-01', 'ht-200'), { mode: 'remote', setpoint: 21 });
    const backup = await device('room-01-backup', room('room-01', 'th-100', { 'backup-for': 'room-01-thermostat' }));
    await device('room-02-heater', room('room-02', 'ht-200'), { mode: 'remote' });
    await online('room-01-thermostat', thermostat);

    await clock.advance(1900); // offline after 1.8 intervals, then the site's settle time
    await clock.advance(1000);
    await t.hub.autonomic.idle();
    const [d] = (await t.api('GET', '/api/v1/decisions?device=room-01-thermostat')).body.items;
    assert.ok(d, 'a decision');
    assert.equal(d.policy, 'room-thermostat-silent');
    assert.equal(d.degree, 'act');
    assert.equal(d.state, 'succeeded', d.explanation);
    assert.deepEqual(d.devices, ['room-01-thermostat', 'room-01-heater', 'room-01-backup']);
    assert.deepEqual(
      d.actions.map((a: { action: string; device: string; state: string }) => `${a.action} ${a.device} ${a.state}`),
      ['patch-desired room-01-heater done', 'open-incident room-01-thermostat done', 'hand-over room-01-backup done'],
    );
    const heaterNow = (await t.api('GET', '/api/v1/devices/room-01-heater')).body;
    assert.deepEqual(heaterNow.twin.desired.state, { mode: 'auto', setpoint: 21 });
    // The other room's heater is left alone.
    assert.equal((await t.api('GET', '/api/v1/devices/room-02-heater')).body.twin.desired.state.mode, 'remote');
    assert.deepEqual((await t.api('GET', '/api/v1/devices/room-01-backup')).body.twin.desired.state, { setpoint: 21 });
    const [incident] = (await t.api('GET', '/api/v1/incidents?device=room-01-thermostat')).body.items;
    assert.equal(incident.symptom, 'thermostat-silent');
    assert.equal(d.incident, incident.id);
    assert.match(d.explanation, /room-01-thermostat is offline: nothing received for/);
    assert.match(d.explanation, /set the desired state of room-01-heater: \{"mode":"auto"\}: done/);
    assert.match(d.explanation, /hand the duties of room-01-thermostat over to room-01-backup/);
    assert.match(d.explanation, /Degree: act \(act, then report\), from the default for safe actions/);

    // The heater and the backup apply what they were sent: verified.
    await reportApplied(await online('room-01-heater', heater), 'room-01-heater');
    await reportApplied(await online('room-01-backup', backup), 'room-01-backup');
    await clock.advance(1000);
    await t.hub.autonomic.idle();
    const verified = (await t.api('GET', `/api/v1/decisions/${d.id}`)).body;
    assert.equal(verified.state, 'verified', verified.explanation);
    assert.match(verified.verification.detail, /applied by room-01-heater, room-01-backup/);
  });

  test('a silent thermostat among a site still heard is acted on at detection, not after the settle time', async () => {
    const thermostat = await device('room-05-thermostat', room('room-05', 'th-100'), { setpoint: 21 });
    const heater = await device('room-05-heater', room('room-05', 'ht-200'), { mode: 'remote', setpoint: 21 });
    const site: MqttClient[] = [];
    for (let i = 6; i <= 9; i++) {
      const name = `room-0${i}-thermostat`;
      site.push(await online(name, await device(name, room(`room-0${i}`, 'th-100'))));
    }
    site.push(await online('room-05-heater', heater));
    await online('room-05-thermostat', thermostat);
    // The rest of the site keeps heartbeating every 100 ms of the fake clock; the thermostat is silent.
    const heartbeats = async () => {
      for (const c of site) await c.publishAsync(`homeostat/v1/${c.options.clientId}/heartbeat`, '', { qos: 1 });
    };
    for (let elapsed = 0; elapsed < 1900; elapsed += 100) {
      await clock.advance(100);
      await heartbeats();
    }
    await t.hub.autonomic.idle();
    const [d] = (await t.api('GET', '/api/v1/decisions?device=room-05-thermostat')).body.items;
    assert.ok(d, 'a decision at 1.9 s: no settle time waited');
    assert.equal(d.state, 'succeeded', d.explanation);
    assert.match(
      d.trigger.summary,
      /partition guard: at most 1 of the 6 devices of site home went silent with it \(5 heard since\): not a partition/,
    );
    assert.equal((await t.api('GET', '/api/v1/devices/room-05-heater')).body.twin.desired.state.mode, 'auto');
  });

  test('unapplied by the deadline, the decision escalates and its incident turns critical', async () => {
    const thermostat = await device('room-03-thermostat', room('room-03', 'th-100'), { setpoint: 20 });
    await device('room-03-heater', room('room-03', 'ht-200'), { mode: 'remote' });
    await online('room-03-thermostat', thermostat);
    await clock.advance(2900);
    await t.hub.autonomic.idle();
    const [d] = (await t.api('GET', '/api/v1/decisions?device=room-03-thermostat')).body.items;
    // No backup is labelled: the hand-over is skipped and says why.
    assert.equal(d.actions[2].state, 'skipped');
    assert.match(d.actions[2].result, /no peer of room-03-thermostat: backup-for=room-03-thermostat matches no device/);
    await clock.advance(31_000);
    await t.hub.autonomic.idle();
    const escalated = (await t.api('GET', `/api/v1/decisions/${d.id}`)).body;
    assert.equal(escalated.state, 'escalated');
    assert.match(escalated.verification.detail, /not applied by room-03-heater/);
    const incident = (await t.api('GET', `/api/v1/incidents/${escalated.incident}`)).body;
    assert.equal(incident.severity, 'critical');
    assert.match(incident.timeline.at(-1).message, /escalated/);
  });

  test('partition: five thermostats of one site silent at once make one held decision and no action', async () => {
    const clients: MqttClient[] = [];
    for (let i = 1; i <= 5; i++) {
      const token = await device(`cut-${i}-thermostat`, { site: 'annex', model: 'th-100', room: `cut-${i}` });
      await device(`cut-${i}-heater`, { site: 'annex', model: 'ht-200', room: `cut-${i}` }, { mode: 'remote' });
      clients.push(await online(`cut-${i}-thermostat`, token));
    }
    await clock.advance(1900);
    await clock.advance(1000);
    await t.hub.autonomic.idle();
    const items = (await t.api('GET', '/api/v1/decisions')).body.items;
    assert.equal(items.length, 1, JSON.stringify(items.map((d: { explanation: string }) => d.explanation)));
    const [d] = items;
    assert.equal(d.state, 'held');
    assert.equal(d.analysis.symptom, 'site-partition');
    assert.deepEqual(d.actions, []);
    assert.deepEqual(
      d.devices,
      [1, 2, 3, 4, 5].map((i) => `cut-${i}-thermostat`),
    );
    assert.match(d.hold.reason, /5 of the 10 devices of site annex went silent within 2000 ms of each other/);
    assert.match(d.explanation, /Held, nothing was done: partition guard/);
    for (let i = 1; i <= 5; i++) {
      const heater = (await t.api('GET', `/api/v1/devices/cut-${i}-heater`)).body;
      assert.equal(heater.twin.desired.state.mode, 'remote');
    }
    assert.deepEqual((await t.api('GET', '/api/v1/incidents')).body.items, []);
  });

  test("a pump's bearing alarm slows it and writes a work order with its history", async () => {
    const token = await device('pump-07', { site: 'plant', model: 'pm-400' }, { running: true, speed: 0.8 });
    const pump = await online('pump-07', token);
    const event = (seq: number, type: string, code: string, rule: string) =>
      pump.publishAsync(
        'homeostat/v1/pump-07/events',
        JSON.stringify({ seq, type, code, data: { rule }, message: `${code} by ${rule}` }),
        { qos: 1 },
      );
    // The rule that raises the alarm reports its own decision too: that is not the pump acting.
    await event(1, 'action', 'RULE_ACTIVATED', 'pump-bearing-alarm');
    await event(2, 'alarm', 'BEARING_WEAR', 'pump-bearing-alarm');
    await t.hub.autonomic.idle();
    const [d] = (await t.api('GET', '/api/v1/decisions?device=pump-07')).body.items;
    assert.equal(d.state, 'succeeded', d.explanation);
    assert.equal((await t.api('GET', '/api/v1/devices/pump-07')).body.twin.desired.state.speed, 0.5);
    const [order] = (await t.api('GET', '/api/v1/incidents?device=pump-07')).body.items;
    assert.equal(order.type, 'work-order');
    assert.equal(order.title, 'replace the drive-end bearing');
    assert.deepEqual(
      order.history.events.map((e: { code: string }) => e.code).filter((c: string) => c !== null),
      ['RULE_ACTIVATED', 'BEARING_WEAR'],
    );
  });

  test("a fleet action waits while the device's own loop is acting, and says why", async () => {
    const token = await device('pump-08', { site: 'plant', model: 'pm-400' }, { running: true, speed: 0.8 });
    const pump = await online('pump-08', token);
    await pump.publishAsync(
      'homeostat/v1/pump-08/events',
      JSON.stringify({ seq: 1, type: 'action', code: 'RULE_ACTIVATED', data: { rule: 'pump-vibration-guard' } }),
      { qos: 1 },
    );
    await pump.publishAsync(
      'homeostat/v1/pump-08/events',
      JSON.stringify({ seq: 2, type: 'alarm', code: 'BEARING_WEAR', data: { rule: 'pump-bearing-alarm' } }),
      { qos: 1 },
    );
    await t.hub.autonomic.idle();
    const [d] = (await t.api('GET', '/api/v1/decisions?device=pump-08')).body.items;
    assert.equal(d.state, 'held');
    assert.match(d.hold.reason, /pump-08 is acting on its own \(RULE_ACTIVATED by pump-vibration-guard/);
    assert.equal((await t.api('GET', '/api/v1/devices/pump-08')).body.twin.desired.state.speed, 0.8);
  });
});
