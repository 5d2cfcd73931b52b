// The rollout controller against a real SQLite store, with a writer as slow as a loaded hub: each
// device's time-out counts from when that device was asked, not from the start of the reconcile
// that asked a whole wave.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FakeClock, silentLogger } from '@homeostat/kit';
import { rolloutDefaults, type SignedManifest } from '@homeostat/protocol';
import type { EventLog } from '../events.js';
import { openSqliteStore } from '../store/sql-store.js';
import { RolloutController } from './controller.js';
import { newRevision } from './service.js';

const manifest: SignedManifest = {
  signed: {
    type: 'artifact',
    name: 'fw',
    version: '1.1.0',
    targetModels: ['m1'],
    sha256: 'a'.repeat(64),
    size: 1,
    createdAt: 0,
    expiresAt: 4_000_000_000_000,
  },
  signatures: [{ keyId: '0123456789abcdef', sig: 'x'.repeat(86) }],
};

test('a wave written slowly: each device times out counting from its own start', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'homeostat-rollout-controller-'));
  const store = await openSqliteStore(join(dir, 'hub.db'));
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const clock = new FakeClock(1_764_000_000_000);
  const t0 = clock.now();
  for (const name of ['d0', 'd1', 'd2']) {
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
        strategy: { canary: 3, maxUnavailable: 3, deviceTimeoutMs: 60_000 },
      }),
      manifest,
      t0,
      null,
    ),
  );
  // Each desired write takes 50 s of the hub's time.
  const writer = {
    async setDesiredKey(name: string, version: number, key: string, value: unknown) {
      const device = await store.getDevice(name);
      await store.replaceDesired(name, version, { ...device?.desired.state, [key]: value }, clock.now());
      await clock.advance(50_000);
    },
  };
  const controller = new RolloutController({
    store,
    clock,
    logger: silentLogger(),
    writer,
    events: { record: () => undefined } as unknown as EventLog,
  });
  await controller.reconcile('fw');
  assert.deepEqual(
    (await store.listRolloutDevices('fw', 1)).map((r) => r.startedAt - t0),
    [50_000, 100_000, 150_000],
  );
  // 170 s after the reconcile began: d0 and d1 are past 60 s from their start, d2 is not.
  await clock.advance(20_000);
  await controller.reconcile('fw');
  assert.deepEqual(
    (await store.listRolloutDevices('fw', 1)).map((r) => [r.device, r.outcome, r.code]),
    [
      ['d0', 'failed', 'timeout'],
      ['d1', 'failed', 'timeout'],
      ['d2', null, null],
    ],
  );
});
