import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock } from '@homeostat/kit';
import type { PolicySpec } from '@homeostat/protocol';
import { type MetricSignal, type MetricTrigger, MetricWatch, RollingWindow } from './metric-watch.js';

const T0 = 1_000_000;

function policy(name: string, trigger: Omit<MetricTrigger, 'kind'>, extra: Partial<PolicySpec> = {}) {
  const spec: PolicySpec = {
    property: 'self-healing',
    scope: 'fleet',
    trigger: { kind: 'metric', ...trigger },
    analysis: { symptom: 'too-hot' },
    plan: [{ action: 'open-incident' }],
    ...extra,
  };
  return { name, spec };
}

function setup(policies: ReturnType<typeof policy>[]) {
  const clock = new FakeClock(T0);
  const fired: MetricSignal[] = [];
  const watch = new MetricWatch({ clock, emit: (s) => fired.push(s) });
  watch.index(policies);
  let seq = 0;
  const read = (value: number, device = 'th-1', metric = 'temperature') =>
    watch.onStored([{ device, seq: seq++, ts: clock.now(), metrics: { [metric]: value } }]);
  return { clock, fired, watch, read };
}

describe('RollingWindow', () => {
  test('takes last, avg, min, max and p95 over the values inside the window', () => {
    const w = new RollingWindow(10_000);
    for (const [i, v] of [5, 1, 9, 3, 7].entries()) w.push(T0 + i * 1000, v);
    assert.deepEqual(
      (['last', 'avg', 'min', 'max', 'p95'] as const).map((s) => w.stat(s)),
      [7, 5, 1, 9, 9],
    );
    // Past the window, the oldest values go: 5, 1 and 9 (at T0 .. T0+2000) leave.
    w.expire(T0 + 12_000);
    assert.equal(w.size, 2);
    assert.deepEqual([w.stat('min'), w.stat('max'), w.stat('avg')], [3, 7, 5]);
    w.expire(T0 + 20_000);
    assert.equal(w.stat('last'), null);
  });

  test('p95 is the nearest rank, kept sorted or sorted when asked, as values come and go', () => {
    const kept = new RollingWindow(50, 20, { sorted: true });
    const plain = new RollingWindow(50, 20);
    for (let i = 0; i < 500; i++) {
      const v = (i * 7919) % 101;
      kept.push(T0 + i, v);
      plain.push(T0 + i, v);
      kept.expire(T0 + i);
      plain.expire(T0 + i);
      assert.equal(kept.stat('p95'), plain.stat('p95'));
    }
    const window = [...Array(20).keys()].map((k) => ((480 + k) * 7919) % 101).sort((a, b) => a - b);
    assert.equal(kept.stat('p95'), window[18]);
  });

  test('a value older than the newest is ignored; the count is bounded', () => {
    const w = new RollingWindow(3_600_000, 100, { sorted: true });
    for (let i = 1; i <= 100; i++) w.push(T0 + i, i);
    assert.equal(w.stat('p95'), 95);
    assert.equal(w.push(T0, 1000), false);
    assert.equal(w.stat('max'), 100);
    for (let i = 101; i <= 5000; i++) w.push(T0 + i, i % 7);
    assert.equal(w.size, 100);
    assert.equal(w.stat('max'), 6);
    assert.equal(w.stat('min'), 0);
  });
});

describe('MetricWatch', () => {
  test('fires once the stat stayed past the threshold for forMs, on the clock, with its evidence', async () => {
    const { clock, fired, read } = setup([policy('hot', { metric: 'temperature', above: 30, forMs: 5000 })]);
    read(31);
    await clock.advance(4000);
    read(32);
    assert.equal(fired.length, 0, 'not held long enough yet');
    // No new reading: the hold ends on the clock, the window as it stands decides.
    await clock.advance(1000);
    assert.equal(fired.length, 1);
    assert.deepEqual(fired[0], {
      kind: 'metric',
      device: 'th-1',
      policy: 'hot',
      metric: 'temperature',
      stat: 'last',
      windowMs: 60_000,
      value: 32,
      threshold: 30,
      past: 'above',
      heldMs: 5000,
      samples: 2,
      at: T0 + 5000,
    });
  });

  test('over and back under before forMs does not fire; the hold starts again', async () => {
    const { clock, fired, read } = setup([policy('hot', { metric: 'temperature', above: 30, forMs: 5000 })]);
    read(31);
    await clock.advance(3000);
    read(29);
    await clock.advance(1000);
    read(31);
    await clock.advance(4000);
    assert.equal(fired.length, 0, 'the hold began again at the second crossing');
    await clock.advance(1000);
    assert.equal(fired.length, 1);
    assert.equal(fired[0]?.heldMs, 5000);
  });

  test('hysteresis: the symptom lasts until clearAt; it fires again only once cleared (or after the cooldown)', async () => {
    const hot = policy('hot', { metric: 'temperature', above: 30, clearAt: 25 }, { cooldownMs: 60_000 });
    const { clock, fired, read } = setup([hot]);
    read(31);
    assert.equal(fired.length, 1);
    read(28); // under the threshold, over clearAt: still on
    read(31);
    assert.equal(fired.length, 1);
    read(24); // cleared
    read(31);
    assert.equal(fired.length, 2, 'a new episode');
    // A symptom that lasts is signalled again once per cooldown.
    await clock.advance(30_000);
    read(33);
    assert.equal(fired.length, 2);
    await clock.advance(30_000);
    read(33);
    assert.equal(fired.length, 3);
  });

  test('stats over the window, below thresholds, devices apart, and only the metric and devices watched', async () => {
    const cold = policy('cold', { metric: 'temperature', stat: 'avg', windowMs: 10_000, below: 10 });
    const named = policy(
      'pump',
      { metric: 'anomaly_score', stat: 'max', above: 0.8 },
      { scope: { devices: ['pump-1'] } },
    );
    const { clock, fired, watch, read } = setup([cold, named]);
    read(12);
    await clock.advance(1000);
    read(9); // avg 10.5
    assert.equal(fired.length, 0);
    await clock.advance(1000);
    read(8, 'th-2'); // another device's window
    assert.equal(fired.length, 1);
    assert.equal(fired[0]?.device, 'th-2');
    await clock.advance(8500); // 12 leaves th-1's window: avg of 9 and 7
    read(7);
    assert.equal(fired.length, 2);
    assert.deepEqual([fired[1]?.device, fired[1]?.value, fired[1]?.samples], ['th-1', 8, 2]);
    read(0.9, 'pump-2', 'anomaly_score');
    assert.equal(watch.followed('pump'), 0, 'a device outside the named scope is not followed');
    read(0.9, 'pump-1', 'anomaly_score');
    assert.equal(fired[2]?.policy, 'pump');
    read(1, 'th-1', 'humidity');
    assert.equal(fired.length, 3);
  });

  test('a changed or deleted policy starts afresh and its pending hold is cancelled', async () => {
    const { clock, fired, watch, read } = setup([policy('hot', { metric: 'temperature', above: 30, forMs: 5000 })]);
    read(31);
    watch.index([policy('hot', { metric: 'temperature', above: 40, forMs: 5000 })]);
    await clock.advance(6000);
    assert.equal(fired.length, 0);
    assert.equal(watch.followed('hot'), 0);
    read(41);
    watch.index([]);
    await clock.advance(6000);
    assert.equal(fired.length, 0);
  });
});
