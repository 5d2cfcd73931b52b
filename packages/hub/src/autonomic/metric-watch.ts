// Monitor for `metric` triggers: fed the readings the ingest writer committed (a model placed in
// the hub stores its outputs the same way), it keeps, per policy and device, the recent values of
// the metric the policy names, takes the policy's stat over its window, and emits a signal once
// the stat has stayed past the threshold for `forMs` on the injected clock. The symptom then
// lasts until the stat is back past `clearAt` (hysteresis): while it lasts it is signalled again
// at most once per cooldown, so a symptom that outlives a decision is acted on again; the manager
// applies cooldowns, rate limits and degrees as for every trigger. Only metrics some policy
// names are looked at: a reading of any other metric costs one map lookup.

import type { Clock, Timer } from '@homeostat/kit';
import {
  METRIC_WINDOW_DEFAULT_MS,
  METRIC_WINDOW_MAX_VALUES,
  type MetricStat,
  type PolicySpec,
} from '@homeostat/protocol';
import type { Reading } from '../store/store.js';
import { DEFAULT_COOLDOWN_MS } from './plan.js';
import type { Signal } from './signals.js';

export type MetricTrigger = Extract<PolicySpec['trigger'], { kind: 'metric' }>;
export type MetricSignal = Extract<Signal, { kind: 'metric' }>;

/**
 * The values of one metric of one device over a sliding window, oldest first, in time order:
 * a running sum for the average, and monotonic queues for the minimum and maximum, so each value
 * costs O(1) amortised; for p95, the values kept sorted too (a binary search and a move of at
 * most METRIC_WINDOW_MAX_VALUES numbers per value), only when asked for.
 */
export class RollingWindow {
  #ts: number[] = [];
  #values: number[] = [];
  #head = 0;
  #sum = 0;
  /** Indexes into the arrays, values increasing (for the minimum) and decreasing (for the maximum). */
  #mins: number[] = [];
  #maxs: number[] = [];
  /** The values held, in increasing order: kept only for p95. */
  readonly #sorted: number[] | null;

  constructor(
    readonly windowMs: number,
    readonly maxValues = METRIC_WINDOW_MAX_VALUES,
    options: { sorted?: boolean } = {},
  ) {
    this.#sorted = options.sorted ? [] : null;
  }

  get size(): number {
    return this.#values.length - this.#head;
  }

