// A plain MQTT client acts as a device, as docs/protocol.md shows: mosquitto_pub and
// mosquitto_sub (Debian's mosquitto-clients) against the hub. Skipped where they are absent.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { startTestHub, type TestHub } from './harness.js';

const run = promisify(execFile);
const available = await run('mosquitto_pub', ['--help']).then(
  () => true,
  (err: { code?: unknown }) => err.code !== 'ENOENT',
);

describe('mosquitto_pub and mosquitto_sub as a device', {
  skip: available ? false : 'mosquitto-clients not installed',
}, () => {
  let t: TestHub;
  let token: string;
  const as = (id: string, secret: string) => [
    '-h',
    '127.0.0.1',
    '-p',
    String(t.started.mqttPort),
    '-i',
    id,
    '-u',
    id,
    '-P',
    secret,
  ];
  before(async () => {
    t = await startTestHub();
    token = await t.createDevice('plain-1');
  });
  after(() => t.close());

  test('telemetry published twice with one seq is stored once', async () => {
    const args = [
      ...as('plain-1', token),
      '-q',
      '1',
      '-t',
      'homeostat/v1/plain-1/telemetry',
      '-m',
      '{"seq":1,"metrics":{"temperature":20.5}}',
    ];
    await run('mosquitto_pub', args);
    await run('mosquitto_pub', args);
    const points = (await t.api('GET', '/api/v1/devices/plain-1/telemetry?metric=temperature&from=0')).body.points;
    assert.deepEqual(
      points.map((p: { seq: number; value: number }) => [p.seq, p.value]),
      [[1, 20.5]],
    );
  });

  test('the desired state reaches mosquitto_sub, retained, and a reported patch comes back', async () => {
    await t.api('PATCH', '/api/v1/devices/plain-1/twin/desired', { version: 0, state: { setpoint: 21 } });
    const sub = await run('mosquitto_sub', [
      ...as('plain-1', token),
      '-q',
      '1',
      '-t',
      'homeostat/v1/plain-1/twin/desired',
      '-C',
      '1',
      '-W',
      '5',
    ]);
    assert.deepEqual(JSON.parse(sub.stdout), { version: 1, state: { setpoint: 21 } });
    await run('mosquitto_pub', [
      ...as('plain-1', token),
      '-q',
      '1',
      '-t',
      'homeostat/v1/plain-1/twin/reported',
      '-m',
      '{"version":1,"state":{"setpoint":21},"desiredVersion":1}',
    ]);
    const twin = (await t.api('GET', '/api/v1/devices/plain-1')).body.twin;
    assert.equal(twin.reported.desiredVersion, 1);
  });

  test('anonymous and wrong-token connections are refused', async () => {
    await assert.rejects(
      run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(t.started.mqttPort), '-t', 'x', '-m', '1']),
      /not authori[sz]ed|Connection Refused/i,
    );
    await assert.rejects(
      run('mosquitto_pub', [...as('plain-1', 'hsd_wrong'), '-t', 'homeostat/v1/plain-1/telemetry', '-m', '{}']),
      /bad user name or password|Connection Refused/i,
    );
  });
});
