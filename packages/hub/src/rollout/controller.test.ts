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
  const controller = new RolloutController({
    store,
    clock,
    logger: silentLogger(),
    writer,
    events: { record: () => undefined } as unknown as EventLog,
  });
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
