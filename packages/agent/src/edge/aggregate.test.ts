import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parser, TelemetrySettings } from '@homeostat/protocol';
import { Aggregator } from './aggregate.js';

test('raw mode passes every reading through', () => {
  const a = new Aggregator({ mode: 'raw' });
  assert.deepEqual(a.add(1000, { t: 1 }), { raw: { t: 1 }, summaries: [], alarms: [] });
});

test('tumbling windows: one summary per window with min, max, avg, count, p95, last', () => {
  const a = new Aggregator({
    mode: 'aggregate',
    window: { kind: 'tumbling', sizeMs: 10_000 },
    stats: ['min', 'max', 'avg', 'count', 'p95', 'last'],
  });
  const out = [];
  // 20 readings, one a second, values 1..20, from t=0.
  for (let i = 0; i < 20; i++) {
    const r = a.add(i * 1000, { t: i + 1 });
    assert.equal(r.raw, null, 'nothing raw while normal');
    out.push(...r.summaries);
  }
  out.push(...a.flush(20_000));
  assert.deepEqual(out, [
    { ts: 10_000, metrics: { 't.min': 1, 't.max': 10, 't.avg': 5.5, 't.count': 10, 't.p95': 10, 't.last': 10 } },
    { ts: 20_000, metrics: { 't.min': 11, 't.max': 20, 't.avg': 15.5, 't.count': 10, 't.p95': 20, 't.last': 20 } },
  ]);
});

test('sliding windows overlap: a window of 10 s every 5 s', () => {
  const a = new Aggregator({
    mode: 'aggregate',
    window: { kind: 'sliding', sizeMs: 10_000, hopMs: 5_000 },
    stats: ['count', 'avg'],
  });
  const out = [];
  for (let i = 0; i < 20; i++) out.push(...a.add(i * 1000, { t: i }).summaries);
  out.push(...a.flush(20_000));
  assert.deepEqual(
    out.map((s) => [s.ts, s.metrics['t.count'], s.metrics['t.avg']]),
    [
      [5_000, 5, 2],
      [10_000, 10, 4.5],
      [15_000, 10, 9.5],
      [20_000, 10, 14.5],
    ],
  );
});

test('raw readings go up as well while abnormal; a gap in readings emits nothing for empty windows', () => {
  const a = new Aggregator({
    mode: 'aggregate',
    window: { kind: 'tumbling', sizeMs: 10_000 },
    metrics: ['vibration'],
    rawWhen: [{ metric: 'vibration', above: 7.1 }],
  });
  assert.equal(a.add(0, { vibration: 2, flow: 70 }).raw, null);
  assert.deepEqual(a.add(1000, { vibration: 9, flow: 70 }).raw, { vibration: 9, flow: 70 });
  const later = a.add(60_000, { vibration: 2, flow: 70 });
  assert.deepEqual(
    later.summaries.map((s) => s.ts),
    [10_000],
    'one summary for the window with readings, none for the empty ones',
  );
  assert.deepEqual(Object.keys(later.summaries[0]?.metrics ?? {}).sort(), [
    'vibration.avg',
    'vibration.count',
    'vibration.max',
    'vibration.min',
  ]);
});

test('the settings are checked with the protocol schema', () => {
  const p = parser(TelemetrySettings);
  assert.equal(p.parse({ mode: 'aggregate', window: { kind: 'tumbling', sizeMs: 60000 } }).ok, true);
  const bad = p.parse({ mode: 'aggregate', window: { kind: 'hopping', sizeMs: 5 }, stats: ['median'] });
  assert.equal(bad.ok, false);
});
