// Telemetry queries over real sockets: raw points, buckets by step or number of points (from raw
// readings or rollups), and one metric aggregated across a label selector.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestHub, type TestHub } from './harness.js';

describe('telemetry queries', () => {
  let t: TestHub;
  // An hour boundary two hours ago, so every reading is in the past and buckets are aligned.
  const t0 = Date.now() - 2 * 3_600_000 - (Date.now() % 3_600_000);
  before(async () => {
    t = await startTestHub();
    for (const [name, site, base] of [
      ['th-a', 'paris', 20],
      ['th-b', 'paris', 22],
      ['th-c', 'lyon', 10],
    ] as const) {
      const token = await t.createDevice(name, { site });
      const c = await t.mqtt({ clientId: name, username: name, password: token });
      // One reading every 10 s for 5 minutes: 30 readings, values base .. base+29.
      const batch = Array.from({ length: 30 }, (_, i) => ({
        seq: i,
        ts: t0 + i * 10_000,
        metrics: { temperature: base + i },
      }));
      await c.publishAsync(`homeostat/v1/${name}/telemetry`, JSON.stringify(batch), { qos: 1 });
    }
  });
  after(() => t.close());

  test('raw points, newest `limit` of the window', async () => {
    const r = await t.api(
      'GET',
      `/api/v1/devices/th-a/telemetry?metric=temperature&from=${t0}&to=${t0 + 300_000}&limit=5`,
    );
    assert.equal(r.status, 200);
    assert.equal(r.body.truncated, true);
    assert.deepEqual(
      r.body.points.map((p: { value: number }) => p.value),
      [45, 46, 47, 48, 49],
    );
  });

  test('buckets by step: under a minute from raw readings, a minute or more from rollups', async () => {
    const raw = await t.api(
      'GET',
      `/api/v1/devices/th-a/telemetry?metric=temperature&from=${t0}&to=${t0 + 299_999}&step=30000`,
    );
    assert.equal(raw.body.source, 'raw');
    assert.equal(raw.body.buckets.length, 10);
    assert.deepEqual(raw.body.buckets[0], { ts: t0, count: 3, min: 20, max: 22, avg: 21, last: 22 });
    const minutes = await t.api(
      'GET',
      `/api/v1/devices/th-a/telemetry?metric=temperature&from=${t0}&to=${t0 + 299_999}&step=60000`,
    );
    assert.equal(minutes.body.source, '1m');
    assert.deepEqual(minutes.body.buckets[4], { ts: t0 + 240_000, count: 6, min: 44, max: 49, avg: 46.5, last: 49 });
    const fitted = await t.api(
      'GET',
      `/api/v1/devices/th-a/telemetry?metric=temperature&from=${t0}&to=${t0 + 3_599_999}&maxPoints=1`,
    );
    assert.equal(fitted.body.source, '1h');
    assert.deepEqual(fitted.body.buckets, [{ ts: t0, count: 30, min: 20, max: 49, avg: 34.5, last: 49 }]);
    const bad = await t.api('GET', '/api/v1/devices/th-a/telemetry?metric=temperature&step=5');
    assert.equal(bad.status, 400);
  });

  test('fleet: one metric across a label selector, aggregated per bucket', async () => {
    const q = `metric=temperature&from=${t0}&to=${t0 + 3_599_999}&step=3600000`;
    const paris = await t.api('GET', `/api/v1/telemetry?selector=site%3Dparis&${q}&agg=avg`);
    assert.equal(paris.status, 200, JSON.stringify(paris.body));
    assert.equal(paris.body.devices, 2);
    assert.deepEqual(paris.body.points, [{ ts: t0, value: 35.5, count: 60 }]);
    const max = await t.api('GET', `/api/v1/telemetry?${q}&agg=max`);
    assert.equal(max.body.devices, 3);
    assert.equal(max.body.points[0].value, 51);
    const none = await t.api('GET', `/api/v1/telemetry?selector=site%3Dnowhere&${q}`);
    assert.deepEqual([none.body.devices, none.body.points], [0, []]);
    const badAgg = await t.api('GET', `/api/v1/telemetry?${q}&agg=median`);
    assert.equal(badAgg.status, 400);
    assert.equal(badAgg.body.error.code, 'ERR_VALIDATION');
  });
});
