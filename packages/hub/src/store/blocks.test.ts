import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MAX_BLOCK_READINGS,
  MAX_BLOCK_SPAN_MS,
  planWrite,
  pointsOf,
  rangesByDevice,
  readingsOf,
  storedIn,
} from './blocks.js';
import type { Reading } from './store.js';

const reading = (device: string, seq: number, ts: number): Reading => ({ device, seq, ts, metrics: { m: seq } });
const plan = (readings: Reading[], stored = new Map<string, Map<number, Reading>>()) =>
  planWrite(readings, rangesByDevice(readings), stored);

test('a write makes one block per device, its readings in time order, keyed by the last seq', () => {
  const p = plan([reading('a', 3, 30), reading('b', 1, 5), reading('a', 1, 10), reading('a', 2, 20)]);
  assert.equal(p.fresh.length, 4);
  assert.deepEqual(
    p.blocks.map((b) => [b.device, b.seq_first, b.seq_last, b.ts_first, b.ts_last, b.count]),
    [
      ['a', 1, 3, 10, 30, 3],
      ['b', 1, 1, 5, 5, 1],
    ],
  );
  assert.deepEqual(
    readingsOf('a', JSON.parse(p.blocks[0]!.readings)).map((r) => r.seq),
    [1, 2, 3],
  );
});

test('a block spans MAX_BLOCK_SPAN_MS and holds MAX_BLOCK_READINGS at most', () => {
  const spread = [0, 1, MAX_BLOCK_SPAN_MS, MAX_BLOCK_SPAN_MS + 2, 3 * MAX_BLOCK_SPAN_MS].map((ts, seq) =>
    reading('a', seq, ts),
  );
  assert.deepEqual(
    plan(spread).blocks.map((b) => [b.seq_first, b.seq_last]),
    [
      [0, 2],
      [3, 3],
      [4, 4],
    ],
  );
  const many = Array.from({ length: 2 * MAX_BLOCK_READINGS + 1 }, (_, seq) => reading('a', seq, seq));
  assert.deepEqual(
    plan(many).blocks.map((b) => b.count),
    [MAX_BLOCK_READINGS, MAX_BLOCK_READINGS, 1],
  );
});

test('readings stored already, or earlier in the write, are reported in input order and not stored', () => {
  const stored = storedIn('a', [`[[1,10,{"m":1}],[7,70,{"m":7}]]`], 1, 5);
  assert.deepEqual([...stored.keys()], [1], 'only seqs of the range are kept');
  const p = plan(
    [reading('a', 2, 20), reading('a', 1, 11), reading('b', 1, 1), reading('a', 2, 21)],
    new Map([['a', stored]]),
  );
  assert.deepEqual(
    p.fresh.map((r) => [r.device, r.seq, r.ts]),
    [
      ['a', 2, 20],
      ['b', 1, 1],
    ],
  );
  assert.deepEqual(p.existing, [
    { index: 1, stored: { device: 'a', seq: 1, ts: 10, metrics: { m: 1 } } },
    { index: 3, stored: reading('a', 2, 20) },
  ]);
  assert.deepEqual(
    p.blocks.map((b) => [b.device, b.count]),
    [
      ['a', 1],
      ['b', 1],
    ],
  );
});

test('pointsOf picks one metric in a time window, and skips a block that does not name it', () => {
  const text = '[[1,10,{"t":1.5,"h":2}],[2,20,{"h":3}],[3,30,{"t":-1}]]';
  assert.deepEqual(pointsOf(text, 't', 0, 100), [
    [1, 10, 1.5],
    [3, 30, -1],
  ]);
  assert.deepEqual(pointsOf(text, 'h', 15, 25), [[2, 20, 3]]);
  assert.deepEqual(pointsOf(text, 'x', 0, 100), []);
});
