// Window features: how a model's input row is built from a window of local readings. The
// generator fits on exactly these, and the agent (or the hub, for a device that cannot run the
// model) computes them the same way from its own stream, so training and serving cannot drift.

export type Readings = Record<string, number>;

export type FeatureStat = 'mean' | 'max' | 'min' | 'std' | 'rms';

export interface FeatureSpec {
  metric: string;
  stat: FeatureStat;
}

/** `metric.stat`, the name a feature goes by in cards and logs. */
export function featureName(f: FeatureSpec): string {
  return `${f.metric}.${f.stat}`;
}

/**
 * One row of features over `window` (oldest first). A metric missing from every reading gives NaN,
 * which the caller must treat as "cannot score this window".
 */
export function windowFeatures(
  window: readonly Readings[],
  specs: readonly FeatureSpec[],
  out?: Float32Array,
): Float32Array {
  const row = out ?? new Float32Array(specs.length);
  for (let j = 0; j < specs.length; j++) {
    const { metric, stat } = specs[j]!;
    let n = 0;
    let sum = 0;
    let sumSq = 0;
    let max = Number.NEGATIVE_INFINITY;
    let min = Number.POSITIVE_INFINITY;
    for (const r of window) {
      const v = r[metric];
      if (v === undefined) continue;
      n++;
      sum += v;
      sumSq += v * v;
      if (v > max) max = v;
      if (v < min) min = v;
    }
    row[j] = n === 0 ? Number.NaN : statOf(stat, n, sum, sumSq, min, max);
  }
  return row;
}

function statOf(stat: FeatureStat, n: number, sum: number, sumSq: number, min: number, max: number): number {
  switch (stat) {
    case 'mean':
      return sum / n;
    case 'max':
      return max;
    case 'min':
      return min;
    case 'rms':
      return Math.sqrt(sumSq / n);
    case 'std': {
      // Population standard deviation; clamped because rounding can make the difference negative.
      const m = sum / n;
      return Math.sqrt(Math.max(0, sumSq / n - m * m));
    }
  }
}
