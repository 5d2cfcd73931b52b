// Migrations carry existing data over: a store at an older migration, filled, then opened.

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import { migrations } from './migrations.js';
import { openSqliteStore } from './sql-store.js';

test('0007 carries per-value readings over to one row per reading, across pages', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'homeostat-migrate-')), 'hub.db');
  const old = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new BetterSqlite3(path) }) });
  const to0002 = await new Migrator({ db: old, provider: migrations }).migrateTo('0002-rollups');
  assert.equal(to0002.error, undefined);
  // 4,001 readings of three values each: 12,003 rows, so pages of 5,000 rows split readings.
  const metrics = ['a', 'b', 'c'];
  for (let seq = 0; seq < 4001; seq += 100) {
    const rows = [];
    for (let s = seq; s < Math.min(seq + 100, 4001); s++) {
      for (const [k, m] of metrics.entries()) rows.push(sql`(${'d1'}, ${s}, ${m}, ${1000 + s}, ${s + k / 10})`);
    }
    await sql`insert into readings (device, seq, metric, ts, value) values ${sql.join(rows)}`.execute(old);
  }
  await sql`insert into readings (device, seq, metric, ts, value) values ('d0', 5, 'x', 7, 0.1)`.execute(old);
  await old.destroy();

  const store = await openSqliteStore(path);
  const b = await store.queryReadings('d1', 'b', 0, 1e9, 10_000);
  assert.equal(b.length, 4001);
  assert.deepEqual(b[1666], { seq: 1666, ts: 2666, value: 1666.1 });
  assert.deepEqual(await store.queryReadings('d0', 'x', 0, 1e9, 10), [{ seq: 5, ts: 7, value: 0.1 }]);
  // Carried over whole: the stored reading is reported for a redelivery.
  const again = await store.insertReadings([{ device: 'd1', seq: 1666, ts: 2666, metrics: { a: 1 } }]);
  assert.deepEqual(again.existing[0]?.stored, {
    device: 'd1',
    seq: 1666,
    ts: 2666,
    metrics: { a: 1666, b: 1666.1, c: 1666.2 },
  });
  await store.close();
});

test('0009 carries one row per reading over to blocks, across pages, redeliveries still found', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'homeostat-migrate-')), 'hub.db');
  const old = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new BetterSqlite3(path) }) });
  const to0008 = await new Migrator({ db: old, provider: migrations }).migrateTo('0008-replacement-postmortems');
  assert.equal(to0008.error, undefined);
  // Two devices, 6,000 readings each: pages of 5,000 rows end inside a device's readings.
  for (const device of ['d1', 'd2']) {
    for (let seq = 0; seq < 6000; seq += 500) {
      const rows = [];
      for (let s = seq; s < seq + 500; s++) rows.push(sql`(${device}, ${s}, ${1000 + s}, ${JSON.stringify({ a: s })})`);
      await sql`insert into readings (device, seq, ts, metrics) values ${sql.join(rows)}`.execute(old);
    }
  }
  await old.destroy();

  const store = await openSqliteStore(path);
  for (const device of ['d1', 'd2']) {
    const a = await store.queryReadings(device, 'a', 0, 1e9, 10_000);
    assert.equal(a.length, 6000);
    assert.deepEqual(a[4999], { seq: 4999, ts: 5999, value: 4999 });
  }
  const again = await store.insertReadings([
    { device: 'd2', seq: 5000, ts: 1, metrics: { a: 1 } },
    { device: 'd2', seq: 6000, ts: 7000, metrics: { a: 6000 } },
  ]);
  assert.deepEqual(again, {
    inserted: 1,
    existing: [{ index: 0, stored: { device: 'd2', seq: 5000, ts: 6000, metrics: { a: 5000 } } }],
  });
  await store.close();
});