  /** The newest value's time, or null when empty. */
  get newest(): number | null {
    return this.size === 0 ? null : (this.#ts[this.#ts.length - 1] as number);
  }

  /**
   * Adds a value. One older than the newest held is ignored: the window follows the metric
   * forward (a device's readings arrive in order, its outbox replays them in order).
   */
  push(ts: number, value: number): boolean {
    const newest = this.newest;
    if (newest !== null && ts < newest) return false;
    const i = this.#values.length;
    this.#ts.push(ts);
    this.#values.push(value);
    this.#sum += value;
    while (this.#mins.length > 0 && (this.#values[this.#mins[this.#mins.length - 1] as number] as number) >= value)
      this.#mins.pop();
    this.#mins.push(i);
    while (this.#maxs.length > 0 && (this.#values[this.#maxs[this.#maxs.length - 1] as number] as number) <= value)
      this.#maxs.pop();
    this.#maxs.push(i);
    this.#sorted?.splice(lowerBound(this.#sorted, value), 0, value);
    while (this.size > this.maxValues) this.#dropOldest();
    return true;
  }

  /** Drops the values older than the window before `now`. */
  expire(now: number): void {
    while (this.size > 0 && (this.#ts[this.#head] as number) <= now - this.windowMs) this.#dropOldest();
  }

  /** The stat over the values held, or null when there are none. */
  stat(stat: MetricStat): number | null {
    if (this.size === 0) return null;
    switch (stat) {
      case 'last':
        return this.#values[this.#values.length - 1] as number;
      case 'avg':
        return this.#sum / this.size;
      case 'min':
        return this.#values[this.#mins[0] as number] as number;
      case 'max':
        return this.#values[this.#maxs[0] as number] as number;
      case 'p95': {
        // Nearest rank: the smallest value at or over 95 % of the values.
        const sorted = this.#sorted ?? this.#values.slice(this.#head).sort((a, b) => a - b);
        return sorted[Math.ceil(0.95 * sorted.length) - 1] as number;
      }
    }
  }

  #dropOldest(): void {
    const i = this.#head;
    const value = this.#values[i] as number;
    this.#sum -= value;
    this.#sorted?.splice(lowerBound(this.#sorted, value), 1);
    if (this.#mins[0] === i) this.#mins.shift();
    if (this.#maxs[0] === i) this.#maxs.shift();
    this.#head++;
    // Compact now and then, so the arrays stay about the window's size.
    if (this.#head >= 1024 && this.#head * 2 >= this.#values.length) {
      this.#ts = this.#ts.slice(this.#head);
      this.#values = this.#values.slice(this.#head);
      this.#mins = this.#mins.map((m) => m - this.#head);
      this.#maxs = this.#maxs.map((m) => m - this.#head);
      this.#head = 0;
    }
  }
}

/** The first index of a sorted array whose value is at or over `value`. */
function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Whether the value is past the trigger's threshold, and whether it is back past its clear level. */
export function isPast(t: { above?: number; below?: number }, value: number): boolean {
  return t.above !== undefined ? value > t.above : t.below !== undefined && value < t.below;
}

export function isCleared(t: { above?: number; below?: number; clearAt?: number }, value: number): boolean {
  if (t.above !== undefined) return value <= (t.clearAt ?? t.above);
  return t.below !== undefined && value >= (t.clearAt ?? t.below);
}

interface Watch {
  policy: string;
  trigger: MetricTrigger;
  key: string;
  /** Named devices of the scope, or null: the manager checks selectors (they need the labels). */
  devices: ReadonlySet<string> | null;
  cooldownMs: number;
}

interface Track {
  window: RollingWindow;
  /** Since when the stat is past the threshold (null: it is not), and whether the symptom is on. */
  since: number | null;
  firing: boolean;
  lastEmit: number;
  timer: Timer | undefined;
}

export class MetricWatch {
  readonly #clock: Clock;
  readonly #emit: (s: MetricSignal) => void;
  readonly #byMetric = new Map<string, Watch[]>();
  /** Per policy, then per device. */
  readonly #tracks = new Map<string, Map<string, Track>>();

  constructor(deps: { clock: Clock; emit: (s: MetricSignal) => void }) {
    this.#clock = deps.clock;
    this.#emit = deps.emit;
  }

  /** Follows these policies' metric triggers; a policy whose trigger changed starts afresh. */
  index(policies: readonly { name: string; spec: PolicySpec }[]): void {
    const old = new Map([...this.#byMetric.values()].flat().map((w) => [w.policy, w.key]));
    this.#byMetric.clear();
    const kept = new Set<string>();
    for (const { name, spec } of policies) {
      const trigger = spec.trigger;
      if (trigger.kind !== 'metric' || spec.scope === 'hub') continue;
      const key = JSON.stringify(trigger);
      const devices = spec.scope !== 'fleet' && 'devices' in spec.scope ? new Set(spec.scope.devices) : null;
      const w = { policy: name, trigger, key, devices, cooldownMs: spec.cooldownMs ?? DEFAULT_COOLDOWN_MS };
      this.#byMetric.set(trigger.metric, [...(this.#byMetric.get(trigger.metric) ?? []), w]);
      if (old.get(name) === key) kept.add(name);
    }
    for (const [policy, tracks] of this.#tracks) {
      if (kept.has(policy)) continue;
      for (const t of tracks.values()) t.timer?.cancel();
      this.#tracks.delete(policy);
    }
  }

  /** Readings just committed. */
  onStored(readings: readonly Reading[]): void {
    if (this.#byMetric.size === 0) return;
    for (const r of readings) {
      for (const metric in r.metrics) {
        const watches = this.#byMetric.get(metric);
        if (watches === undefined) continue;
        const value = r.metrics[metric] as number;
        for (const w of watches) {
          if (w.devices !== null && !w.devices.has(r.device)) continue;
          const track = this.#track(w, r.device);
          if (track.window.push(r.ts, value)) this.#evaluate(w, r.device, track);
        }
      }
    }
  }

  stop(): void {
    for (const tracks of this.#tracks.values()) for (const t of tracks.values()) t.timer?.cancel();
    this.#tracks.clear();
  }

  /** Devices followed for the policy (tests, and a bound on memory: one window each). */
  followed(policy: string): number {
    return this.#tracks.get(policy)?.size ?? 0;
  }

  #track(w: Watch, device: string): Track {
    let tracks = this.#tracks.get(w.policy);
    if (tracks === undefined) {
      tracks = new Map();
      this.#tracks.set(w.policy, tracks);
    }
    let t = tracks.get(device);
    if (t === undefined) {
      const windowMs = w.trigger.windowMs ?? METRIC_WINDOW_DEFAULT_MS;
      const window = new RollingWindow(windowMs, METRIC_WINDOW_MAX_VALUES, { sorted: w.trigger.stat === 'p95' });
      t = { window, since: null, firing: false, lastEmit: 0, timer: undefined };
      tracks.set(device, t);
    }
    return t;
  }

  #evaluate(w: Watch, device: string, t: Track): void {
    const now = this.#clock.now();
    const trigger = w.trigger;
    t.window.expire(now);
    const value = t.window.stat(trigger.stat ?? 'last');
    if (t.firing) {
      if (value === null || isCleared(trigger, value)) {
        t.firing = false;
        t.since = null;
      } else if (now - t.lastEmit >= w.cooldownMs) {
        this.#fire(w, device, t, value, now);
      }
      return;
    }
    if (value === null || !isPast(trigger, value)) {
      t.since = null;
      t.timer?.cancel();
      t.timer = undefined;
      return;
    }
    t.since ??= now;
    const wait = (trigger.forMs ?? 0) - (now - t.since);
    if (wait <= 0) {
      t.timer?.cancel();
      t.timer = undefined;
      t.firing = true;
      this.#fire(w, device, t, value, now);
    } else {
      // Held on the clock: with no new reading, the window as it stands then decides.
      t.timer ??= this.#clock.setTimeout(() => {
        t.timer = undefined;
        if (this.#tracks.get(w.policy)?.get(device) === t) this.#evaluate(w, device, t);
      }, wait);
    }
  }

  #fire(w: Watch, device: string, t: Track, value: number, now: number): void {
    t.lastEmit = now;
    const { trigger } = w;
    this.#emit({
      kind: 'metric',
      device,
      policy: w.policy,
      metric: trigger.metric,
      stat: trigger.stat ?? 'last',
      windowMs: t.window.windowMs,
      value,
      threshold: (trigger.above ?? trigger.below) as number,
      past: trigger.above !== undefined ? 'above' : 'below',
      heldMs: now - (t.since ?? now),
      samples: t.window.size,
      at: now,
    });
  }
}
