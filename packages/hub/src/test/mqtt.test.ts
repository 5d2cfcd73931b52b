// The MQTT contract over real sockets: authentication, every ACL rule, bad payloads,
// de-duplication. A refused message is acknowledged, reported on the device's `errors` topic,
// counted and logged, and the connection keeps working.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { inbox, startTestHub, type TestHub, until } from './harness.js';

describe('mqtt endpoint', () => {
  let t: TestHub;
  let tokenA: string;
  let a: MqttClient;
  let notices: ReturnType<typeof inbox>;
  before(async () => {
    t = await startTestHub({ maxPayloadBytes: 4096 });
    tokenA = await t.createDevice('dev-a', { site: 'paris' });
    await t.createDevice('dev-b');
    a = await t.mqtt({ clientId: 'dev-a', username: 'dev-a', password: tokenA, clean: false });
    notices = inbox(a);
    await a.subscribeAsync('homeostat/v1/dev-a/errors', { qos: 0 });
  });
  after(() => t.close());

  const readings = async (device: string, metric: string) =>
    (await t.api('GET', `/api/v1/devices/${device}/telemetry?metric=${metric}&from=0`)).body.points as {
      seq: number;
      ts: number;
      value: number;
    }[];
  const notice = (code: string) =>
    notices.next((m) => m.topic.endsWith('/errors') && JSON.parse(m.payload).code === code);
  const metric = async (name: string) => {
    const text = (await t.api('GET', '/metrics', undefined, null)).body as string;
    return text
      .split('\n')
      .filter((l) => l.startsWith(name))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  };

  test('anonymous, unknown device, wrong token and a foreign client id are refused', async () => {
    await assert.rejects(t.mqtt({ clientId: 'anon' }), /Not authorized/i);
    await assert.rejects(t.mqtt({ clientId: 'ghost', username: 'ghost', password: 'x' }), /Bad username or password/i);
    await assert.rejects(
      t.mqtt({ clientId: 'dev-a', username: 'dev-a', password: 'hsd_wrong' }),
      /Bad username or password/i,
    );
    await assert.rejects(t.mqtt({ clientId: 'dev-b', username: 'dev-a', password: tokenA }), /Identifier rejected/i);
    assert.ok((await metric('homeostat_mqtt_auth_failures_total')) >= 4);
    await until(
      async () => (await t.api('GET', '/api/v1/events?type=security')).body.items.length >= 3,
      2000,
      'events',
    );
  });

  test('telemetry is stored once per (device, seq); a redelivery is counted and ignored', async () => {
    const msg = JSON.stringify({ seq: 1, ts: Date.now(), metrics: { temperature: 20.5, humidity: 40 } });
    await a.publishAsync('homeostat/v1/dev-a/telemetry', msg, { qos: 1 });
    await a.publishAsync('homeostat/v1/dev-a/telemetry', msg, { qos: 1 });
    // Without a ts the hub stamps each arrival with its own time: still the same reading.
    const unstamped = JSON.stringify({ seq: 2, metrics: { temperature: 21 } });
    await a.publishAsync('homeostat/v1/dev-a/telemetry', unstamped, { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    await a.publishAsync('homeostat/v1/dev-a/telemetry', unstamped, { qos: 1 });
    // PUBACK came back: the readings are stored already.
    assert.deepEqual(
      (await readings('dev-a', 'temperature')).map((p) => [p.seq, p.value]),
      [
        [1, 20.5],
        [2, 21],
      ],
    );
    assert.equal(await metric('homeostat_telemetry_duplicates_total'), 3);
    assert.equal(await metric('homeostat_telemetry_seq_conflicts_total'), 0);
  });

  test('a seq reused with other values or another ts is a conflict: the first reading kept, the device told', async () => {
    const first = (await readings('dev-a', 'temperature'))[0]!;
    await a.publishAsync(
      'homeostat/v1/dev-a/telemetry',
      JSON.stringify([
        { seq: 3, metrics: { temperature: 22 } },
        { seq: 1, ts: first.ts, metrics: { temperature: 99 } },
      ]),
      { qos: 1 },
    );
    const conflict = JSON.parse((await notice('ERR_TELEMETRY_SEQ_CONFLICT')).payload);
    assert.equal(conflict.seq, 1);
    assert.equal(conflict.topic, 'homeostat/v1/dev-a/telemetry');
    assert.match(
      conflict.details[0],
      /^seq 1: ts \d+ \{"temperature":20.5,"humidity":40\} stored, ts \d+ \{"temperature":99\} received$/,
    );
    // The same values at another time: a conflict too.
    await a.publishAsync(
      'homeostat/v1/dev-a/telemetry',
      JSON.stringify({ seq: 1, ts: first.ts + 1, metrics: { humidity: 40, temperature: 20.5 } }),
      { qos: 1 },
    );
    await notices.next((m) => m.payload.includes('SEQ_CONFLICT') && m.payload.includes(`ts ${first.ts + 1}`));
    assert.deepEqual(
      (await readings('dev-a', 'temperature')).map((p) => [p.seq, p.value]),
      [
        [1, 20.5],
        [2, 21],
        [3, 22],
      ],
    );
    assert.equal(await metric('homeostat_telemetry_seq_conflicts_total'), 2);
    assert.equal(await metric('homeostat_telemetry_duplicates_total'), 3);
    await until(
      async () =>
        (await t.api('GET', '/api/v1/events?device=dev-a&type=protocol')).body.items.filter(
          (e: { code: string }) => e.code === 'ERR_TELEMETRY_SEQ_CONFLICT',
        ).length === 2,
      2000,
      'conflict events',
    );
  });

  test('a device may not publish as another device, nor publish desired state or commands', async () => {
    await a.publishAsync('homeostat/v1/dev-b/telemetry', JSON.stringify({ seq: 1, metrics: { x: 1 } }), { qos: 1 });
    await notice('ERR_MQTT_TOPIC_DENIED');
    assert.deepEqual(await readings('dev-b', 'x'), []);
    const b = await t.createDevice('dev-c');
    const c = await t.mqtt({ clientId: 'dev-c', username: 'dev-c', password: b });
    const cInbox = inbox(c);
    await c.subscribeAsync('homeostat/v1/dev-c/#', { qos: 1 });
    await a.publishAsync('homeostat/v1/dev-c/twin/desired', JSON.stringify({ version: 99, state: { evil: true } }), {
      qos: 1,
      retain: true,
    });
    await a.publishAsync('homeostat/v1/dev-a/twin/desired', JSON.stringify({ version: 99, state: {} }), { qos: 1 });
    await a.publishAsync('homeostat/v1/dev-a/commands/reboot', JSON.stringify({ id: '1', args: {} }), { qos: 1 });
    await a.publishAsync('homeostat/v1/dev-a/errors', '{}', { qos: 1 });
    await until(() => notices.messages.filter((m) => m.payload.includes('ERR_MQTT_TOPIC_DENIED')).length >= 5);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(cInbox.messages, [], 'nothing reached the other device');
    assert.equal((await t.api('GET', '/api/v1/devices/dev-c')).body.twin.desired.version, 0);
  });

  test('subscriptions outside the own subtree are refused in SUBACK; the own subtree is granted', async () => {
    const suback = (topic: string) =>
      new Promise<number>((resolve) =>
        a.subscribe(topic, { qos: 1 }, (err, granted) =>
          resolve(
            err ? ((err as { packet?: { granted?: number[] } }).packet?.granted?.[0] ?? -1) : (granted?.[0]?.qos ?? -1),
          ),
        ),
      );
    const codes: [string, number][] = [];
    for (const topic of ['homeostat/v1/dev-b/#', 'homeostat/v1/+/telemetry', '#', '$SYS/#', 'homeostat/v1/dev-a/#']) {
      codes.push([topic, await suback(topic)]);
    }
    assert.deepEqual(codes, [
      ['homeostat/v1/dev-b/#', 128],
      ['homeostat/v1/+/telemetry', 128],
      ['#', 128],
      ['$SYS/#', 128],
      ['homeostat/v1/dev-a/#', 1],
    ]);
    await a.unsubscribeAsync('homeostat/v1/dev-a/#');
    assert.ok((await metric('homeostat_mqtt_subscriptions_denied_total')) >= 4);
  });

  test('malformed JSON, wrong types, odd metric names, unknown topics and oversized payloads are refused precisely', async () => {
    await a.publishAsync('homeostat/v1/dev-a/telemetry', '{"seq": 10, "metrics": ', { qos: 1 });
    await notice('ERR_BAD_JSON');
    await a.publishAsync('homeostat/v1/dev-a/telemetry', JSON.stringify({ seq: 'ten', metrics: { t: 'hot' } }), {
      qos: 1,
    });
    const invalid = JSON.parse((await notice('ERR_VALIDATION')).payload);
    assert.ok(
      invalid.details.some((d: string) => d.startsWith('/seq')),
      invalid.details,
    );
    assert.equal(invalid.topic, 'homeostat/v1/dev-a/telemetry');
    notices.messages.length = 0;
    await a.publishAsync('homeostat/v1/dev-a/telemetry', JSON.stringify({ seq: 11, metrics: { 'tem p/#': 1 } }), {
      qos: 1,
    });
    await notice('ERR_VALIDATION');
    await a.publishAsync('homeostat/v1/dev-a/telemetry', '{"seq": 12, "metrics": {"t": 1e999}}', { qos: 1 });
    const inf = JSON.parse((await notices.next((m) => m.payload.includes('not finite'))).payload);
    assert.equal(inf.code, 'ERR_BAD_JSON');
    // A device clock a month ahead: the reading is kept, at the hub's time, and the device told.
    const before = Date.now();
    await a.publishAsync(
      'homeostat/v1/dev-a/telemetry',
      JSON.stringify({ seq: 13, ts: Date.now() + 30 * 86400_000, metrics: { t: 1 } }),
      {
        qos: 1,
      },
    );
    const clockNotice = JSON.parse((await notice('ERR_TELEMETRY_TIMESTAMP')).payload);
    assert.equal(clockNotice.seq, 13);
    const corrected = (await readings('dev-a', 't')).find((p) => p.seq === 13) as { ts: number } | undefined;
    assert.ok(corrected && corrected.ts >= before && corrected.ts <= Date.now(), 'stored at the hub time');
    assert.equal(await metric('homeostat_telemetry_clock_corrected_total'), 1);
    await a.publishAsync('homeostat/v1/dev-a/whatever', '{}', { qos: 1 });
    await notice('ERR_MQTT_UNKNOWN_TOPIC');
    await a.publishAsync(
      'homeostat/v1/dev-a/telemetry',
      JSON.stringify({ seq: 14, metrics: { t: 1 }, pad: 'x'.repeat(5000) }),
      {
        qos: 1,
      },
    );
    await notice('ERR_PAYLOAD_TOO_LARGE');
    // The connection still works, and nothing refused above was stored.
    await a.publishAsync('homeostat/v1/dev-a/telemetry', JSON.stringify({ seq: 15, metrics: { t: 7 } }), { qos: 1 });
    assert.deepEqual(
      (await readings('dev-a', 't')).map((p) => p.seq),
      [13, 15],
    );
    assert.ok((await metric('homeostat_mqtt_messages_rejected_total')) >= 6);
    const events = (await t.api('GET', '/api/v1/events?device=dev-a&type=protocol')).body.items;
    assert.ok(events.some((e: { code: string }) => e.code === 'ERR_PAYLOAD_TOO_LARGE'));
  });

  test('a packet announcing far more than the limit closes that connection before it is read', async () => {
    const { connect } = await import('node:net');
    const socket = connect(t.started.mqttPort, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    // CONNECT with a Remaining Length of 200 MB [MQTT-2.2.3], then a stream of its body.
    socket.write(Buffer.from([0x10, 0x80, 0x84, 0xaf, 0x5f]));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    socket.write(Buffer.alloc(1024 * 1024));
    await closed;
    assert.equal(await metric('homeostat_mqtt_packets_refused_total'), 1);
    await a.publishAsync('homeostat/v1/dev-a/telemetry', JSON.stringify({ seq: 500, metrics: { t: 1 } }), { qos: 1 });
    assert.ok(
      (await readings('dev-a', 't')).some((p) => p.seq === 500),
      'the others are still served',
    );
  });

  test('events are stored once per (device, seq)', async () => {
    const alarm = JSON.stringify({
      seq: 100,
      type: 'alarm',
      code: 'overheat',
      severity: 'critical',
      message: 'too hot',
    });
    await a.publishAsync('homeostat/v1/dev-a/events', alarm, { qos: 1 });
    await a.publishAsync('homeostat/v1/dev-a/events', alarm, { qos: 1 });
    const items = (await t.api('GET', '/api/v1/events?device=dev-a&type=alarm')).body.items;
    assert.equal(items.length, 1);
    assert.equal(items[0].source, 'device');
    assert.equal(items[0].severity, 'critical');
  });

  test('deleting a device closes its connection and its token stops working', async () => {
    const token = await t.createDevice('doomed');
    const d = await t.mqtt({ clientId: 'doomed', username: 'doomed', password: token });
    await d.publishAsync('homeostat/v1/doomed/status', JSON.stringify({ online: true }), { qos: 1, retain: true });
    const closed = new Promise<void>((resolve) => d.once('close', () => resolve()));
    assert.equal((await t.api('DELETE', '/api/v1/devices/doomed')).status, 204);
    await closed;
    await new Promise((r) => setTimeout(r, 100));
    // The closing connection does not bring the deleted device back as offline.
    const after = (await t.api('GET', '/api/v1/events?device=doomed&type=liveness')).body.items;
    assert.deepEqual(
      after.map((e: { data: { to: string } }) => e.data.to),
      ['online'],
    );
    assert.equal(t.hub.services.liveness.get('doomed').evidence.kind, 'never-seen');
    await assert.rejects(
      t.mqtt({ clientId: 'doomed', username: 'doomed', password: token }),
      /Bad username or password/i,
    );
  });

  test('a rotated token replaces the old one', async () => {
    const old = await t.createDevice('rotor');
    const fresh = (await t.api('POST', '/api/v1/devices/rotor/token')).body.token;
    assert.notEqual(fresh, old);
    await assert.rejects(t.mqtt({ clientId: 'rotor', username: 'rotor', password: old }), /Bad username or password/i);
    await t.mqtt({ clientId: 'rotor', username: 'rotor', password: fresh });
  });
});
