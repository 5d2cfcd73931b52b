// The liveness tracker: keeps every device's liveness in memory (heartbeats are too frequent to
// write each one), scans for silence on the injected clock, and persists transitions in batches.

import { type Clock, type Logger, type Timer, TypedEvents } from '@homeostat/kit';
import type { HubMetrics } from '../metrics.js';
import { judgeSilence, type LivenessEntry, type Observation, observe, type SilenceRule } from '../model/liveness.js';
import type { DeviceRecord, Store } from '../store/store.js';

export interface LivenessDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  metrics: HubMetrics;
  rule: SilenceRule;
  defaultHeartbeatMs: number;
}

export interface Transition {
  device: string;
  from: LivenessEntry['state'];
  to: LivenessEntry;
}

/** Last-seen times are written at most this often per device, in ms (transitions at once). */
const LAST_SEEN_PERSIST_MS = 30_000;
/** Pending writes are flushed this often, in ms. */
const FLUSH_MS = 500;

export class LivenessTracker {
  readonly events = new TypedEvents<{ transition: Transition }>();
  readonly #deps: LivenessDeps;
  readonly #entries = new Map<string, LivenessEntry>();
  readonly #persistedAt = new Map<string, number>();
  readonly #dirty = new Set<string>();
  #timers: Timer[] = [];
  #flushing: Promise<void> = Promise.resolve();

  constructor(deps: LivenessDeps) {
    this.#deps = deps;
  }

  /** Loads what the store knows; after a hub restart nobody is known to be online. */
  load(devices: readonly DeviceRecord[]): void {
    const now = this.#deps.clock.now();
    for (const d of devices) {
      const wasUp = d.liveness?.state === 'online' || d.liveness?.state === 'suspect';
      this.#entries.set(d.name, {
        state: d.liveness === null ? 'unknown' : wasUp ? 'unknown' : d.liveness.state,
        since: wasUp ? now : (d.liveness?.since ?? null),
        lastSeen: d.lastSeen,
        heartbeatMs: d.heartbeatMs ?? this.#deps.defaultHeartbeatMs,
        evidence: wasUp
          ? { kind: 'hub-restart', at: now, detail: 'the hub restarted; waiting for the device to be heard' }
          : (d.liveness?.evidence ?? { kind: 'never-seen', at: null, detail: 'never connected' }),
      });
    }
  }

  start(): void {
    const scanMs = Math.min(1000, Math.max(50, Math.floor(this.#deps.defaultHeartbeatMs / 10)));
    this.#timers = [
      this.#deps.clock.setInterval(() => this.scan(), scanMs),
      this.#deps.clock.setInterval(() => void this.flush(), FLUSH_MS),
    ];
  }

  async stop(): Promise<void> {
    for (const t of this.#timers) t.cancel();
    this.#timers = [];
    await this.flush();
  }

  get(device: string): LivenessEntry {
    return (
      this.#entries.get(device) ?? {
        state: 'unknown',
        since: null,
        lastSeen: null,
        heartbeatMs: this.#deps.defaultHeartbeatMs,
        evidence: { kind: 'never-seen', at: null, detail: 'never connected' },
      }
    );
  }

  observe(device: string, o: Observation): void {
    const before = this.get(device);
    const after = observe(before, o);
    if (after === before) {
      // Updated in place (a heartbeat of an online device): only the last-seen time moved.
      if (this.#entries.has(device)) this.#touch(device);
      return;
    }
    this.#set(device, before, after);
  }

  /** Marks silent devices suspect or offline. */
  scan(): void {
    const now = this.#deps.clock.now();
    const rule = this.#deps.rule;
    // Every entry, ten times a heartbeat interval: forEach allocates no [key, value] pair per entry.
    this.#entries.forEach((entry, device) => {
      const next = judgeSilence(entry, now, rule);
      if (next) this.#set(device, entry, next);
    });
  }

  forget(device: string): void {
    this.#entries.delete(device);
    this.#persistedAt.delete(device);
    this.#dirty.delete(device);
  }

  counts(): Record<LivenessEntry['state'], number> {
    const counts = { unknown: 0, online: 0, suspect: 0, offline: 0 };
    for (const e of this.#entries.values()) counts[e.state]++;
    return counts;
  }

  /** Writes pending transitions and stale last-seen times; one batch at a time. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      if (this.#dirty.size === 0) return;
      const batch = [...this.#dirty].flatMap((name) => {
        const e = this.#entries.get(name);
        return e
          ? [{ name, lastSeen: e.lastSeen, liveness: { state: e.state, since: e.since, evidence: e.evidence } }]
          : [];
      });
      this.#dirty.clear();
      try {
        await this.#deps.store.saveLiveness(batch);
      } catch (err) {
        this.#deps.logger.error({ err }, 'could not save liveness; will retry');
        for (const b of batch) this.#dirty.add(b.name);
      }
    });
    return this.#flushing;
  }

  #set(device: string, before: LivenessEntry, after: LivenessEntry): void {
    this.#entries.set(device, after);
    const now = this.#deps.clock.now();
    if (after.state !== before.state) {
      this.#dirty.add(device);
      this.#persistedAt.set(device, now);
      this.#deps.metrics.livenessTransitions.inc({ state: after.state });
      this.events.emit('transition', { device, from: before.state, to: after });
    } else {
      this.#touch(device);
    }
  }

  /** Marks the last-seen time for writing, at most every LAST_SEEN_PERSIST_MS per device. */
  #touch(device: string): void {
    const now = this.#deps.clock.now();
    if (now - (this.#persistedAt.get(device) ?? 0) >= LAST_SEEN_PERSIST_MS) {
      this.#dirty.add(device);
      this.#persistedAt.set(device, now);
    }
  }
}
