import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock, silentLogger } from '@homeostat/kit';
import { createMetrics } from '../metrics.js';
import { openSqliteStore } from '../store/sql-store.js';
import { RetentionJob } from './retention.js';

const DAY = 86_400_000;

test('retention deletes raw readings and rollups past their age, in slices, every minute', async () => {
  const clock = new FakeClock(100 * DAY);
  const store = await openSqliteStore(':memory:');
  const metrics = createMetrics();
  // 5,000 readings three days old (past the raw retention of 1 day), 10 fresh ones.
  const old = Array.from({ length: 5000 }, (_, i) => ({
    device: 'p',
    seq: i,
    ts: clock.now() - 3 * DAY + i,
    metrics: { m: i },
  }));
  const fresh = Array.from({ length: 10 }, (_, i) => ({
    device: 'p',
    seq: 10_000 + i,
    ts: clock.now() - i,
    metrics: { m: i },
  }));
  // Another device with old readings only: retention goes device by device.
  const other = old.map((r) => ({ ...r, device: 'o' }));
  await store.insertReadings([...old, ...fresh, ...other]);
  const job = new RetentionJob({
    store,
    clock,
    logger: silentLogger(),
    metrics,
    retention: { rawMs: DAY, minuteMs: 2 * DAY, hourMs: 10 * DAY },
  });
  job.start();
  await clock.advance(60_000);
  await job.stop();
  assert.equal((await store.queryReadings('p', 'm', 0, clock.now(), 10_000)).length, 10, 'only fresh readings remain');
  assert.deepEqual(await store.queryReadings('o', 'm', 0, clock.now(), 10_000), []);
  // Minute rollups of three days ago are gone; the hour rollup is kept.
  assert.deepEqual(await store.queryBuckets(['p'], 'm', clock.now() - 4 * DAY, clock.now() - 2 * DAY, 60_000), []);
  const hours = await store.queryBuckets(['p'], 'm', clock.now() - 4 * DAY, clock.now() - 2 * DAY, 3_600_000);
  assert.equal(
    hours.reduce((n, b) => n + b.count, 0),
    5000,
  );
  assert.ok(((await metrics.retentionDeleted.get()).values[0]?.value ?? 0) >= 10_000);
  await store.close();
});
