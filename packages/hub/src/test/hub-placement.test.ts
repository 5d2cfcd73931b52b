// A model a device cannot run runs in the hub: the device reports its model module placed in the
// hub, the hub runs the same scorer on the device's readings as they are stored, and stores the
// output as the device's readings (seq −ts), queryable like the device's own.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { anomalyScore, anomalyWeights, sha256Hex } from '@homeostat/inference';
import { anomalyModelOnnx } from '@homeostat/inference/onnx-writer';
import { CONTRACT_CARD } from '@homeostat/inference/runner-contract';
import { waitFor } from '@homeostat/testing';
import { ADMIN, startTestHub } from './harness.js';

const onnx = anomalyModelOnnx(CONTRACT_CARD);
const sha256 = sha256Hex(onnx);
const model = {
  name: 'anomaly',
  kind: 'model',
  config: {
    artifact: { sha256, size: onnx.length },
    inputs: { metrics: ['a', 'b', 'c'], features: ['mean'], windowMs: 4000 },
    output: { metric: 'anomaly' },
    everyMs: 2000,
    requires: { executionProviders: ['cuda'] },
  },
};

test('a model placed in the hub derives readings from the device telemetry, stored as the device readings', async (t) => {
  const hub = await startTestHub();
  t.after(() => hub.close());
  const put = await fetch(`${hub.started.httpUrl}/api/v1/blobs/${sha256}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/octet-stream' },
    body: onnx,
  });
  assert.equal(put.status, 201);
  const token = await hub.createDevice('pump-9', { model: 'pm-1' });
  const deployed = await hub.api('PUT', '/api/v1/deployments/pump-models', {
    spec: { selector: 'model=pm-1', modules: [model] },
  });
  assert.ok(deployed.status === 201 || deployed.status === 200, JSON.stringify(deployed.body));
  const device = await hub.mqtt({ clientId: 'pump-9', username: 'pump-9', password: token });
  const rev = await waitFor(async () => {
    const d = await hub.api('GET', '/api/v1/devices/pump-9');
    return d.body.twin.desired.state.modules?.anomaly?.rev as string | undefined;
  });

  // The device has no CUDA: it reports the module placed in the hub.
  const reported = { kind: 'model', rev, state: 'running', since: 1, restarts: 0, lastError: null, placement: 'hub' };
  await device.publishAsync(
    'homeostat/v1/pump-9/twin/reported',
    JSON.stringify({ version: 1, state: { modules: { anomaly: reported } } }),
    { qos: 1 },
  );
  await waitFor(
    async () => {
      const e = await hub.api('GET', '/api/v1/events?device=pump-9&type=module');
      return e.body.items.length > 0;
    },
    { message: 'the hub placed the model' },
  );

  const t0 = Date.now() - 60_000;
  for (let i = 0; i < 10; i++) {
    const reading = { seq: i + 1, ts: t0 + i * 1000, metrics: { a: i, b: -2, c: i % 3 } };
    await device.publishAsync('homeostat/v1/pump-9/telemetry', JSON.stringify(reading), { qos: 1 });
  }
  const series = await waitFor(
    async () => {
      const r = await hub.api('GET', `/api/v1/devices/pump-9/telemetry?metric=anomaly&from=${t0}`);
      return r.body.points?.length >= 5 ? r.body.points : null;
    },
    { message: 'derived readings stored' },
  );
  assert.deepEqual(
    series.map((p: { ts: number }) => p.ts - t0),
    [0, 2000, 4000, 6000, 8000],
  );
  assert.ok(
    series.every((p: { seq: number; ts: number }) => p.seq === -p.ts),
    'derived readings carry seq −ts',
  );
  // The same score as the device would compute: the last window (4 s, 8 s].
  const [want] = anomalyScore(anomalyWeights(CONTRACT_CARD), Float32Array.from([6.5, -2, 1.25]), 1);
  assert.ok(Math.abs(series.at(-1).value - want!) < 1e-4);

  // Back on the device (placement edge): the hub stops.
  await device.publishAsync(
    'homeostat/v1/pump-9/twin/reported',
    JSON.stringify({ version: 2, state: { modules: { anomaly: { ...reported, placement: 'edge' } } } }),
    { qos: 1 },
  );
  await new Promise((r) => setTimeout(r, 300));
  await device.publishAsync(
    'homeostat/v1/pump-9/telemetry',
    JSON.stringify({ seq: 11, ts: t0 + 20_000, metrics: { a: 1, b: 1, c: 1 } }),
    { qos: 1 },
  );
  await new Promise((r) => setTimeout(r, 300));
  const after = await hub.api('GET', `/api/v1/devices/pump-9/telemetry?metric=anomaly&from=${t0}`);
  assert.equal(after.body.points.length, 5, 'nothing derived once the device runs it');
});
