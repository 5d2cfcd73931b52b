// Generates the pump's bearing-anomaly model from the simulator and writes it to
// packages/sim/models/ (`npm run models`; a test checks the committed files are what it writes). Healthy seeded pump runs give
// the training rows; fit.ts fits the model; the ONNX writer and the card carry the same float32
// weights. Development only: it loads the ONNX writer (and so the `onnx-proto` dev dependency).

import { writeFileSync } from 'node:fs';
import { ANOMALY_MODEL_FORMAT, type AnomalyModelCard, sha256Hex } from '@homeostat/inference';
import { anomalyModelOnnx } from '@homeostat/inference/onnx-writer';
import { fitPca, scores } from './fit.js';
import { healthyRuns, PUMP_INPUTS, pumpRows } from './pump-data.js';
import { PUMP_MODEL_NAME, pumpModelPaths } from './pump-model.js';

/** Training: 30 healthy pumps (wear 0 to 0.15), 4 simulated hours each, seeds 1 to 30. */
export const TRAINING = { runs: 30, firstSeed: 1, hours: 4 };
/** Principal axes kept: those explaining 99 % of the healthy variance. */
const EXPLAINED = 0.99;
/**
 * The alarm threshold, in mean squared error, is this many times the highest score of a steady
 * healthy training window (one without a start, stop or speed change in it): far enough above
 * healthy noise that an unseen healthy pump stays below it, low enough that a bearing is flagged
 * around wear 0.35, when its vibration is still in ISO 10816 zone B.
 */
const THRESHOLD_MARGIN = 4;
/** Where the threshold falls on the output: the demo's bearing alarm fires above 0.5. */
export const ALARM_SCORE = 0.5;

/** A window in which the speed did not change: its peak speed is its mean speed. */
export function steadyWindow(row: Float32Array): boolean {
  const speed = PUMP_INPUTS.metrics.indexOf('speed') * PUMP_INPUTS.features.length;
  return row[speed + 1]! - row[speed]! < 0.005;
}

export function buildPumpModel(): { card: AnomalyModelCard; onnx: Uint8Array; cardBytes: Uint8Array } {
  const rows = healthyRuns(TRAINING.runs, TRAINING.firstSeed, TRAINING.hours).flatMap(pumpRows);
  const fit = fitPca(rows, EXPLAINED);
  // The card holds the float32 values the ONNX file holds, so both compute with the same weights.
  const f32 = (xs: number[]) => xs.map(Math.fround);
  const card: AnomalyModelCard = {
    format: ANOMALY_MODEL_FORMAT,
    description:
      'Pump drive-end bearing anomaly: mean squared reconstruction error of a linear autoencoder (PCA) ' +
      'fitted on healthy simulated pumps. Above the threshold, the bearing vibrates unlike a healthy one.',
    inputs: PUMP_INPUTS,
    output: { metric: 'bearingAnomaly' },
    mean: f32(fit.mean),
    scale: f32(fit.scale),
    encoder: fit.encoder.map(f32),
    gain: 1,
    threshold: ALARM_SCORE,
  };
  const healthy = scores(card, rows).filter((_, i) => steadyWindow(rows[i]!));
  const mseThreshold = Number((THRESHOLD_MARGIN * Math.max(...healthy)).toPrecision(2));
  card.gain = Number((ALARM_SCORE / mseThreshold).toPrecision(4));
  const onnx = anomalyModelOnnx(card);
  card.onnxSha256 = sha256Hex(onnx);
  const cardBytes = new TextEncoder().encode(`${JSON.stringify(card, null, 2)}\n`);
  return { card, onnx, cardBytes };
}

function main(): number {
  const { card, onnx, cardBytes } = buildPumpModel();
  const paths = pumpModelPaths();
  writeFileSync(paths.onnx, onnx);
  writeFileSync(paths.card, cardBytes);
  process.stdout.write(
    `${PUMP_MODEL_NAME}: ${onnx.length} bytes, sha256 ${card.onnxSha256}, ` +
      `${card.encoder[0]?.length} of ${card.mean.length} axes, gain ${card.gain}, threshold ${card.threshold}\n`,
  );
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exit(main());
