// Deleting a rollout, on a fake clock against a real hub with plain MQTT clients as devices:
// refused while it progresses (unless forced), allowed once paused; the devices keep the version
// they run, its desired `update` is taken back from every device, the event log keeps the
// decisions and the history, and the name starts again at revision 1.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '@homeostat/kit';
import { startTestHub, type TestHub } from './harness.js';
import { devicesSettled, FakeDevice, pushArtifact } from './rollout-fixture.js';

const spec = {
  selector: 'model=m1',
  artifact: { name: 'fw', version: '1.1.0' },
  strategy: { canary: 1, waves: [0.5, 1], maxUnavailable: 2, soakMs: 0, deviceTimeoutMs: 600_000 },
};

async function desiredUpdates(t: TestHub, devices: readonly FakeDevice[]): Promise<(string | null)[]> {
  return Promise.all(
    devices.map(async (d) => {
      const twin = (await t.api('GET', `/api/v1/devices/${d.name}`)).body.twin;
      return twin.desired.state.update?.manifest.signed.version ?? null;
    }),
  );
}

test('a progressing rollout is deleted only paused or forced; devices keep what they run, updates are taken back', async (c) => {
  const clock = new FakeClock();
  const t = await startTestHub({}, { clock });
  c.after(() => t.close());
  await pushArtifact(t, '1.1.0');
  // d00 commits; the others never answer, so they hold the update while "installing".
  const devices = ['d00', 'd01', 'd02', 'd03'].map((n, i) => new FakeDevice(n, () => (i === 0 ? 'commit' : 'silent')));
  for (const d of devices) await d.connect(t, true);
  const step = async () => {
    await clock.advance(1000);
    await t.hub.services.rolloutController.idle();
    await devicesSettled(t, devices);
  };

  assert.equal((await t.api('PUT', '/api/v1/rollouts/fw', { spec })).status, 201);
  for (let i = 0; i < 3; i++) await step();
  assert.equal(devices[0]?.firmware, '1.1.0');
  assert.deepEqual(await desiredUpdates(t, devices), ['1.1.0', '1.1.0', null, null], 'the canary and wave 1');

  const refused = await t.api('DELETE', '/api/v1/rollouts/fw');
  assert.deepEqual([refused.status, refused.body.error.code], [409, 'ERR_ROLLOUT_PHASE']);
  assert.match(refused.body.error.message, /progressing: pause it first, or delete it with force/);

  assert.equal((await t.api('POST', '/api/v1/rollouts/fw/pause')).status, 200);
  const deleted = await t.api('DELETE', '/api/v1/rollouts/fw');
  assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
  await step();
  assert.equal((await t.api('GET', '/api/v1/rollouts/fw')).body.error.code, 'ERR_ROLLOUT_NOT_FOUND');
  assert.equal((await t.api('GET', '/api/v1/rollouts/fw/history')).status, 404);
  assert.deepEqual(await desiredUpdates(t, devices), [null, null, null, null], 'every desired update taken back');
  assert.equal(devices[0]?.firmware, '1.1.0', 'a device keeps the version it committed');
  assert.deepEqual(
    devices.slice(1).map((d) => d.firmware),
    ['1.0.0', '1.0.0', '1.0.0'],
  );

  // The decisions stay in the event log, and the deletion carries the revisions' history.
  await t.hub.services.events.drain();
  const events = (await t.api('GET', '/api/v1/events?type=rollout')).body.items;
  const gone = events.find((e: { message: string }) => e.message.startsWith('rollout fw deleted'));
  assert.ok(gone, 'the deletion is recorded');
  assert.equal(gone.message, 'rollout fw deleted at revision 1 (paused)');
  assert.deepEqual(
    gone.data.history.map((r: { revision: number; phase: string; counts: { succeeded: number } }) => [
      r.revision,
      r.phase,
      r.counts.succeeded,
    ]),
    [[1, 'paused', 1]],
  );
  assert.ok(events.some((e: { message: string }) => e.message.startsWith('rollout fw created')));

  // The name is free again: a new rollout of it starts at revision 1; forced, it goes while progressing.
  const again = await t.api('PUT', '/api/v1/rollouts/fw', { spec });
  assert.deepEqual([again.status, again.body.status.revision], [201, 1]);
  await step();
  assert.equal((await t.api('DELETE', '/api/v1/rollouts/fw?force=true')).status, 204);
  await step();
  assert.deepEqual(await desiredUpdates(t, devices), [null, null, null, null]);
  assert.equal((await t.api('DELETE', '/api/v1/rollouts/fw')).body.error.code, 'ERR_ROLLOUT_NOT_FOUND');
});
