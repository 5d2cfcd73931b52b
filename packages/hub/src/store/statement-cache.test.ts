import assert from 'node:assert/strict';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { type PreparingDatabase, StatementCache } from './statement-cache.js';

function database(): BetterSqlite3.Database {
  const db = new BetterSqlite3(':memory:');
  db.exec('create table t (k text primary key, v integer not null)');
  return db;
}

/** Counts the statements the cache asks the database to prepare. */
function counting(db: BetterSqlite3.Database): { db: PreparingDatabase; prepared: string[] } {
  const prepared: string[] = [];
  const wrapped: PreparingDatabase = {
    prepare: (sql) => {
      prepared.push(sql);
      return db.prepare(sql);
    },
    close: () => db.close(),
  };
  return { db: wrapped, prepared };
}

test('the same SQL text is prepared once and its statement reused', () => {
  const { db, prepared } = counting(database());
  const cache = new StatementCache(db);
  const a = cache.prepare('select v from t where k = ?');
  const b = cache.prepare('select v from t where k = ?');
  const c = cache.prepare('select k from t where v = ?');
  assert.equal(a, b);
  assert.notEqual(a, c);
  assert.deepEqual(prepared, ['select v from t where k = ?', 'select k from t where v = ?']);
  assert.equal(cache.size, 2);
  cache.close();
});

test('beyond its size the least recently used statement is dropped, the others kept', () => {
  const { db, prepared } = counting(database());
  const cache = new StatementCache(db, 2);
  cache.prepare('select 1');
  cache.prepare('select 2');
  cache.prepare('select 1'); // now the most recently used
  cache.prepare('select 3'); // drops `select 2`
  assert.equal(cache.size, 2);
  cache.prepare('select 1');
  cache.prepare('select 3');
  assert.deepEqual(prepared, ['select 1', 'select 2', 'select 3']);
  cache.prepare('select 2');
  assert.deepEqual(prepared, ['select 1', 'select 2', 'select 3', 'select 2']);
  cache.close();
});

test('a statement busy in an iteration is not handed out again: the query gets a fresh one', () => {
  const raw = database();
  raw.prepare('insert into t (k, v) values (?, ?)').run('a', 1);
  raw.prepare('insert into t (k, v) values (?, ?)').run('b', 2);
  const cache = new StatementCache(raw);
  const sql = 'select k, v from t order by k';
  const iterating = cache.prepare(sql);
  const rows = iterating.iterate([]);
  assert.deepEqual(rows.next().value, { k: 'a', v: 1 });
  const other = cache.prepare(sql);
  assert.notEqual(other, iterating);
  assert.deepEqual(other.all([]), [
    { k: 'a', v: 1 },
    { k: 'b', v: 2 },
  ]);
  assert.deepEqual(rows.next().value, { k: 'b', v: 2 });
  assert.equal(rows.next().done, true);
  // Done iterating: the cached statement is handed out again.
  assert.equal(cache.prepare(sql), iterating);
  cache.close();
});

test('refuses a size that is not a positive integer', () => {
  assert.throws(() => new StatementCache(database(), 0), /positive integer/);
});

test('through Kysely: repeated queries and transactions give the same results as before', async () => {
  const { db: raw, prepared } = counting(database());
  const db = new Kysely<{ t: { k: string; v: number } }>({
    dialect: new SqliteDialect({ database: new StatementCache(raw) }),
  });
  for (let i = 0; i < 5; i++) {
    await db.transaction().execute(async (trx) => {
      await trx
        .insertInto('t')
        .values({ k: `k${i}`, v: i })
        .execute();
      const row = await trx.selectFrom('t').select('v').where('k', '=', `k${i}`).executeTakeFirstOrThrow();
      assert.equal(row.v, i);
    });
  }
  await assert.rejects(
    db.transaction().execute(async (trx) => {
      await trx.updateTable('t').set({ v: 100 }).where('k', '=', 'k0').execute();
      throw new Error('roll back');
    }),
    /roll back/,
  );
  const rows = await db.selectFrom('t').selectAll().orderBy('k').execute();
  assert.deepEqual(
    rows.map((r) => r.v),
    [0, 1, 2, 3, 4],
  );
  // begin, insert, select, commit, update, rollback, the final select: each text prepared once.
  assert.equal(prepared.length, new Set(prepared).size);
  assert.equal(prepared.length, 7);
  await db.destroy();
});
