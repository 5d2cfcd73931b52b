// The aggregate stage: windowed statistics of local readings, so the device sends a summary per
// window instead of every reading, and raw readings only while something is abnormal (an episode
// of a `rawWhen` condition, which may also raise an alarm). Pure: time comes with each call, so
// tests and the simulator drive it directly.

import type { AggregateStat, TelemetrySettings } from '@homeostat/protocol';
import type { Metrics } from '../device/hardware.js';
import { type EpisodeAlarm, Episodes } from './episodes.js';

export interface Summary {
  /** End of the window, ms. */
  ts: number;
  /** `{metric}.{stat}`: e.g. `temperature.avg`, `vibration.p95`. */
  metrics: Metrics;
}

export interface AddResult {
  /** The reading itself, when it must go upstream as it is (aggregation off, or abnormal). */
  raw: Metrics | null;
  /** Windows that closed with this reading. */
  summaries: Summary[];
  /** Alarms of the episodes this reading started (raised in raw mode too). */
  alarms: EpisodeAlarm[];
}

const DEFAULT_STATS: readonly AggregateStat[] = ['min', 'max', 'avg', 'count'];

interface Sample {
  ts: number;
  metrics: Metrics;
}

export class Aggregator {
  readonly #settings: TelemetrySettings;
  readonly #stats: readonly AggregateStat[];
  readonly #size: number;
  readonly #hop: number;
  readonly #episodes: Episodes;
  /** Samples of the current window (tumbling) or of the last `size` ms (sliding). */
  #samples: Sample[] = [];
  /** End of the next window to emit, ms; set by the first sample. */
  #nextEnd: number | null = null;

  constructor(settings: TelemetrySettings) {
    this.#settings = settings;
    this.#stats = settings.stats ?? DEFAULT_STATS;
    this.#size = settings.window?.sizeMs ?? 60_000;
    this.#hop = settings.window?.kind === 'sliding' ? (settings.window.hopMs ?? this.#size) : this.#size;
    this.#episodes = new Episodes(settings.rawWhen ?? []);
  }

  get aggregating(): boolean {
    return this.#settings.mode === 'aggregate';
  }

  /** Takes one reading; returns what to send now. */
  add(ts: number, metrics: Metrics): AddResult {
    const alarms = this.#episodes.update(ts, metrics);
    if (!this.aggregating) return { raw: this.#round(metrics), summaries: [], alarms };
    const summaries = this.flush(ts);
    this.#samples.push({ ts, metrics });
    this.#nextEnd ??= Math.floor(ts / this.#hop) * this.#hop + this.#hop;
    const since = this.#episodes.abnormalSince;
    const rawFor = this.#settings.rawForMs ?? Number.POSITIVE_INFINITY;
    const raw = since !== null && ts - since < rawFor ? this.#round(metrics) : null;
    return { raw, summaries, alarms };
  }

  /** Closes every window that ended at or before `now`. */
  flush(now: number): Summary[] {
    const out: Summary[] = [];
    while (this.#nextEnd !== null && this.#nextEnd <= now) {
      const end = this.#nextEnd;
      const start = end - this.#size;
      const inWindow = this.#samples.filter((s) => s.ts >= start && s.ts < end);
      if (inWindow.length > 0) out.push({ ts: end, metrics: this.#round(this.#summarise(inWindow)) });
      // Keep only what a later window can still cover; with nothing left, the next sample
      // starts the next window.
      const keepFrom = end + this.#hop - this.#size;
      this.#samples = this.#samples.filter((s) => s.ts >= keepFrom);
      this.#nextEnd = this.#samples.length > 0 ? end + this.#hop : null;
    }
    return out;
  }

  /** Rounds to the settings' decimals (a new object; the local streams keep full precision). */
  #round(metrics: Metrics): Metrics {
    const decimals = this.#settings.decimals;
    if (decimals === undefined) return metrics;
    const scale = 10 ** decimals;
    const out: Metrics = {};
    for (const [k, v] of Object.entries(metrics)) out[k] = Math.round(v * scale) / scale;
    return out;
  }

  #summarise(samples: readonly Sample[]): Metrics {
    const names = this.#settings.metrics ?? [...new Set(samples.flatMap((s) => Object.keys(s.metrics)))];
    const out: Metrics = {};
    for (const name of names) {
      const values = samples.map((s) => s.metrics[name]).filter((v): v is number => v !== undefined);
      if (values.length === 0) continue;
      for (const stat of this.#stats) out[`${name}.${stat}`] = statistic(stat, values);
    }
    return out;
  }
}

function statistic(stat: AggregateStat, values: readonly number[]): number {
  switch (stat) {
    case 'min':
      return Math.min(...values);
    case 'max':
      return Math.max(...values);
    case 'avg':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'count':
      return values.length;
    case 'last':
      return values[values.length - 1] ?? Number.NaN;
    case 'p95': {
      // Nearest rank: the smallest value with at least 95 % of the values at or below it.
      const sorted = [...values].sort((a, b) => a - b);
      return sorted[Math.max(0, Math.ceil(0.95 * sorted.length) - 1)] ?? Number.NaN;
    }
    default:
      return Number.NaN;
  }
}
