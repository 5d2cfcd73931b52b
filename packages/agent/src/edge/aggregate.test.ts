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

test('a long episode sends raw readings for rawForMs after it starts, then summaries only', () => {
  const a = new Aggregator({
    mode: 'aggregate',
    window: { kind: 'tumbling', sizeMs: 60_000 },
    rawWhen: [{ metric: 'vibration', above: 7.1, hysteresis: 1 }],
    rawForMs: 30_000,
  });
  const raw = (ts: number, v: number) => a.add(ts, { vibration: v }).raw !== null;
  assert.equal(raw(0, 2), false);
  assert.equal(raw(10_000, 8), true, 'the episode starts');
  assert.equal(raw(39_000, 8), true);
  assert.equal(raw(40_000, 8), false, '30 s later the hub has had enough raw readings');
  assert.equal(raw(50_000, 6.5), false, 'still in the episode (hysteresis)');
  assert.equal(raw(60_000, 5), false, 'the episode ended');
  assert.equal(raw(70_000, 9), true, 'a new episode sends raw readings again');
});

test('decimals round what is sent, not what is summarised', () => {
  const a = new Aggregator({
    mode: 'aggregate',
    window: { kind: 'tumbling', sizeMs: 10_000 },
    stats: ['avg'],
    decimals: 2,
  });
  a.add(0, { t: 20.123456 });
  a.add(1000, { t: 20.127 });
  assert.deepEqual(a.add(10_000, { t: 1 }).summaries[0]?.metrics, { 't.avg': 20.13 });
  assert.deepEqual(new Aggregator({ mode: 'raw', decimals: 1 }).add(0, { t: 20.16 }).raw, { t: 20.2 });
});
