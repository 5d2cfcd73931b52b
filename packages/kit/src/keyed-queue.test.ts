import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from './clock.js';
import { KeyedQueue } from './keyed-queue.js';

/** A promise and its resolver, to hold a key "being worked on" for as long as a test wants. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

test('keyed queue: a key added while it waits is worked on once', async () => {
  const clock = new FakeClock(0);
  const seen: string[] = [];
  const q = new KeyedQueue<string>({ clock, work: async (k) => void seen.push(k) });
  q.add('a');
  q.add('b');
  q.add('a');
  q.start();
  await q.idle();
  assert.deepEqual(seen, ['a', 'b']);
  await q.stop();
});

test('keyed queue: a key added while it is worked on runs again afterwards, never twice at once', async () => {
  const clock = new FakeClock(0);
  const g = gate();
  let running = 0;
  let most = 0;
  let calls = 0;
  const q = new KeyedQueue<string>({
    clock,
    concurrency: 4,
    work: async () => {
      calls++;
      running++;
      most = Math.max(most, running);
      if (calls === 1) await g.opened;
      running--;
    },
  });
  q.start();
  q.add('a');
  q.add('a'); // being worked on: marked to run again
  q.add('a'); // already marked
  assert.equal(calls, 1);
  g.open();
  await q.idle();
  assert.equal(calls, 2);
  assert.equal(most, 1);
  await q.stop();
});

test('keyed queue: failures retry with a per-key delay that doubles, and reset on success', async () => {
  const clock = new FakeClock(0);
  const tries: number[] = [];
  const errors: number[] = [];
  let failUntil = 3;
  const q = new KeyedQueue<string>({
    clock,
    retryInitialMs: 100,
    retryMaxMs: 250,
    work: async () => {
      tries.push(clock.now());
      if (tries.length <= failUntil) throw new Error('not yet');
    },
    onError: (_k, _e, _n, delay) => errors.push(delay),
  });
  q.start();
  q.add('k');
  await clock.advance(1000);
  assert.deepEqual(tries, [0, 100, 300, 550]);
  assert.deepEqual(errors, [100, 200, 250]);
  // After a success the count starts over.
  failUntil = 5;
  q.add('k');
  await clock.advance(1000);
  assert.deepEqual(tries.slice(4), [1000, 1100]);
  await q.stop();
});

test('keyed queue: concurrency bounds the keys worked on at once; stop waits for them', async () => {
  const clock = new FakeClock(0);
  const g = gate();
  const started: string[] = [];
  const q = new KeyedQueue<string>({
    clock,
    concurrency: 2,
    work: async (k) => {
      started.push(k);
      await g.opened;
    },
  });
  q.start();
  for (const k of ['a', 'b', 'c']) q.add(k);
  assert.deepEqual(started, ['a', 'b']);
  assert.equal(q.size, 3);
  let stopped = false;
  const stopping = q.stop().then(() => {
    stopped = true;
  });
  await clock.advance(10);
  assert.equal(stopped, false);
  g.open();
  await stopping;
  assert.deepEqual(started, ['a', 'b'], 'nothing new starts once stopping');
});

test('keyed queue: stats give the keys in it and the age of the oldest, a failing key still counting', async () => {
  const clock = new FakeClock(1000);
  const g = gate();
  let fail = true;
  const q = new KeyedQueue<string>({
    clock,
    retryInitialMs: 100,
    work: async (k) => {
      if (k === 'slow') await g.opened;
      if (k === 'bad' && fail) throw new Error('not yet');
    },
  });
  assert.deepEqual(q.stats(), { depth: 0, oldestMs: 0 });
  q.add('slow');
  q.add('bad');
  q.start();
  await clock.advance(500);
  assert.deepEqual(q.stats(), { depth: 2, oldestMs: 500 });
  g.open();
  await q.idle();
  // 'bad' failed and waits for its retry: it is still behind, since it was first added.
  await clock.advance(50);
  assert.deepEqual(q.stats(), { depth: 1, oldestMs: 550 });
  fail = false;
  await clock.advance(100);
  await q.idle();
  assert.deepEqual(q.stats(), { depth: 0, oldestMs: 0 });
  await q.stop();
});

test('keyed queue: a key added again while it is worked on is behind from then, not from its first add', async () => {
  const clock = new FakeClock(0);
  let g = gate();
  const q = new KeyedQueue<string>({ clock, work: () => g.opened });
  q.start();
  q.add('busy');
  await clock.advance(1000);
  q.add('busy'); // changed again while being worked on
  await clock.advance(1000);
  assert.deepEqual(q.stats(), { depth: 1, oldestMs: 2000 });
  const first = g;
  g = gate();
  first.open();
  await new Promise((r) => setImmediate(r));
  // Worked on again, since the second add: 1000 ms behind, not 2000.
  assert.deepEqual(q.stats(), { depth: 1, oldestMs: 1000 });
  g.open();
  await q.idle();
  assert.deepEqual(q.stats(), { depth: 0, oldestMs: 0 });
  await q.stop();
});
