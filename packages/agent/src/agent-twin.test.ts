// Twin sync against a real broker: retained desired state applied on connect (also when it was
// published while the device was offline), reported patches with desiredVersion, stale and
// invalid desired states ignored, versions kept across restarts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '@homeostat/testing';
import { advanceUntil, harness } from './test-support.js';

interface Reported {
  version: number;
  state: Record<string, unknown>;
  desiredVersion?: number;
}

test('applies desired state, reports merge patches, ignores stale and invalid desired states', async (t) => {
  const h = await harness(t);
  // Published before the device ever connected: retained, it is waiting for it.
  await h.hub.publishDesired('dev-1', { version: 3, state: { setpoint: 21 } });
  const { agent, hardware } = h.agent();
  const applied: number[] = [];
  agent.events.on('desired-applied', ({ version }) => applied.push(version));
  await agent.start();
  const reported = () => h.hub.of('dev-1', 'twin/reported').map((m) => m.json as Reported);
  await waitFor(() => reported().length === 2, { message: 'full report, then the patch' });
  assert.deepEqual(reported(), [
    { version: 1, state: {}, full: true },
    { version: 2, state: { setpoint: 21 }, desiredVersion: 3 },
  ]);
  assert.deepEqual(applied, [3]);

  await h.hub.publishDesired('dev-1', { version: 3, state: { setpoint: 99 } }); // same version
  await h.hub.publishDesired('dev-1', { version: 2, state: { setpoint: 98 } }); // older
  await h.hub.publishDesired('dev-1', { version: 'x', state: {} }); // invalid
  await h.hub.publishDesired('dev-1', '{not json');
  await h.hub.publishDesired('dev-1', { version: 4, state: { setpoint: 21, mode: 'eco' } });
  await waitFor(() => reported().length === 3);
  assert.deepEqual(reported()[2], { version: 3, state: { mode: 'eco' }, desiredVersion: 4 });
  assert.deepEqual(hardware.applied, [{ setpoint: 21 }, { setpoint: 21, mode: 'eco' }]);
  assert.deepEqual(applied, [3, 4]);
});

test('desired state published while the device is offline is applied when it reconnects and after a restart', async (t) => {
  const h = await harness(t);
  const proxy = await h.proxy();
  const first = h.agent({ hubUrl: proxy.url });
  await first.agent.start();
  const reported = () => h.hub.of('dev-1', 'twin/reported').map((m) => m.json as Reported);
  await waitFor(() => reported().length === 1);

  proxy.cut();
  await waitFor(() => !first.agent.connected);
  await h.hub.publishDesired('dev-1', { version: 7, state: { setpoint: 18 } });
  proxy.restore();
  await advanceUntil(h.clock, 1000, () => first.agent.connected, 'reconnects');
  await waitFor(() => reported().length === 3, { message: 'full report on reconnect, then the patch' });
  assert.deepEqual(reported().slice(1), [
    { version: 2, state: {}, full: true },
    { version: 3, state: { setpoint: 18 }, desiredVersion: 7 },
  ]);
  // The broker may deliver v7 twice (queued for the session and retained): applied once. A later
  // v8 proves every earlier delivery was handled (one connection keeps the order).
  await h.hub.publishDesired('dev-1', { version: 8, state: { setpoint: 18, mode: 'comfort' } });
  await waitFor(() => reported().length === 4);
  assert.deepEqual(reported()[3], { version: 4, state: { mode: 'comfort' }, desiredVersion: 8 });
  assert.deepEqual(first.hardware.applied, [{ setpoint: 18 }, { setpoint: 18, mode: 'comfort' }]);
  await first.agent.stop();

  // A restart hands the stored desired state to the (fresh) hardware once, resumes the reported
  // version, and does not apply v7 again when the retained message arrives.
  const second = h.agent({ hubUrl: proxy.url });
  await second.agent.start();
  const restored = { setpoint: 18, mode: 'comfort' };
  assert.deepEqual(second.hardware.applied, [restored]);
  await waitFor(() => reported().length === 5);
  assert.deepEqual(reported()[4], { version: 5, state: restored, desiredVersion: 8, full: true });
  await h.hub.publishDesired('dev-1', { version: 9, state: { setpoint: 17, mode: 'comfort' } });
  await waitFor(() => reported().length === 6);
  assert.deepEqual(reported()[5], { version: 6, state: { setpoint: 17 }, desiredVersion: 9 });
  assert.deepEqual(second.hardware.applied, [restored, { setpoint: 17, mode: 'comfort' }]);
});
