// The local streams: latest values, windows and statistics over them, and the bounds that keep
// their memory fixed (retention in time, points per metric, number of metrics).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ModuleSpec } from '@homeostat/protocol';
import { StreamStore, streamWindowMs } from './streams.js';

const T0 = 1_700_000_000_000;

test('latest, window and statistics over (now − size, now]', () => {
  const s = new StreamStore();
  for (let i = 0; i < 10; i++)
    s.record({ ts: T0 + i * 1000, metrics: { t: i, ...(i % 2 === 0 ? { h: 50 + i } : {}) } });
  assert.deepEqual(s.latest('t'), { value: 9, ts: T0 + 9000 });
  assert.deepEqual(s.latest('h'), { value: 58, ts: T0 + 8000 });
  assert.equal(s.latest('nothing'), undefined);
  const now = T0 + 9000;
  // 5 s back from 9 s: readings at 5, 6, 7, 8, 9 (4 s is excluded: the window is open on the left)
  assert.deepEqual(
    s.window('t', 5000, now).map((p) => p.value),
    [5, 6, 7, 8, 9],
  );
  assert.equal(s.stat('t', 5000, 'avg', now), 7);
  assert.equal(s.stat('t', 5000, 'min', now), 5);
  assert.equal(s.stat('t', 5000, 'max', now), 9);
  assert.equal(s.stat('t', 5000, 'count', now), 5);
  assert.equal(s.stat('t', 5000, 'last', now), 9);
  assert.equal(s.stat('t', 10_000, 'p95', now), 9);
  assert.equal(s.stat('h', 1000, 'avg', now), undefined, 'no reading of h in the last second');
  assert.equal(s.stat('t', 5000, 'avg', now + 60_000), undefined, 'nothing that recent');
});

test('a late reading is kept in time order; non-finite values are ignored', () => {
  const s = new StreamStore();
  s.record({ ts: T0 + 2000, metrics: { x: 2 } });
  s.record({ ts: T0 + 1000, metrics: { x: 1, y: Number.NaN } });
  s.record({ ts: T0 + 3000, metrics: { x: 3 } });
  assert.deepEqual(
    s.window('x', 10_000, T0 + 3000).map((p) => p.value),
    [1, 2, 3],
  );
  assert.deepEqual(s.latest('x'), { value: 3, ts: T0 + 3000 });
  assert.equal(s.latest('y'), undefined);
});

test('memory is bounded: retention in time, points per metric, number of metrics', () => {
  const s = new StreamStore({ minRetainMs: 10_000, maxRetainMs: 60_000, maxPointsPerMetric: 50, maxMetrics: 2 });
  for (let i = 0; i < 100; i++) s.record({ ts: T0 + i * 1000, metrics: { a: i } });
  // 10 s retention at one reading a second: 10 points (the one exactly 10 s old is out)
  assert.equal(s.window('a', 1_000_000, T0 + 99_000).length, 10);
  assert.deepEqual(s.latest('a'), { value: 99, ts: T0 + 99_000 }, 'the latest value outlives the ring');

  s.setRetention(3_600_000); // clamped to 60 s; then 50 points at most
  for (let i = 100; i < 200; i++) s.record({ ts: T0 + i * 1000, metrics: { a: i } });
  assert.equal(s.retainMs, 60_000);
  assert.equal(s.window('a', 1_000_000, T0 + 199_000).length, 50);

  s.setRetention(0); // back to the minimum: trimmed at once
  assert.equal(s.window('a', 1_000_000, T0 + 199_000).length, 10);

  for (let i = 0; i < 5000; i++) s.record({ ts: T0 + 200_000 + i, metrics: { a: i } });
  assert.ok(s.points <= 50, `at most 50 points, ${s.points}`);

  s.record({ ts: T0 + 300_000, metrics: { b: 1, c: 1 } });
  assert.equal(s.latest('c'), undefined, 'a third metric is refused');
  assert.equal(s.dropped, 1);
});

test('the retention a module asks for: its longest window', () => {
  const rule: ModuleSpec = {
    name: 'r',
    kind: 'rule',
    config: {
      when: {
        all: [
          { metric: 't', above: 1 },
          { any: [{ not: { metric: 'v', window: { sizeMs: 300_000, stat: 'p95' }, above: 2 } }] },
        ],
      },
      until: { metric: 't', window: { sizeMs: 60_000, stat: 'avg' }, below: 0 },
      onActivate: [],
    },
  };
  assert.equal(streamWindowMs(rule), 300_000);
  assert.equal(streamWindowMs({ name: 'f', kind: 'function', config: { source: 'x' } }), 0);
});
