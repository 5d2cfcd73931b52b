// The model module kind: placement (edge, or the hub when the device cannot run the model), the
// model cache by hash, and windows of local streams in, the model's score out as a derived metric.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  anomalyScore,
  anomalyWeights,
  MemoryModelStore,
  OnnxRunner,
  onnxExecutionProviders,
  sha256Hex,
} from '@homeostat/inference';
import { anomalyModelOnnx } from '@homeostat/inference/onnx-writer';
import { CONTRACT_CARD } from '@homeostat/inference/runner-contract';
import { FakeClock, silentLogger } from '@homeostat/kit';
import type { Capabilities, ModuleSpec } from '@homeostat/protocol';
import type { Metrics } from '../device/hardware.js';
import { ModelKind, placeModel } from './model.js';
import type { ModuleContext } from './module.js';

const onnx = anomalyModelOnnx(CONTRACT_CARD);
const sha256 = sha256Hex(onnx);
type ModelSpec = Extract<ModuleSpec, { kind: 'model' }>;
const spec = (config: Partial<ModelSpec['config']> = {}): ModelSpec =>
  ({
    name: 'bearing',
    kind: 'model',
    config: {
      artifact: { sha256, size: onnx.length },
      inputs: { metrics: ['a', 'b', 'c'], features: ['mean'], windowMs: 4000 },
      output: { metric: 'anomaly' },
      ...config,
    },
  }) as ModelSpec;

/** A context whose streams are a list of timed values per metric, recording what is emitted. */
function context(values: Record<string, { ts: number; value: number }[]>) {
  const emitted: { metrics: Metrics; ts: number | undefined }[] = [];
  const crashes: Error[] = [];
  const ctx = {
    name: 'bearing',
    clock: new FakeClock(0),
    logger: silentLogger(),
    dataDir: null,
    streams: {
      latest: () => undefined,
      stat: () => undefined,
      window: (metric: string, sizeMs: number, now: number) =>
        (values[metric] ?? []).filter((v) => v.ts > now - sizeMs && v.ts <= now),
    },
    emit: (metrics: Metrics, ts?: number) => emitted.push({ metrics, ts }),
    actuate: () => {},
    raise: () => {},
    crashed: (err: Error) => crashes.push(err),
  } satisfies ModuleContext;
  return { ctx, emitted, crashes };
}

const pump: Capabilities = { executionProviders: onnxExecutionProviders(), memoryBytes: 1024 * 1024 * 1024 };

test('placement: auto follows the requirements, edge and hub are forced', () => {
  assert.equal(placeModel(spec().config, pump).placement, 'edge');
  assert.equal(placeModel(spec({ requires: { executionProviders: ['cuda'] } }).config, pump).placement, 'hub');
  assert.equal(placeModel(spec({ requires: { memoryBytes: 2 ** 31 } }).config, pump).placement, 'hub');
  assert.equal(placeModel(spec({ placement: 'hub' }).config, pump).placement, 'hub');
  assert.equal(placeModel(spec({ placement: 'edge' }).config, {}).placement, 'edge');
});

test('a device without the provider leaves the model to the hub: nothing is fetched or loaded', async () => {
  let created = 0;
  const kind = new ModelKind({
    capabilities: () => ({ executionProviders: [] }),
    store: new MemoryModelStore(),
    createRunner: () => {
      created++;
      return new OnnxRunner();
    },
  });
  const running = await kind.start(spec(), context({}).ctx);
  assert.equal(running.placement?.(), 'hub');
  assert.equal(created, 0);
  await running.stop();
});

test('fetched once, verified, cached by hash; the score of each window is emitted as a derived metric', async () => {
  const store = new MemoryModelStore();
  let fetches = 0;
  const kind = new ModelKind({
    capabilities: () => pump,
    store,
    fetchArtifact: async () => {
      fetches++;
      return onnx;
    },
    createRunner: () => new OnnxRunner({ warmupRuns: 1 }),
  });
  const series = (f: (t: number) => number) => Array.from({ length: 10 }, (_, i) => ({ ts: i * 1000, value: f(i) }));
  const { ctx, emitted, crashes } = context({ a: series((i) => i), b: series(() => -2), c: series((i) => i % 3) });
  const running = await kind.start(spec(), ctx);
  assert.equal(running.placement?.(), 'edge');
  assert.equal(await store.has(sha256), true);
  for (let i = 0; i < 10; i++) {
    running.onSample?.({ ts: i * 1000, metrics: {} });
    running.onSample?.({ ts: i * 1000, metrics: { anomaly: 1 }, source: 'bearing' }); // its own: ignored
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.deepEqual(crashes, []);
  assert.equal(emitted.length, 10);
  // The last window (t in (5 s, 9 s]): a = 6..9, b = −2, c = 0,1,2,0.
  const x = Float32Array.from([7.5, -2, 0.75]);
  const [want] = anomalyScore(anomalyWeights(CONTRACT_CARD), x, 1);
  const got = emitted.at(-1)!;
  assert.equal(got.ts, 9000);
  assert.ok(Math.abs(got.metrics.anomaly! - want!) < 1e-5, `${got.metrics.anomaly} vs ${want}`);
  assert.equal((await running.health?.())?.healthy, true);
  await running.stop();

  const again = await kind.start(spec(), ctx);
  assert.equal(fetches, 1, 'the second start loads from the cache');
  await again.stop();
});

test('an artifact whose bytes are not the announced hash is refused with ERR_MODEL_HASH_MISMATCH', async () => {
  const kind = new ModelKind({
    capabilities: () => pump,
    store: new MemoryModelStore(),
    fetchArtifact: async () => onnx.slice(1),
    createRunner: () => new OnnxRunner(),
  });
  await assert.rejects(kind.start(spec(), context({}).ctx), { code: 'ERR_MODEL_HASH_MISMATCH' });
});
