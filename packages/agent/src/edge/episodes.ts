// Abnormal episodes of the `rawWhen` conditions of the telemetry settings. A condition starts an
// episode when its metric crosses the bound and ends it only once the metric is back inside by the
// condition's hysteresis: a noisy value at the bound is one episode, so it raises one alarm and
// not one per reading. Pure: the aggregate stage feeds it every reading.

import type { RawWhen } from '@homeostat/protocol';
import type { Metrics } from '../device/hardware.js';

/** An alarm to raise as an `events` message: the start of an episode whose condition has `alarm`. */
type Severity = NonNullable<NonNullable<RawWhen['alarm']>['severity']>;

export interface EpisodeAlarm {
  type: 'alarm';
  code: string;
  severity: Severity;
  message: string;
  data: { metric: string; value: number; above?: number; below?: number };
}

export class Episodes {
  readonly #conditions: readonly RawWhen[];
  /** Whether each condition is in an episode, by index. */
  readonly #open: boolean[];
  /** When the current abnormal stretch (any episode open) began, ms; null while normal. */
  #abnormalSince: number | null = null;

  constructor(conditions: readonly RawWhen[]) {
    this.#conditions = conditions;
    this.#open = conditions.map(() => false);
  }

  /** True while any condition is in an episode (as of the last update). */
  get abnormal(): boolean {
    return this.#open.some(Boolean);
  }

  /** When the current abnormal stretch began (a new episode starting within it does not restart it). */
  get abnormalSince(): number | null {
    return this.#abnormalSince;
  }

  /** Takes one reading taken at `ts`; returns the alarms of the episodes it started. */
  update(ts: number, metrics: Metrics): EpisodeAlarm[] {
    const alarms: EpisodeAlarm[] = [];
    this.#conditions.forEach((c, i) => {
      const value = metrics[c.metric];
      // A reading without the metric says nothing about it: the episode stays as it was.
      if (value === undefined) return;
      const margin = this.#open[i] ? (c.hysteresis ?? 0) : 0;
      const high = c.above !== undefined && value > c.above - margin;
      const low = c.below !== undefined && value < c.below + margin;
      const started = (high || low) && !this.#open[i];
      this.#open[i] = high || low;
      if (started && c.alarm) alarms.push(alarmOf(c, value, high));
    });
    if (!this.abnormal) this.#abnormalSince = null;
    else this.#abnormalSince ??= ts;
    return alarms;
  }
}

function alarmOf(c: RawWhen, value: number, high: boolean): EpisodeAlarm {
  const bound = high ? c.above : c.below;
  return {
    type: 'alarm',
    code: c.alarm!.code,
    severity: c.alarm!.severity ?? 'warning',
    message: `${c.metric} ${value} ${high ? 'above' : 'below'} ${bound}`,
    data: { metric: c.metric, value, ...(high ? { above: c.above! } : { below: c.below! }) },
  };
}
