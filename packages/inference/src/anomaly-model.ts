// The anomaly model family: standardised window features, a linear autoencoder (PCA), and the
// mean squared reconstruction error, times a gain, as the anomaly score. The generator in @homeostat/sim fits it
// and writes it both as ONNX and as this JSON card; `anomalyScore` below is the reference
// computation the ONNX graph must agree with, op for op in float32:
//
//   z = (x − mean) / scale;  h = z · E;  r = h · Eᵀ;  score = gain · mean((z − r)²)
//
// with x: [N, F], E: [F, K] (the K leading principal axes of healthy data), score: [N, 1]. The
// gain puts the alarm threshold where the rules expect it (0.5 for the demo's bearing alarm).

import type { Feature } from '@homeostat/protocol';
import { HomeostatError } from '@homeostat/protocol';
import { inputNames } from './features.js';

export const ANOMALY_MODEL_FORMAT = 'homeostat.anomaly-pca/1';
/** Names of the graph's input and output, shared by the ONNX file and the reference. */
export const INPUT_NAME = 'features';
export const OUTPUT_NAME = 'score';

export interface AnomalyModelCard {
  format: typeof ANOMALY_MODEL_FORMAT;
  /** What it is for, for people. */
  description: string;
  /** How the input row is built: for each metric, each feature over the last windowMs. */
  inputs: { metrics: string[]; features: Feature[]; windowMs: number };
  /** The derived stream the score is published as. */
  output: { metric: string };
  /** Per-feature standardisation: z = (x − mean) / scale. */
  mean: number[];
  scale: number[];
  /** Encoder E, F rows of K values (row-major); the decoder is its transpose. */
  encoder: number[][];
  /** Multiplies the mean squared error, so that the threshold falls on a round number. */
  gain: number;
  /** Scores above this raise the alarm. */
  threshold: number;
  /** SHA-256 of the ONNX file written with this card. */
  onnxSha256?: string;
}

/** Parses a card (a model's JSON) at the boundary: every problem as `path: message`. */
export function parseAnomalyCard(value: unknown): AnomalyModelCard {
  const problems: string[] = [];
  const v = value as Partial<AnomalyModelCard> | null;
  if (typeof v !== 'object' || v === null) throw new HomeostatError('ERR_MODEL_INVALID', 'card: not an object');
  if (v.format !== ANOMALY_MODEL_FORMAT) problems.push(`format: expected ${ANOMALY_MODEL_FORMAT}`);
  const inputs = v.inputs;
  const f = inputs && Array.isArray(inputs.metrics) && Array.isArray(inputs.features) ? inputNames(inputs).length : 0;
  if (f === 0) problems.push('inputs: expected non-empty metrics and features');
  if (!inputs || !Number.isInteger(inputs.windowMs) || inputs.windowMs < 1)
    problems.push('inputs.windowMs: expected a positive integer');
  if (typeof v.output?.metric !== 'string') problems.push('output.metric: expected a metric name');
  const finite = (xs: unknown, n: number) =>
    Array.isArray(xs) && xs.length === n && xs.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (!finite(v.mean, f)) problems.push(`mean: expected ${f} finite numbers`);
  if (!finite(v.scale, f) || v.scale?.some((s) => s <= 0)) problems.push(`scale: expected ${f} positive numbers`);
  const k = Array.isArray(v.encoder) && Array.isArray(v.encoder[0]) ? v.encoder[0].length : 0;
  if (!Array.isArray(v.encoder) || v.encoder.length !== f || k === 0 || !v.encoder.every((row) => finite(row, k))) {
    problems.push(`encoder: expected ${f} rows of the same number of finite values`);
  }
  if (typeof v.threshold !== 'number' || !(v.threshold > 0)) problems.push('threshold: expected a positive number');
  if (typeof v.gain !== 'number' || !(v.gain > 0) || !Number.isFinite(v.gain))
    problems.push('gain: expected a positive number');
  if (problems.length > 0) throw new HomeostatError('ERR_MODEL_INVALID', 'invalid model card', problems);
  return v as AnomalyModelCard;
}

/** The card's weights as float32, laid out for `anomalyScore`. */
export interface AnomalyWeights {
  features: number;
  components: number;
  mean: Float32Array;
  scale: Float32Array;
  /** E row-major, [F, K]. */
  encoder: Float32Array;
  gain: number;
}

export function anomalyWeights(card: AnomalyModelCard): AnomalyWeights {
  const features = card.mean.length;
  const components = card.encoder[0]?.length ?? 0;
  return {
    features,
    components,
    mean: Float32Array.from(card.mean),
    scale: Float32Array.from(card.scale),
    encoder: Float32Array.from(card.encoder.flat()),
    gain: Math.fround(card.gain),
  };
}

const f32 = Math.fround;

/**
 * The reference computation: the score of each of the `rows` rows of `x`, every operation rounded
 * to float32 as onnxruntime's CPU kernels do (their sums may run in another order, so agreement is
 * to float32 tolerance, not bit for bit).
 */
export function anomalyScore(w: AnomalyWeights, x: Float32Array, rows: number): Float32Array {
  const { features: F, components: K } = w;
  const out = new Float32Array(rows);
  const z = new Float32Array(F);
  const h = new Float32Array(K);
  for (let n = 0; n < rows; n++) {
    for (let i = 0; i < F; i++) z[i] = f32(f32(x[n * F + i]! - w.mean[i]!) / w.scale[i]!);
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let i = 0; i < F; i++) s = f32(s + f32(z[i]! * w.encoder[i * K + k]!));
      h[k] = s;
    }
    let sum = 0;
    for (let i = 0; i < F; i++) {
      let r = 0;
      for (let k = 0; k < K; k++) r = f32(r + f32(h[k]! * w.encoder[i * K + k]!));
      const e = f32(z[i]! - r);
      sum = f32(sum + f32(e * e));
    }
    out[n] = f32(f32(sum / F) * w.gain);
  }
  return out;
}
