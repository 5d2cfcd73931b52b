// The rollout controller against a real SQLite store: with a writer as slow as a loaded hub, each
// device's time-out counts from when that device was asked, not from the start of the reconcile
// that asked a whole wave; and what the level rule withdraws is judged on the devices as they are
// after the plan wrote, not as they were read before it.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FakeClock, silentLogger } from '@homeostat/kit';
import { HomeostatError, rolloutDefaults, type SignedManifest } from '@homeostat/protocol';
import { unsignedManifest } from '@homeostat/testing';
import type { EventLog } from '../events.js';
import { openSqliteStore } from '../store/sql-store.js';
import type { Store } from '../store/store.js';
import { RolloutController } from './controller.js';
import { newRevision } from './service.js';

const manifest = unsignedManifest();

/** A real SQLite store in a directory of its own, removed after the test. */
async function tempStore(t: { after(fn: () => Promise<void>): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'homeostat-rollout-controller-'));
  const store = await openSqliteStore(join(dir, 'hub.db'));
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

function controllerOn(
  store: Store,
  clock: FakeClock,
  writer: ConstructorParameters<typeof RolloutController>[0]['writer'],
) {
  return new RolloutController({
    store,
    clock,
    logger: silentLogger(),
    writer,
    events: { record: () => undefined } as unknown as EventLog,
  });
}

test('a wave written slowly: each device times out counting from its own start', async (t) => {
  const store = await tempStore(t);
  const clock = new FakeClock(1_764_000_000_000);
  const t0 = clock.now();
  // More devices than the controller writes at once: the wave is written in several rounds.
  const names = Array.from({ length: 130 }, (_, i) => `d${String(i).padStart(3, '0')}`);
  for (const name of names) {
    await store.createDevice({
      name,
      uid: name,
      labels: { model: 'm1' },
      tokenHash: 'x',
      enrollmentGroup: null,
      desired: {},
      createdAt: t0,
    });
  }
  await store.createRollout(
    { name: 'fw', uid: 'u', labels: {}, createdAt: t0, resourceVersion: 1, revision: 1 },
    newRevision(
      'fw',
      1,
      rolloutDefaults({
        selector: 'model=m1',
        artifact: { name: 'fw', version: '1.1.0' },
        strategy: { canary: 130, maxUnavailable: 130, deviceTimeoutMs: 60_000 },
      }),
      manifest,
      t0,
      null,
    ),
  );
  // Each desired write takes 45 s of the hub's time, the ones written at once side by side.
  const writer = {
    async setDesiredKey(name: string, version: number, key: string, value: unknown) {
      const device = await store.getDevice(name);
      await store.replaceDesired(name, version, { ...device?.desired.state, [key]: value }, clock.now());
      await clock.advance(45_000);
    },
  };
  const controller = controllerOn(store, clock, writer);
  await controller.reconcile('fw');
  const started = await store.listRolloutDevices('fw', 1);
  assert.equal(started.length, names.length);
  const starts = started.map((r) => r.startedAt);
  // The last devices were asked more than a time-out after the first.
  assert.ok(
    Math.max(...starts) - Math.min(...starts) > 60_000,
    `starts spread over ${Math.max(...starts) - Math.min(...starts)} ms`,
  );
  await clock.advance(20_000);
  const now = clock.now();
  await controller.reconcile('fw');
  const after = new Map((await store.listRolloutDevices('fw', 1)).map((r) => [r.device, r]));
  for (const r of started) {
    const expired = now - r.startedAt >= 60_000;
    assert.equal(after.get(r.device)?.code, expired ? 'timeout' : null, `${r.device} asked at +${r.startedAt - t0} ms`);
  }
  assert.ok(
    started.some((r) => now - r.startedAt < 60_000),
    'some devices are still within their time-out',
  );
});

test("a device holding a halted revision's update, started by the next revision: the level rule leaves the new update alone", async (t) => {
  const store = await tempStore(t);
  const clock = new FakeClock(1_764_000_000_000);
  const t0 = clock.now();
  const old = unsignedManifest({ version: '1.1.0', revertible: true });
  const next = unsignedManifest({ version: '1.2.0' });
  // Revision 1 halted and asked the device to go back; the device went back to 1.0.0.
  await store.createDevice({
    name: 'd1',
    uid: 'd1',
    labels: { model: 'm1' },
    tokenHash: 'x',
    enrollmentGroup: null,
    desired: { update: { manifest: old, rollout: 'fw', revert: true } },
    createdAt: t0,
  });
  await store.applyReported('d1', 1, { firmware: { name: 'fw', version: '1.0.0' } }, null, t0, false);
  await store.createRollout(
    { name: 'fw', uid: 'u', labels: {}, createdAt: t0, resourceVersion: 1, revision: 2 },
    newRevision(
      'fw',
      2,
      rolloutDefaults({ selector: 'model=m1', artifact: { name: 'fw', version: '1.2.0' }, strategy: { canary: 1 } }),
      next,
      t0,
      null,
    ),
  );
  const writer = {
    async setDesiredKey(name: string, version: number, key: string, value: unknown) {
      const device = await store.getDevice(name);
      const state: Record<string, unknown> = { ...device?.desired.state };
      if (value === undefined) delete state[key];
      else state[key] = value;
      const r = await store.replaceDesired(name, version, state, clock.now());
      if (!r.ok) throw new HomeostatError('ERR_TWIN_VERSION_CONFLICT', `${name}: desired state changed`);
    },
  };
  const controller = controllerOn(store, clock, writer);
  await controller.reconcile('fw');
  const update = (await store.getDevice('d1'))?.desired.state.update as { manifest: SignedManifest } | undefined;
  assert.equal(update?.manifest.signed.version, '1.2.0', 'the canary keeps the update it was just given');
  assert.equal((await store.listRolloutDevices('fw', 2)).length, 1);
});
