// The committed pump model: it is what the generator writes, onnxruntime computes what the
// TypeScript reference computes on simulated windows, and its score tells a healthy bearing from a
// worn one early enough that the demo's alarm comes before the bearing fails.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ModelKind } from '@homeostat/agent';
import {
  anomalyScore,
  anomalyWeights,
  inputRow,
  MemoryModelStore,
  OnnxRunner,
  ReferenceRunner,
} from '@homeostat/inference';
import { ModuleSpec, parser } from '@homeostat/protocol';
import { PUMP_BEARING_ALARM } from '../demo-modules.js';
import { PumpHardware } from '../pump.js';
import { HOUR_MS } from '../sim-time.js';
import { RuleBench } from '../test-support.js';
import { buildPumpModel, steadyWindow } from './generate.js';
import { healthyRuns, PUMP_INPUTS, pumpRows, SAMPLE_MS } from './pump-data.js';
import { loadPumpModel, pumpBearingModel, pumpModelPaths } from './pump-model.js';

const model = loadPumpModel();
const score = (rows: Float32Array[]) => {
  const w = anomalyWeights(model.card);
  const x = new Float32Array(rows.length * w.features);
  for (const [i, r] of rows.entries()) x.set(r, i * w.features);
  return [...anomalyScore(w, x, rows.length)];
};

test('the committed model is exactly what the generator writes (run `npm run models` after a change)', () => {
  const built = buildPumpModel();
  const paths = pumpModelPaths();
  assert.ok(Buffer.from(built.onnx).equals(readFileSync(paths.onnx)), 'ONNX bytes differ');
  assert.ok(Buffer.from(built.cardBytes).equals(readFileSync(paths.card)), 'card differs');
  assert.equal(model.card.onnxSha256, model.onnx.sha256);
});

test('onnxruntime and the reference runner agree on 600 simulated windows, healthy and worn', async () => {
  const onnx = new OnnxRunner();
  const reference = new ReferenceRunner();
  await onnx.load(model.onnx);
  await reference.load(model.cardBytes);
  const rows = [0, 0.3, 0.6, 0.9].flatMap((wear, i) => pumpRows({ seed: 900 + i, wear, hours: 1.25 }));
  assert.equal(rows.length, 600);
  for (const row of rows) {
    const input = { features: { data: row, dims: [1, row.length] } };
    const a = (await onnx.run(input)).score!.data[0]!;
    const b = (await reference.run(input)).score!.data[0]!;
    assert.ok(Math.abs(a - b) <= 1e-5 + 1e-5 * Math.abs(b), `onnx ${a}, reference ${b}`);
  }
  await onnx.dispose();
  await reference.dispose();
});

test('unseen healthy pumps: every steady window below the threshold, never two windows above in a row', () => {
  for (const run of healthyRuns(10, 101)) {
    const rows = pumpRows(run);
    const s = score(rows);
    for (const [i, v] of s.entries()) {
      if (steadyWindow(rows[i]!)) assert.ok(v < model.card.threshold, `seed ${run.seed} window ${i}: ${v}`);
      // A start or stop inside one window can score high on that window alone: the alarm rule
      // holds for longer than a window (see docs/benchmarks.md#inference).
      if (i > 0) assert.ok(v < model.card.threshold || s[i - 1]! < model.card.threshold, `seed ${run.seed} at ${i}`);
    }
  }
});

test('a worn bearing (wear 0.45, vibration still in ISO zone B) scores above the threshold in every window', () => {
  for (const seed of [201, 202, 203]) {
    const s = score(pumpRows({ seed, wear: 0.45, hours: 1, vary: false, speed: 0.5 + (seed - 200) * 0.15 }));
    assert.ok(Math.min(...s) > model.card.threshold, `seed ${seed}: min ${Math.min(...s)}`);
  }
});

test('run to failure: the score stays above the threshold long before the bearing seizes', () => {
  // Wear grows 0.03 per running hour at full speed, from 0.1: the bearing seizes after about 35 h.
  const pump = new PumpHardware({ seed: 77, initialWear: 0.1, wearPerRunHour: 0.03, speed: 0.85 });
  const perWindow = PUMP_INPUTS.windowMs / SAMPLE_MS;
  let above = 0;
  let alarm: { wear: number; hour: number } | null = null;
  for (let t = 0; !pump.failed; t += PUMP_INPUTS.windowMs) {
    const window = Array.from({ length: perWindow }, (_, i) => pump.sample(t + i * SAMPLE_MS));
    if (pump.failed) break;
    const row = inputRow(PUMP_INPUTS, (m) => window.map((r) => r[m]!))!;
    above = score([row])[0]! > model.card.threshold ? above + 1 : 0;
    // The demo's rule: above the threshold for three windows in a row.
    if (above === 3 && alarm === null) alarm = { wear: pump.wear, hour: t / HOUR_MS };
  }
  const failedAt = pump.runHours;
  assert.ok(alarm, 'an alarm before the failure');
  assert.ok(alarm.wear < 0.5, `alarm at wear ${alarm.wear.toFixed(2)}`);
  assert.ok(
    failedAt - alarm.hour > 0.5 * failedAt,
    `alarm at ${alarm.hour.toFixed(1)} h, failure at ${failedAt.toFixed(1)} h`,
  );
});

test("on the agent's model kind, the demo's bearing alarm fires at wear under 0.5, hours before the bearing seizes", async () => {
  assert.ok(parser(ModuleSpec).parse(pumpBearingModel(model)).ok);
  const when = PUMP_BEARING_ALARM.config.when as { above?: unknown };
  assert.equal(when.above, model.card.threshold, "the rule's threshold is the model's");
  // Wear from 0.1 at 0.3 per running hour at full speed: the bearing seizes after about 3.5 h.
  const t0 = Date.UTC(2025, 11, 1, 8);
  const pump = new PumpHardware({ seed: 5, initialWear: 0.1, wearPerRunHour: 0.3, speed: 0.85 });
  const bench = new RuleBench(pump, t0);
  const store = new MemoryModelStore();
  await store.put(model.onnx);
  const kind = new ModelKind({
    capabilities: () => ({ executionProviders: ['cpu'], memoryBytes: 1024 * 1024 * 1024 }),
    store,
    createRunner: () => new OnnxRunner(),
  });
  const running = await bench.startModule(kind, pumpBearingModel(model));
  assert.equal(running.placement?.(), 'edge');
  await bench.start([PUMP_BEARING_ALARM]);
  let alarmWear: number | null = null;
  let t = t0;
  for (; !pump.failed; t += SAMPLE_MS) {
    bench.sample(t);
    await new Promise((resolve) => setImmediate(resolve)); // the model's run completes
    if (alarmWear === null && bench.raised('BEARING_WEAR').length > 0) alarmWear = pump.wear;
  }
  await running.stop();
  const scores = bench.store.window('bearingAnomaly', 3_600_000, t);
  assert.ok(scores.length > 0, 'the model published its score');
  assert.ok(alarmWear !== null, 'the alarm came before the failure');
  assert.ok(alarmWear < 0.5, `alarm at wear ${alarmWear.toFixed(2)}`);
  const [alarm] = bench.raised('BEARING_WEAR');
  const hoursLeft = (t - alarm!.ts) / HOUR_MS;
  assert.ok(
    hoursLeft > 0.5 * ((t - t0) / HOUR_MS),
    `${hoursLeft.toFixed(1)} h of ${((t - t0) / HOUR_MS).toFixed(1)} h left`,
  );
});
