// The InferenceRunner contract suite: every implementation runs these same tests (see
// runner.test.ts), so the onnxruntime runner and the TypeScript reference behave alike, and a
// future runner (another runtime, an accelerator) is held to the same promises.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANOMALY_MODEL_FORMAT, type AnomalyModelCard, anomalyScore, anomalyWeights } from './anomaly-model.js';
import { type InferenceRunner, type ModelBytes, sha256Hex } from './runner.js';

export interface RunnerHarness {
  create(): InferenceRunner;
  /** The model bytes this implementation loads for `card` (ONNX, or the card's JSON). */
  bytesOf(card: AnomalyModelCard): Uint8Array;
}

/** A small model of the anomaly family: 3 features, 1 component. */
export const CONTRACT_CARD: AnomalyModelCard = {
  format: ANOMALY_MODEL_FORMAT,
  description: 'contract-suite model',
  inputs: { metrics: ['a', 'b', 'c'], features: ['mean'], windowMs: 4000 },
  output: { metric: 'score' },
  mean: [1, -2, 0.5],
  scale: [2, 0.5, 1],
  encoder: [[0.6], [0.8], [0]],
  gain: 2,
  threshold: 1,
};

/** Float32 tolerance: the runtimes may sum in another order than the reference. */
export function closeF32(actual: number, expected: number): boolean {
  return Math.abs(actual - expected) <= 1e-5 + 1e-5 * Math.abs(expected);
}

function codeIs(code: string): (err: unknown) => boolean {
  return (err) => {
    assert.equal((err as { code?: unknown }).code, code);
    return true;
  };
}

export function runnerContract(name: string, harness: RunnerHarness): void {
  const model = (card = CONTRACT_CARD): ModelBytes => {
    const bytes = harness.bytesOf(card);
    return { bytes, sha256: sha256Hex(bytes) };
  };
  const row = (values: number[]) => ({ features: { data: Float32Array.from(values), dims: [1, values.length] } });

  describe(`InferenceRunner contract: ${name}`, () => {
    it('offers the CPU execution provider', () => {
      assert.ok(harness.create().executionProviders().includes('cpu'));
    });

    it('refuses bytes that do not hash to the announced SHA-256, and stays unloaded', async () => {
      const runner = harness.create();
      const m = model();
      const tampered = m.bytes.slice();
      tampered[tampered.length - 1]! ^= 1;
      await assert.rejects(runner.load({ bytes: tampered, sha256: m.sha256 }), codeIs('ERR_MODEL_HASH_MISMATCH'));
      assert.equal(runner.ready, false);
      await assert.rejects(runner.run(row([0, 0, 0])), codeIs('ERR_MODEL_INPUT'));
    });

    it('refuses bytes that are not a model, with their right hash', async () => {
      const bytes = new TextEncoder().encode('not a model');
      await assert.rejects(harness.create().load({ bytes, sha256: sha256Hex(bytes) }), codeIs('ERR_MODEL_INVALID'));
    });

    it('once loaded (warm-up included) is ready and declares its inputs and outputs', async () => {
      const runner = harness.create();
      const m = model();
      await runner.load({ bytes: m.bytes, sha256: m.sha256.toUpperCase() });
      assert.equal(runner.ready, true);
      assert.equal(runner.sha256, m.sha256);
      assert.deepEqual(runner.inputs, [{ name: 'features', dims: [-1, 3] }]);
      assert.deepEqual(
        runner.outputs.map((o) => o.name),
        ['score'],
      );
      await runner.dispose();
    });

    it('scores a row and a batch as the reference computation does', async () => {
      const runner = harness.create();
      await runner.load(model());
      const weights = anomalyWeights(CONTRACT_CARD);
      const batch = [
        [1, -2, 0.5],
        [3, -1, 0.5],
        [1, -2, 7],
        [-100, 40, 0.25],
      ];
      for (const values of batch) {
        const out = await runner.run(row(values));
        assert.deepEqual([...out.score!.dims], [1, 1]);
        const [expected] = anomalyScore(weights, Float32Array.from(values), 1);
        assert.ok(closeF32(out.score!.data[0]!, expected!), `${values}: ${out.score!.data[0]} vs ${expected}`);
      }
      assert.equal((await runner.run(row([1, -2, 0.5]))).score!.data[0], 0, 'the mean is no anomaly');
      const flat = Float32Array.from(batch.flat());
      const out = await runner.run({ features: { data: flat, dims: [batch.length, 3] } });
      assert.deepEqual([...out.score!.dims], [batch.length, 1]);
      const expected = anomalyScore(weights, flat, batch.length);
      for (const [i, v] of out.score!.data.entries()) assert.ok(closeF32(v, expected[i]!));
      await runner.dispose();
    });

    it('refuses inputs that are not the model’s', async () => {
      const runner = harness.create();
      await runner.load(model());
      await assert.rejects(runner.run({}), codeIs('ERR_MODEL_INPUT'));
      await assert.rejects(runner.run(row([1, 2])), codeIs('ERR_MODEL_INPUT'));
      await assert.rejects(
        runner.run({ features: { data: new Float32Array(3), dims: [1, 4] } }),
        codeIs('ERR_MODEL_INPUT'),
      );
      await assert.rejects(runner.run({ ...row([1, 2, 3]), extra: row([1]).features }), codeIs('ERR_MODEL_INPUT'));
      await runner.dispose();
    });

    it('loading another model replaces the first; dispose() ends it', async () => {
      const runner = harness.create();
      await runner.load(model());
      const other: AnomalyModelCard = { ...CONTRACT_CARD, mean: [0, 0, 0], scale: [1, 1, 1] };
      const m2 = model(other);
      await runner.load(m2);
      assert.equal(runner.sha256, m2.sha256);
      const [expected] = anomalyScore(anomalyWeights(other), Float32Array.from([1, 2, 3]), 1);
      assert.ok(closeF32((await runner.run(row([1, 2, 3]))).score!.data[0]!, expected!));
      await runner.dispose();
      assert.equal(runner.ready, false);
      assert.equal(runner.sha256, null);
      await assert.rejects(runner.run(row([1, 2, 3])), codeIs('ERR_MODEL_INPUT'));
      await runner.dispose();
    });
  });
}
