// Runs the InferenceRunner contract on both implementations, then checks that onnxruntime and the
// TypeScript reference agree on many inputs, ordinary and extreme.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { anomalyScore, anomalyWeights } from './anomaly-model.js';
import { CONTRACT_CARD, closeF32, runnerContract } from './contract.js';
import { OnnxRunner, onnxExecutionProviders } from './onnx-runner.js';
import { anomalyModelOnnx } from './onnx-writer.js';
import { ReferenceRunner } from './reference-runner.js';
import { sha256Hex } from './runner.js';

const cardJson = (card: object) => new TextEncoder().encode(JSON.stringify(card));

runnerContract('OnnxRunner', { create: () => new OnnxRunner(), bytesOf: anomalyModelOnnx });
runnerContract('ReferenceRunner', { create: () => new ReferenceRunner(), bytesOf: cardJson });

test('onnxruntime-node offers the CPU provider, and only what this runner uses', () => {
  assert.deepEqual(onnxExecutionProviders(), ['cpu']);
});

test('the ONNX model and the reference agree on 2,000 inputs to float32 tolerance', async () => {
  const bytes = anomalyModelOnnx(CONTRACT_CARD);
  const runner = new OnnxRunner({ warmupRuns: 1 });
  await runner.load({ bytes, sha256: sha256Hex(bytes) });
  const weights = anomalyWeights(CONTRACT_CARD);
  // A fixed linear congruential sequence: the same inputs on every run.
  let s = 12345;
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  for (let i = 0; i < 2000; i++) {
    const spread = 10 ** Math.floor(next() * 6 - 2); // 0.01 to 1000
    const x = Float32Array.from([0, 0, 0], () => (next() - 0.5) * spread);
    const got = (await runner.run({ features: { data: x, dims: [1, 3] } })).score!.data[0]!;
    const [want] = anomalyScore(weights, x, 1);
    assert.ok(closeF32(got, want!), `input ${x}: onnx ${got}, reference ${want}`);
  }
  await runner.dispose();
});
