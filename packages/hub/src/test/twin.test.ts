// Twins over real sockets: optimistic concurrency on desired state, delivery to a device that
// was offline, reported patches in version order.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { inbox, startTestHub, type TestHub, until } from './harness.js';

describe('twins', () => {
  let t: TestHub;
  before(async () => {
    t = await startTestHub();
  });
  after(() => t.close());

  test('desired state: a stale version gets 409 and changes nothing', async () => {
    await t.createDevice('tw-1');
    const first = await t.api('PATCH', '/api/v1/devices/tw-1/twin/desired', { version: 0, state: { setpoint: 21 } });
    assert.equal(first.status, 200);
    assert.deepEqual(first.body.twin.desired.state, { setpoint: 21 });
    assert.equal(first.body.twin.desired.version, 1);
    const stale = await t.api('PATCH', '/api/v1/devices/tw-1/twin/desired', { version: 0, state: { setpoint: 5 } });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.error.code, 'ERR_TWIN_VERSION_CONFLICT');
    const merged = await t.api('PATCH', '/api/v1/devices/tw-1/twin/desired', {
      version: 1,
      state: { mode: 'auto', setpoint: null },
    });
    assert.deepEqual(merged.body.twin.desired, {
      version: 2,
      state: { mode: 'auto' },
      updatedAt: merged.body.twin.desired.updatedAt,
    });
    const missing = await t.api('PATCH', '/api/v1/devices/nope/twin/desired', { version: 0, state: {} });
    assert.equal(missing.status, 404);
    const bad = await t.api('PATCH', '/api/v1/devices/tw-1/twin/desired', { version: 'x', state: [] });
    assert.equal(bad.status, 400);
  });

  test('a desired change made while the device is offline reaches it when it connects, and is reported back', async () => {
    const token = await t.createDevice('tw-2');
    await t.api('PATCH', '/api/v1/devices/tw-2/twin/desired', { version: 0, state: { setpoint: 19 } });
    await t.api('PATCH', '/api/v1/devices/tw-2/twin/desired', { version: 1, state: { mode: 'eco' } });
    const d = await t.mqtt({ clientId: 'tw-2', username: 'tw-2', password: token });
    const box = inbox(d);
    await d.subscribeAsync('homeostat/v1/tw-2/twin/desired', { qos: 1 });
    const desired = JSON.parse((await box.next((m) => m.topic.endsWith('twin/desired'))).payload);
    assert.deepEqual(desired, { version: 2, state: { setpoint: 19, mode: 'eco' } });
    await d.publishAsync(
      'homeostat/v1/tw-2/twin/reported',
      JSON.stringify({ version: 1, state: { setpoint: 19, mode: 'eco', firmware: '1.2' }, desiredVersion: 2 }),
      { qos: 1 },
    );
    const view = (await t.api('GET', '/api/v1/devices/tw-2')).body;
    assert.deepEqual(view.twin.reported.state, { setpoint: 19, mode: 'eco', firmware: '1.2' });
    assert.equal(view.twin.reported.desiredVersion, 2);
    // A change while connected arrives live.
    await t.api('PATCH', '/api/v1/devices/tw-2/twin/desired', { version: 2, state: { setpoint: 22 } });
    const live = await box.next((m) => JSON.parse(m.payload).version === 3);
    assert.deepEqual(JSON.parse(live.payload).state, { setpoint: 22, mode: 'eco' });
  });

  test('reported patches apply in version order; a stale one is refused with a notice', async () => {
    const token = await t.createDevice('tw-3');
    const d = await t.mqtt({ clientId: 'tw-3', username: 'tw-3', password: token });
    const box = inbox(d);
    await d.subscribeAsync('homeostat/v1/tw-3/errors', { qos: 0 });
    await d.publishAsync('homeostat/v1/tw-3/twin/reported', JSON.stringify({ version: 5, state: { a: 1 } }), {
      qos: 1,
    });
    await d.publishAsync('homeostat/v1/tw-3/twin/reported', JSON.stringify({ version: 4, state: { a: 2 } }), {
      qos: 1,
    });
    const notice = JSON.parse((await box.next((m) => m.topic.endsWith('errors'))).payload);
    assert.equal(notice.code, 'ERR_TWIN_STALE_REPORTED');
    assert.deepEqual((await t.api('GET', '/api/v1/devices/tw-3')).body.twin.reported.state, { a: 1 });
  });

  test('a device that reconnects while out of sync is sent its desired state again', async () => {
    const token = await t.createDevice('tw-4');
    await t.api('PATCH', '/api/v1/devices/tw-4/twin/desired', { version: 0, state: { x: 1 } });
    const first = await t.mqtt({ clientId: 'tw-4', username: 'tw-4', password: token, clean: false });
    const box = inbox(first);
    await first.subscribeAsync('homeostat/v1/tw-4/twin/desired', { qos: 1 });
    await box.next((m) => m.topic.endsWith('twin/desired'));
    await first.endAsync();
    const again = await t.mqtt({ clientId: 'tw-4', username: 'tw-4', password: token, clean: false });
    const box2 = inbox(again);
    await until(() => box2.messages.some((m) => m.topic.endsWith('twin/desired')), 3000, 'desired on reconnect');
  });
});
