// Zero-touch provisioning over MQTT: a claim token opens one exchange, which creates the device
// from the group's template and returns its own credentials.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { inbox, startTestHub, type TestHub } from './harness.js';

describe('enrollment', () => {
  let t: TestHub;
  let claimToken: string;
  before(async () => {
    t = await startTestHub();
    const r = await t.api('POST', '/api/v1/enrollment-groups', {
      name: 'rooms',
      template: { labels: { site: 'paris', model: 'th-100' }, desired: { setpoint: 20 } },
      maxDevices: 2,
    });
    assert.equal(r.status, 201);
    claimToken = r.body.claimToken;
    assert.match(claimToken, /^hsc_/);
  });
  after(() => t.close());

  async function claim(clientId: string, request: unknown, token = claimToken) {
    const c = await t.mqtt({ clientId, username: '_claim', password: token, clean: true });
    const box = inbox(c);
    await c.subscribeAsync(`homeostat/v1/_claim/${clientId}/response`, { qos: 1 });
    await c.publishAsync(`homeostat/v1/_claim/${clientId}/request`, JSON.stringify(request), { qos: 1 });
    const response = JSON.parse((await box.next(() => true)).payload);
    await c.endAsync();
    return response;
  }

  test('a claim creates the device from the template and returns credentials that work', async () => {
    const r = await claim('claim-1', { name: 'room-42', serial: 'SN-42' });
    assert.equal(r.ok, true);
    assert.equal(r.deviceId, 'room-42');
    const device = (await t.api('GET', '/api/v1/devices/room-42')).body;
    assert.deepEqual(device.metadata.labels, { site: 'paris', model: 'th-100' });
    assert.deepEqual(device.twin.desired.state, { setpoint: 20 });
    assert.equal(device.status.enrollmentGroup, 'rooms');
    await t.mqtt({ clientId: 'room-42', username: 'room-42', password: r.token });
    const unnamed = await claim('claim-2', {});
    assert.match(unnamed.deviceId, /^rooms-[0-9a-f]{8}$/);
  });

  test('a retried claim (same client, same nonce) gets the same answer and enrols nothing more', async () => {
    await t.api('PUT', '/api/v1/enrollment-groups/rooms', { maxDevices: 10 });
    const before = (await t.api('GET', '/api/v1/enrollment-groups/rooms')).body.status.enrolled;
    const request = { name: 'room-77', nonce: 'n0nce-0123456789abcdef' };
    const first = await claim('claim-retry', request);
    const retry = await claim('claim-retry', request);
    assert.equal(first.ok, true);
    assert.deepEqual(retry, first);
    assert.equal((await t.api('GET', '/api/v1/enrollment-groups/rooms')).body.status.enrolled, before + 1);
    // Another client with the same nonce, or a request without a nonce, is not a retry.
    assert.equal((await claim('claim-other', request)).error.code, 'ERR_DEVICE_EXISTS');
    assert.equal((await claim('claim-retry', { name: 'room-77' })).error.code, 'ERR_DEVICE_EXISTS');
    // A rotated token ends the replay: the old answer is never handed out again.
    await t.api('POST', '/api/v1/devices/room-77/token');
    assert.equal((await claim('claim-retry', request)).error.code, 'ERR_DEVICE_EXISTS');
    await t.api('PUT', '/api/v1/enrollment-groups/rooms', { maxDevices: 2 });
  });

  test('a full group, a wrong claim token and an invalid request are refused', async () => {
    const full = await claim('claim-3', { name: 'room-43' });
    assert.deepEqual(full.ok, false);
    assert.equal(full.error.code, 'ERR_CLAIM_EXHAUSTED');
    await assert.rejects(claim('claim-4', {}, 'hsc_wrong'), /Bad username or password/i);
    await t.api('PUT', '/api/v1/enrollment-groups/rooms', { maxDevices: 10 });
    const invalid = await claim('claim-5', { name: 'Not Valid' });
    assert.equal(invalid.error.code, 'ERR_VALIDATION');
    const taken = await claim('claim-6', { name: 'room-42' });
    assert.equal(taken.error.code, 'ERR_DEVICE_EXISTS');
  });

  test('a claim client can touch nothing but its own exchange', async () => {
    const c = await t.mqtt({ clientId: 'claim-7', username: '_claim', password: claimToken });
    const box = inbox(c);
    await c.subscribeAsync('homeostat/v1/_claim/claim-7/response', { qos: 1 });
    await c.publishAsync('homeostat/v1/room-42/telemetry', JSON.stringify({ seq: 1, metrics: { x: 1 } }), { qos: 1 });
    const denied = await new Promise<number>((resolve) =>
      c.subscribe('homeostat/v1/room-42/#', { qos: 1 }, (err) =>
        resolve((err as { packet?: { granted?: number[] } } | null)?.packet?.granted?.[0] ?? 0),
      ),
    );
    assert.equal(denied, 128);
    const points = (await t.api('GET', '/api/v1/devices/room-42/telemetry?metric=x&from=0')).body.points;
    assert.deepEqual(points, []);
    assert.deepEqual(box.messages, []);
  });

  test('an expired group refuses claims', async () => {
    const r = await t.api('POST', '/api/v1/enrollment-groups', { name: 'old', expiresAt: 1000 });
    await assert.rejects(claim('claim-8', {}, r.body.claimToken), /Bad username or password/i);
  });
});
