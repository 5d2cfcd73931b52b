// Window features: how a model's input row is built from the recent values of local streams, in
// the order of the protocol's model config: for each metric, each feature over the window. The
// generator fits on exactly these, and the agent (or the hub, for a device that cannot run the
// model) computes them the same way from its own streams, so training and serving cannot drift.

import type { Feature } from '@homeostat/protocol';

export interface InputSpec {
  metrics: readonly string[];
  features: readonly Feature[];
}

/** `metric.feature` for each input, in order: the names cards and logs use. */
export function inputNames(spec: InputSpec): string[] {
  return spec.metrics.flatMap((m) => spec.features.map((f) => `${m}.${f}`));
}

/**
 * The input row for `spec`, given each metric's values over the window (oldest first). Returns
 * null when a metric has no value in the window: such a window cannot be scored.
 */
export function inputRow(
  spec: InputSpec,
  valuesOf: (metric: string) => readonly number[],
  out: Float32Array = new Float32Array(spec.metrics.length * spec.features.length),
): Float32Array | null {
  let j = 0;
  for (const metric of spec.metrics) {
    const values = valuesOf(metric);
    if (values.length === 0) return null;
    for (const feature of spec.features) out[j++] = featureOf(feature, values);
  }
  return out;
}

export function featureOf(feature: Feature, values: readonly number[]): number {
  const n = values.length;
  switch (feature) {
    case 'last':
      return values[n - 1]!;
    case 'min':
      return Math.min(...values);
    case 'max':
      return Math.max(...values);
    case 'mean':
      return sum(values) / n;
    case 'rms':
      return Math.sqrt(sumSq(values) / n);
    case 'std': {
      // Population standard deviation; clamped because rounding can make the difference negative.
      const m = sum(values) / n;
      return Math.sqrt(Math.max(0, sumSq(values) / n - m * m));
    }
  }
}

function sum(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

function sumSq(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v * v;
  return s;
}
