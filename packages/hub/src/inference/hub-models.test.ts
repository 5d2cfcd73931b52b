// The hub runs a device's model on the device's telemetry, with the same scorer as the agent:
// the same readings give the same score on both sides.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { anomalyScore, anomalyWeights, MemoryModelStore, OnnxRunner, sha256Hex } from '@homeostat/inference';
import { anomalyModelOnnx } from '@homeostat/inference/onnx-writer';
import { CONTRACT_CARD } from '@homeostat/inference/runner-contract';
import type { ModelConfig } from '@homeostat/protocol';
import { HubModels } from './hub-models.js';

const onnx = anomalyModelOnnx(CONTRACT_CARD);
const config: ModelConfig = {
  artifact: { sha256: sha256Hex(onnx), size: onnx.length },
  inputs: { metrics: ['a', 'b', 'c'], features: ['mean'], windowMs: 4000 },
  output: { metric: 'anomaly' },
  everyMs: 2000,
};

test('readings of a device in, its model output out as derived readings; one session for all devices', async () => {
  const store = new MemoryModelStore();
  await store.put({ bytes: onnx, sha256: config.artifact.sha256 });
  let sessions = 0;
  const hub = new HubModels({
    store,
    createRunner: () => {
      sessions++;
      return new OnnxRunner({ warmupRuns: 1 });
    },
  });
  await hub.place('pump-1', 'bearing', config);
  await hub.place('pump-2', 'bearing', config);
  assert.equal(sessions, 1);
  assert.deepEqual(await hub.onReading('elsewhere', 0, { a: 1 }), [], 'a device without hub-placed models');

  const derived = [];
  for (let i = 0; i < 10; i++) {
    derived.push(...(await hub.onReading('pump-1', i * 1000, { a: i, b: -2, c: i % 3, other: 5 })));
  }
  assert.deepEqual(
    derived.map((d) => d.ts),
    [0, 2000, 4000, 6000, 8000],
    'every everyMs',
  );
  // The last window (t in (4 s, 8 s]): a = 5..8, b = −2, c = 2,0,1,2.
  const [want] = anomalyScore(anomalyWeights(CONTRACT_CARD), Float32Array.from([6.5, -2, 1.25]), 1);
  assert.ok(Math.abs(derived.at(-1)!.value - want!) < 1e-5);
  assert.equal(derived.at(-1)!.metric, 'anomaly');

  await hub.place('pump-2', 'bearing', { ...config, everyMs: 1000 });
  assert.equal(sessions, 1, 'replacing a model by itself keeps the session');
  assert.equal((await hub.onReading('pump-2', 0, { a: 1, b: 1, c: 1 })).length, 1);

  await hub.remove('pump-1', 'bearing');
  assert.deepEqual(await hub.onReading('pump-1', 20_000, { a: 1, b: 1, c: 1 }), []);
  await hub.close();
});

test('a model the hub does not have is refused at placement', async () => {
  const hub = new HubModels({ store: new MemoryModelStore(), createRunner: () => new OnnxRunner() });
  await assert.rejects(hub.place('pump-1', 'bearing', config), /not in the hub's model store/);
});
