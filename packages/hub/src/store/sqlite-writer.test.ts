import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { openSqliteStore } from './sql-store.js';
import type { Reading } from './store.js';

const reading = (device: string, seq: number, ts = 1_800_000_000_000 + seq * 1000): Reading => ({
  device,
  seq,
  ts,
  metrics: { m: seq },
});

function rows(path: string, sql: string): number {
  const db = new BetterSqlite3(path, { readonly: true });
  try {
    return (db.prepare(sql).pluck().get() as number) ?? 0;
  } finally {
    db.close();
  }
}

test('readings acknowledged and staged survive a kill: the next start moves them to blocks', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'homeostat-staged-')), 'hub.db');
  const killed = await openSqliteStore(path);
  const written = [reading('a', 0), reading('b', 0), reading('a', 1)];
  assert.deepEqual(await killed.insertReadings(written), { inserted: 3, existing: [] });
  await killed.insertReadings([reading('a', 2)]);
  // Committed to the log, not to blocks: what a SIGKILL now would leave behind.
  assert.equal(rows(path, 'select count(*) from reading_log'), 2);
  assert.equal(rows(path, 'select count(*) from reading_blocks'), 0);
  // Staged readings count as stored: a redelivery is found, and queries see them.
  assert.deepEqual((await killed.insertReadings([reading('a', 1)])).existing, [{ index: 0, stored: reading('a', 1) }]);
  assert.equal((await killed.queryReadings('a', 'm', 0, 2e12, 10)).length, 3);

  // Opened again without the first store closing (its memory is lost, as in a kill).
  const next = await openSqliteStore(path);
  assert.equal(rows(path, 'select count(*) from reading_log'), 0);
  assert.equal(rows(path, 'select sum(count) from reading_blocks'), 4);
  assert.deepEqual(
    (await next.queryReadings('a', 'm', 0, 2e12, 10)).map((p) => p.seq),
    [0, 1, 2],
  );
  assert.deepEqual((await next.insertReadings([reading('a', 2), reading('a', 3)])).existing, [
    { index: 0, stored: reading('a', 2) },
  ]);
  // Rollups counted each reading once, whether it was moved before or after the restart.
  const hour = await next.queryBuckets(['a'], 'm', 0, 2e12, 3_600_000);
  assert.equal(
    hour.reduce((n, b) => n + b.count, 0),
    4,
  );
  await next.close();
  assert.equal(rows(path, 'select count(*) from reading_log'), 0, 'closing moves what is staged');
});

test('staged readings are moved once enough of them are, in one block per device', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'homeostat-staged-')), 'hub.db');
  const store = await openSqliteStore(path, { stageReadings: 4 });
  await store.insertReadings([reading('a', 0), reading('b', 0)]);
  await store.insertReadings([reading('a', 1)]);
  assert.equal(rows(path, 'select count(*) from reading_blocks'), 0);
  await store.insertReadings([reading('b', 1)]);
  // Four staged: moved, one block per device, the log emptied.
  assert.equal(rows(path, 'select count(*) from reading_blocks'), 2);
  assert.equal(rows(path, 'select count(*) from reading_log'), 0);
  const buckets = await store.queryBuckets(['a', 'b'], 'm', 0, 2e12, 60_000);
  assert.equal(
    buckets.reduce((n, b) => n + b.count, 0),
    4,
  );
  // A device deleted with readings staged: none of them is moved into blocks afterwards.
  await store.insertReadings([reading('c', 0)]);
  assert.equal(await store.deleteDevice('c'), false);
  await store.close();
  assert.equal(rows(path, "select count(*) from reading_blocks where device = 'c'"), 0);
});

test('queries running between writes that move staged readings see each reading once', async () => {
  const store = await openSqliteStore(':memory:', { stageReadings: 16 });
  const writes: Promise<unknown>[] = [];
  const queries: Promise<number[]>[] = [];
  for (let w = 0; w < 40; w++) {
    writes.push(store.insertReadings(Array.from({ length: 5 }, (_, i) => reading('a', w * 5 + i))));
    queries.push(store.queryReadings('a', 'm', 0, 2e12, 1000).then((points) => points.map((p) => p.seq)));
  }
  await Promise.all(writes);
  let last = 0;
  for (const seqs of await Promise.all(queries)) {
    assert.equal(new Set(seqs).size, seqs.length, 'no reading twice');
    assert.deepEqual(
      seqs,
      Array.from({ length: seqs.length }, (_, i) => i),
      'no reading missed',
    );
    assert.ok(seqs.length >= last, 'each query sees at least what the one before saw');
    last = seqs.length;
  }
  assert.equal(last, 200);
  await store.close();
});

test('a move that fails leaves the write standing and the readings staged, and is tried again', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'homeostat-staged-')), 'hub.db');
  const errors: unknown[] = [];
  const store = await openSqliteStore(path, { stageReadings: 2, onMoveError: (err) => errors.push(err) });
  // A block already under the key the move will use: the move fails on the primary key.
  const other = new BetterSqlite3(path);
  other
    .prepare(
      "insert into reading_blocks (device, seq_last, seq_first, ts_first, ts_last, count, readings) values ('a', 1, 1, 0, 0, 0, '[]')",
    )
    .run();
  assert.deepEqual(await store.insertReadings([reading('a', 0), reading('a', 1)]), { inserted: 2, existing: [] });
  assert.equal(errors.length, 1);
  assert.equal(rows(path, 'select count(*) from reading_log'), 1, 'still in the log');
  assert.deepEqual(
    (await store.queryReadings('a', 'm', 0, 2e12, 10)).map((p) => p.seq),
    [0, 1],
  );
  other.prepare("delete from reading_blocks where device = 'a'").run();
  other.close();
  await store.close();
  assert.equal(rows(path, 'select count(*) from reading_log'), 0);
  assert.equal(rows(path, "select sum(count) from reading_blocks where device = 'a'"), 2);
});
