// The device's recent readings, per metric: what rules, models and functions read through their
// context. Each metric keeps a time-bounded ring of (ts, value), as long as the longest window a
// running module asks for (capped), and at most a fixed number of points, so a module that emits
// fast or under many names cannot grow the agent's memory without bound. The latest value of each
// metric is kept apart from the ring: a rule reads it however old it is, and judges staleness itself.

import type { ModuleSpec, WindowStat } from '@homeostat/protocol';
import { statistic } from '../edge/aggregate.js';
import type { LocalStreams, Sample } from './module.js';

export interface StreamStoreOptions {
  /** Shortest retention, ms: what a window nobody declared can still read. Default 60000. */
  minRetainMs?: number;
  /** Longest retention, ms, whatever modules ask for. Default 86400000 (a day, the longest window a spec may name). */
  maxRetainMs?: number;
  /** Points kept per metric, whatever the retention. Default 20000 (a reading every 5 s for a day). */
  maxPointsPerMetric?: number;
  /** Distinct metrics kept; readings of further metrics are dropped. Default 1024. */
  maxMetrics?: number;
}

interface Point {
  value: number;
  ts: number;
}

/** Points of one metric in time order; `start` is the first live index (compacted now and then). */
class Ring {
  ts: number[] = [];
  values: number[] = [];
  start = 0;

  get size(): number {
    return this.ts.length - this.start;
  }

  push(ts: number, value: number): void {
    const last = this.ts[this.ts.length - 1];
    if (last === undefined || ts >= last) {
      this.ts.push(ts);
      this.values.push(value);
      return;
    }
    // A late reading (a module's emit with an older ts): kept in order, rare.
    const i = this.#firstAfter(ts);
    this.ts.splice(i, 0, ts);
    this.values.splice(i, 0, value);
  }

  /** Drops points at or before `cutoff`, and the oldest beyond `maxPoints`. */
  trim(cutoff: number, maxPoints: number): void {
    let start = Math.max(this.start, this.ts.length - maxPoints);
    while (start < this.ts.length && (this.ts[start] ?? 0) <= cutoff) start++;
    this.start = start;
    if (this.start > 1024 && this.start * 2 > this.ts.length) {
      this.ts = this.ts.slice(this.start);
      this.values = this.values.slice(this.start);
      this.start = 0;
    }
  }

  /** Values with from < ts ≤ to. */
  between(from: number, to: number): Point[] {
    const out: Point[] = [];
    for (let i = this.#firstAfter(from); i < this.ts.length; i++) {
      const ts = this.ts[i]!;
      if (ts > to) break;
      out.push({ ts, value: this.values[i]! });
    }
    return out;
  }

  /** The first live index whose ts is above `ts`. */
  #firstAfter(ts: number): number {
    let lo = this.start;
    let hi = this.ts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ts[mid] ?? 0) <= ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export class StreamStore implements LocalStreams {
  readonly #minRetainMs: number;
  readonly #maxRetainMs: number;
  readonly #maxPoints: number;
  readonly #maxMetrics: number;
  readonly #rings = new Map<string, Ring>();
  readonly #latest = new Map<string, Point>();
  #retainMs: number;
  /** Newest ts seen: retention counts back from it, not from a clock, so the store stays pure. */
  #newest = Number.NEGATIVE_INFINITY;
  /** Readings refused because maxMetrics names were taken already. */
  dropped = 0;

  constructor(options: StreamStoreOptions = {}) {
    this.#minRetainMs = options.minRetainMs ?? 60_000;
    this.#maxRetainMs = options.maxRetainMs ?? 86_400_000;
    this.#maxPoints = options.maxPointsPerMetric ?? 20_000;
    this.#maxMetrics = options.maxMetrics ?? 1024;
    this.#retainMs = this.#minRetainMs;
  }

  get retainMs(): number {
    return this.#retainMs;
  }

  /** Sets how far back the rings reach (clamped to the bounds); shrinking trims at once. */
  setRetention(ms: number): void {
    const next = Math.min(this.#maxRetainMs, Math.max(this.#minRetainMs, ms));
    const shrinks = next < this.#retainMs;
    this.#retainMs = next;
    if (shrinks) for (const ring of this.#rings.values()) ring.trim(this.#newest - next, this.#maxPoints);
  }

  record(sample: Sample): void {
    this.#newest = Math.max(this.#newest, sample.ts);
    const cutoff = this.#newest - this.#retainMs;
    for (const [metric, value] of Object.entries(sample.metrics)) {
      if (!Number.isFinite(value)) continue;
      let ring = this.#rings.get(metric);
      if (ring === undefined) {
        if (this.#rings.size >= this.#maxMetrics) {
          this.dropped++;
          continue;
        }
        ring = new Ring();
        this.#rings.set(metric, ring);
      }
      ring.push(sample.ts, value);
      ring.trim(cutoff, this.#maxPoints);
      const latest = this.#latest.get(metric);
      if (latest === undefined || sample.ts >= latest.ts) this.#latest.set(metric, { value, ts: sample.ts });
    }
  }

  latest(metric: string): { value: number; ts: number } | undefined {
    return this.#latest.get(metric);
  }

  window(metric: string, sizeMs: number, now: number): readonly { value: number; ts: number }[] {
    return this.#rings.get(metric)?.between(now - sizeMs, now) ?? [];
  }

  stat(metric: string, sizeMs: number, stat: WindowStat, now: number): number | undefined {
    const points = this.window(metric, sizeMs, now);
    if (points.length === 0) return undefined;
    return statistic(
      stat,
      points.map((p) => p.value),
    );
  }

  /** Points held over every metric (for tests and the report of memory use). */
  get points(): number {
    let n = 0;
    for (const ring of this.#rings.values()) n += ring.size;
    return n;
  }
}

/**
 * The longest window a module reads from the local streams, ms: a rule's windowed comparisons, a
 * model's input window. Other kinds read only the latest values, or keep their own state.
 */
export function streamWindowMs(spec: ModuleSpec): number {
  switch (spec.kind) {
    case 'rule':
      return Math.max(
        conditionWindowMs(spec.config.when),
        spec.config.until ? conditionWindowMs(spec.config.until) : 0,
      );
    case 'model':
      return spec.config.inputs.windowMs;
    default:
      return 0;
  }
}

type Condition = Extract<ModuleSpec, { kind: 'rule' }>['config']['when'];

function conditionWindowMs(c: Condition): number {
  if ('all' in c) return Math.max(...c.all.map(conditionWindowMs));
  if ('any' in c) return Math.max(...c.any.map(conditionWindowMs));
  if ('not' in c) return conditionWindowMs(c.not);
  return c.window?.sizeMs ?? 0;
}
