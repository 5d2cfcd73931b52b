// Fits the anomaly model family (see @homeostat/inference anomaly-model.ts) on healthy rows:
// standardise each input, find the principal axes of the standardised data (Jacobi eigenvalue
// iterations on the covariance: deterministic, no random start), keep the leading axes that
// explain `explained` of the variance, and set the alarm threshold from the healthy scores.

import { type AnomalyModelCard, anomalyScore, anomalyWeights } from '@homeostat/inference';

export interface Fit {
  mean: number[];
  scale: number[];
  encoder: number[][];
  /** Eigenvalues of the standardised covariance, largest first. */
  eigenvalues: number[];
}

/** Smallest scale, so an input that never varied in training does not divide by zero. */
const MIN_SCALE = 1e-3;

export function fitPca(rows: readonly Float32Array[], explained: number): Fit {
  const n = rows.length;
  const f = rows[0]!.length;
  const mean = Array.from({ length: f }, (_, j) => rows.reduce((s, r) => s + r[j]!, 0) / n);
  const scale = mean.map((m, j) => Math.max(MIN_SCALE, Math.sqrt(rows.reduce((s, r) => s + (r[j]! - m) ** 2, 0) / n)));
  const cov = Array.from({ length: f }, () => new Array<number>(f).fill(0));
  for (const r of rows) {
    const z = mean.map((m, j) => (r[j]! - m) / scale[j]!);
    for (let a = 0; a < f; a++) for (let b = 0; b < f; b++) cov[a]![b]! += (z[a]! * z[b]!) / n;
  }
  const { values, vectors } = jacobiEigen(cov);
  const order = values.map((_, i) => i).sort((a, b) => values[b]! - values[a]! || a - b);
  const total = values.reduce((a, b) => a + b, 0);
  let k = 0;
  for (let acc = 0; k < f && acc < explained * total; k++) acc += values[order[k]!]!;
  // Each axis with a fixed sign (largest component positive), so the bytes do not depend on
  // which sign the iterations happened to settle on.
  const axes = order.slice(0, k).map((c) => {
    const col = vectors.map((row) => row[c]!);
    const big = col.reduce((best, v, i) => (Math.abs(v) > Math.abs(col[best]!) ? i : best), 0);
    return col[big]! < 0 ? col.map((v) => -v) : col;
  });
  const encoder = Array.from({ length: f }, (_, i) => axes.map((axis) => axis[i]!));
  return { mean, scale, encoder, eigenvalues: order.map((i) => values[i]!) };
}

/** Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations. */
export function jacobiEigen(matrix: readonly (readonly number[])[]): { values: number[]; vectors: number[][] } {
  const n = matrix.length;
  const a = matrix.map((row) => [...row]);
  const v = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j): number => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p]![q]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p]![q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q]![q]! - a[p]![p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k]![p]!;
          const akq = a[k]![q]!;
          a[k]![p] = c * akp - s * akq;
          a[k]![q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p]![k]!;
          const aqk = a[q]![k]!;
          a[p]![k] = c * apk - s * aqk;
          a[q]![k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k]![p]!;
          const vkq = v[k]![q]!;
          v[k]![p] = c * vkp - s * vkq;
          v[k]![q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: a.map((row, i) => row[i]!), vectors: v };
}

/** Scores of `rows` under `card`, by the reference computation. */
export function scores(card: AnomalyModelCard, rows: readonly Float32Array[]): Float32Array {
  const w = anomalyWeights(card);
  const x = new Float32Array(rows.length * w.features);
  rows.forEach((r, i) => {
    x.set(r, i * w.features);
  });
  return anomalyScore(w, x, rows.length);
}
