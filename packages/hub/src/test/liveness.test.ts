// Liveness on a fake clock, with real MQTT connections: online from status and heartbeats,
// suspect then offline from silence, offline at once from the last will; the device view
// says which evidence decided.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FakeClock } from '@homeostat/kit';
import { startTestHub, type TestHub, until } from './harness.js';

describe('liveness', () => {
  let t: TestHub;
  const clock = new FakeClock(1_800_000_000_000);
  before(async () => {
    t = await startTestHub({ heartbeatMs: 1000 }, { clock });
  });
  after(() => t.close());

  const liveness = async (name: string) => (await t.api('GET', `/api/v1/devices/${name}`)).body.status.liveness;

  test('status, heartbeats, then silence: online, suspect, offline within two intervals', async () => {
    const token = await t.createDevice('lv-1');
    const d = await t.mqtt({ clientId: 'lv-1', username: 'lv-1', password: token });
    await d.publishAsync('homeostat/v1/lv-1/status', JSON.stringify({ online: true, heartbeatMs: 1000 }), {
      qos: 1,
      retain: true,
    });
    let l = await liveness('lv-1');
    assert.equal(l.state, 'online');
    assert.equal(l.evidence.kind, 'status-online');
    assert.equal(l.heartbeatMs, 1000);

    await clock.advance(900);
    await d.publishAsync('homeostat/v1/lv-1/heartbeat', '', { qos: 0 });
    await until(async () => (await liveness('lv-1')).lastSeen === clock.now(), 2000, 'heartbeat seen');
    const lastBeat = clock.now();

    await clock.advance(1200); // 1.2 intervals of silence: still online
    assert.equal((await liveness('lv-1')).state, 'online');
    await clock.advance(400); // 1.6 intervals: suspect
    l = await liveness('lv-1');
    assert.equal(l.state, 'suspect');
    assert.equal(l.evidence.kind, 'heartbeat-missed');
    await clock.advance(300); // 1.9 intervals: offline, detected within 2 intervals
    l = await liveness('lv-1');
    assert.equal(l.state, 'offline');
    assert.equal(l.evidence.kind, 'heartbeat-missed');
    assert.ok(l.since - lastBeat <= 2000, `detected ${l.since - lastBeat} ms after the last heartbeat`);
    assert.match(l.evidence.detail, /heartbeat intervals/);

    await d.publishAsync('homeostat/v1/lv-1/heartbeat', JSON.stringify({ ts: clock.now() }), { qos: 0 });
    await until(async () => (await liveness('lv-1')).state === 'online', 2000, 'back online');
    assert.equal((await liveness('lv-1')).evidence.kind, 'heartbeat');
  });

  test('a lost connection publishes the last will: offline at once, with that evidence', async () => {
    const token = await t.createDevice('lv-2');
    const d = await t.mqtt({
      clientId: 'lv-2',
      username: 'lv-2',
      password: token,
      will: { topic: 'homeostat/v1/lv-2/status', payload: Buffer.from('{"online":false}'), qos: 1, retain: true },
    });
    await d.publishAsync('homeostat/v1/lv-2/status', JSON.stringify({ online: true }), { qos: 1, retain: true });
    assert.equal((await liveness('lv-2')).state, 'online');
    d.stream.destroy(); // no DISCONNECT packet: the broker publishes the will
    await until(async () => (await liveness('lv-2')).evidence.kind === 'last-will', 3000, 'last will');
    assert.equal((await liveness('lv-2')).state, 'offline');
  });

  test('a clean disconnect without a status message still marks the device offline', async () => {
    const token = await t.createDevice('lv-3');
    const d = await t.mqtt({ clientId: 'lv-3', username: 'lv-3', password: token });
    assert.equal((await liveness('lv-3')).evidence.kind, 'connected');
    await d.endAsync();
    await until(async () => (await liveness('lv-3')).state === 'offline', 3000, 'offline');
    assert.equal((await liveness('lv-3')).evidence.kind, 'disconnected');
  });

  test('a takeover by a new connection of the same device keeps it online; the old will is ignored', async () => {
    const token = await t.createDevice('lv-4');
    const will = {
      topic: 'homeostat/v1/lv-4/status',
      payload: Buffer.from('{"online":false}'),
      qos: 1 as const,
      retain: true,
    };
    const first = await t.mqtt({ clientId: 'lv-4', username: 'lv-4', password: token, will });
    await first.publishAsync('homeostat/v1/lv-4/status', JSON.stringify({ online: true }), { qos: 1, retain: true });
    const second = await t.mqtt({ clientId: 'lv-4', username: 'lv-4', password: token, will });
    await second.publishAsync('homeostat/v1/lv-4/heartbeat', '', { qos: 0 });
    await new Promise((r) => setTimeout(r, 200));
    const l = await liveness('lv-4');
    assert.equal(l.state, 'online', JSON.stringify(l));
    assert.equal((await t.api('GET', '/api/v1/devices/lv-4')).body.status.connected, true);
    const transitions = (await t.api('GET', '/api/v1/events?device=lv-4&type=liveness')).body.items;
    assert.equal(
      transitions.some((e: { data: { to: string } }) => e.data.to === 'offline'),
      false,
      JSON.stringify(transitions),
    );
  });

  test('transitions are recorded as events', async () => {
    const items = (await t.api('GET', '/api/v1/events?device=lv-1&type=liveness')).body.items;
    assert.deepEqual(
      items.map((e: { data: { to: string } }) => e.data.to),
      ['online', 'suspect', 'offline', 'online'],
    );
  });
});
