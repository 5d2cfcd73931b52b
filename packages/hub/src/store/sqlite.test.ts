import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { storeContract } from './contract.js';
import { openSqliteStore } from './sqlite-store.js';

storeContract('sqlite file', () => openSqliteStore(join(mkdtempSync(join(tmpdir(), 'homeostat-store-')), 'hub.db')));
storeContract('sqlite in memory', () => openSqliteStore(':memory:'));
storeContract('sqlite, portable telemetry writes', () => openSqliteStore(':memory:', { portableWrites: true }));

test('telemetry written by the worker while the hub writes on its own connection: neither fails', async () => {
  const store = await openSqliteStore(join(mkdtempSync(join(tmpdir(), 'homeostat-store-')), 'hub.db'));
  await store.createDevice({
    name: 'd',
    uid: 'u',
    labels: {},
    tokenHash: 'h',
    enrollmentGroup: null,
    desired: {},
    createdAt: 1,
  });
  const writes = [];
  for (let i = 0; i < 40; i++) {
    const batch = Array.from({ length: 500 }, (_, j) => ({ device: 'd', seq: i * 500 + j, ts: j, metrics: { m: j } }));
    writes.push(store.insertReadings(batch));
    // A read-then-write transaction on the hub's connection, between the worker's commits.
    writes.push(store.applyReported('d', i + 1, { i }, null, i));
  }
  await Promise.all(writes);
  assert.equal((await store.queryReadings('d', 'm', 0, 1000, 30_000)).length, 20_000);
  assert.equal((await store.getDevice('d'))?.reported.version, 40);
  await store.close();
});
