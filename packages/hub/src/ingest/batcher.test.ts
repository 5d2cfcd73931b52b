import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger, systemClock } from '@homeostat/kit';
import { createMetrics } from '../metrics.js';
import { openSqliteStore } from '../store/sql-store.js';
import type { Reading, Store } from '../store/store.js';
import { IngestBatcher } from './batcher.js';

const reading = (device: string, seq: number, value = seq): Reading[] => [
  { device, seq, ts: 1000 + seq, metrics: { temperature: value, humidity: 40 } },
];

/** The real SQLite store, with its telemetry writes counted (and made to fail on demand). */
async function countingStore() {
  const store = await openSqliteStore(':memory:');
  const writes: number[] = [];
  let failNext = false;
  const insertReadings = store.insertReadings.bind(store);
  const counted: Store = Object.assign(Object.create(store) as Store, {
    insertReadings: async (rows: readonly Reading[]) => {
      writes.push(rows.length);
      if (failNext) {
        failNext = false;
        throw new Error('disk full');
      }
      return insertReadings(rows);
    },
  });
  return { store, counted, writes, failOnce: () => (failNext = true) };
}

function batcher(store: Store, metrics = createMetrics()): IngestBatcher {
  return new IngestBatcher({ store, clock: systemClock, metrics, logger: silentLogger() });
}

test('messages submitted in one turn are written in one transaction, and each resolves after it', async () => {
  const s = await countingStore();
  const b = batcher(s.counted);
  await Promise.all([b.submit(reading('a', 1)), b.submit(reading('b', 1)), b.submit(reading('a', 2))]);
  assert.deepEqual(s.writes, [3]);
  assert.equal((await s.store.queryReadings('a', 'temperature', 0, 1e12, 10)).length, 2);
  await s.store.close();
});

test('what arrives while a batch is being written goes into the next one', async () => {
  const s = await countingStore();
  const b = batcher(s.counted);
  const first = b.submit(reading('a', 1));
  await new Promise((r) => setImmediate(r)); // the first batch is now being written
  const later = [b.submit(reading('a', 2)), b.submit(reading('a', 3)), b.submit(reading('a', 4))];
  await Promise.all([first, ...later]);
  assert.deepEqual(s.writes, [1, 3]);
  await s.store.close();
});

test('within a batch the first message with a (device, seq) wins; the later one learns what is stored', async () => {
  const s = await countingStore();
  const metrics = createMetrics();
  const b = batcher(s.counted, metrics);
  const [first, second] = await Promise.all([b.submit(reading('a', 1, 20)), b.submit(reading('a', 1, 99))]);
  assert.deepEqual(first, []);
  assert.deepEqual(second, [{ reading: reading('a', 1, 99)[0], stored: reading('a', 1, 20)[0] }]);
  const points = await s.store.queryReadings('a', 'temperature', 0, 1e12, 10);
  assert.deepEqual(
    points.map((p) => p.value),
    [20],
  );
  assert.equal((await metrics.readingsStored.get()).values[0]?.value, 2);
  await s.store.close();
});

test('a submission settled by its submitter resolves with what it made of the outcome, or rejects if that threw', async () => {
  const s = await countingStore();
  const b = batcher(s.counted);
  const [fresh, again, broken] = await Promise.allSettled([
    b.submit(reading('a', 1), (existing) => `${existing.length} stored already`),
    b.submit(reading('a', 1), (existing) => `${existing.length} stored already`),
    b.submit(reading('a', 2), () => {
      throw new Error('settle failed');
    }),
  ]);
  assert.deepEqual(fresh, { status: 'fulfilled', value: '0 stored already' });
  assert.deepEqual(again, { status: 'fulfilled', value: '1 stored already' });
  assert.equal(broken.status, 'rejected');
  assert.deepEqual(s.writes, [3]);
  await s.store.close();
});

test('a failed write rejects every message of its batch (none is acknowledged), and the next one works', async () => {
  const s = await countingStore();
  const b = batcher(s.counted);
  s.failOnce();
  const results = await Promise.allSettled([b.submit(reading('a', 1)), b.submit(reading('a', 2))]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['rejected', 'rejected'],
  );
  await b.submit(reading('a', 1));
  await b.drain();
  assert.equal((await s.store.queryReadings('a', 'temperature', 0, 1e12, 10)).length, 1);
  await s.store.close();
});
