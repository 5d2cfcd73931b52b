// Abnormal episodes: one alarm per episode, hysteresis at the bound, raw readings for the whole
// episode, and alarms in raw mode too.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Aggregator } from './aggregate.js';
import { Episodes } from './episodes.js';

const vibration = {
  metric: 'vibration',
  above: 7.1,
  hysteresis: 0.5,
  alarm: { code: 'VIBRATION_HIGH', severity: 'critical' as const },
};

test('a value hovering at the bound is one episode with one alarm; leaving by the hysteresis ends it', () => {
  const e = new Episodes([vibration]);
  const codes = (v: number) => e.update(0, { vibration: v }).map((a) => a.code);
  assert.deepEqual(codes(6.9), []);
  assert.equal(e.abnormal, false);
  assert.deepEqual(codes(7.3), ['VIBRATION_HIGH'], 'the crossing raises the alarm');
  for (const v of [7.0, 7.4, 6.7, 7.2, 6.61]) {
    assert.deepEqual(codes(v), [], `${v}: still the same episode`);
    assert.equal(e.abnormal, true);
  }
  assert.deepEqual(codes(6.5), [], 'back inside by the hysteresis: the episode ends quietly');
  assert.equal(e.abnormal, false);
  assert.deepEqual(codes(7.0), [], 'inside the bound: no new episode');
  assert.deepEqual(codes(8), ['VIBRATION_HIGH'], 'a new episode, a new alarm');
});

test('the alarm says what crossed which bound; a reading without the metric leaves the episode as it is', () => {
  const e = new Episodes([{ metric: 'battery', below: 20, alarm: { code: 'BATTERY_LOW' } }]);
  assert.deepEqual(e.update(0, { battery: 19.5 }), [
    {
      type: 'alarm',
      code: 'BATTERY_LOW',
      severity: 'warning',
      message: 'battery 19.5 below 20',
      data: { metric: 'battery', value: 19.5, below: 20 },
    },
  ]);
  assert.deepEqual(e.update(0, { coverage: 40 }), []);
  assert.equal(e.abnormal, true);
  assert.deepEqual(e.update(0, { battery: 21 }), []);
  assert.equal(e.abnormal, false);
});

test('a condition without an alarm only decides what goes up raw', () => {
  const e = new Episodes([{ metric: 't', above: 1 }]);
  assert.deepEqual(e.update(0, { t: 5 }), []);
  assert.equal(e.abnormal, true);
});

test('the aggregate stage sends raw readings for the whole episode and raises its alarm once, in either mode', () => {
  const values = [2, 7.5, 6.9, 7.3, 6.0, 2];
  const aggregated = new Aggregator({
    mode: 'aggregate',
    window: { kind: 'tumbling', sizeMs: 60_000 },
    rawWhen: [vibration],
  });
  const out = values.map((v, i) => aggregated.add(i * 1000, { vibration: v }));
  assert.deepEqual(
    out.map((r) => r.raw?.vibration ?? null),
    [null, 7.5, 6.9, 7.3, null, null],
  );
  assert.deepEqual(
    out.map((r) => r.alarms.length),
    [0, 1, 0, 0, 0, 0],
  );
  const raw = new Aggregator({ mode: 'raw', rawWhen: [vibration] });
  const rawOut = values.map((v, i) => raw.add(i * 1000, { vibration: v }));
  assert.ok(rawOut.every((r, i) => r.raw?.vibration === values[i]));
  assert.deepEqual(
    rawOut.map((r) => r.alarms.length),
    [0, 1, 0, 0, 0, 0],
  );
});
