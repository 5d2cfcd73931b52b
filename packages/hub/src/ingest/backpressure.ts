// Backpressure on telemetry, switched on by the hub's own loop when the ingest backlog grows:
// a telemetry message waits here, before it joins the writer's queue, until that queue is short
// again or it has waited `maxHoldMs`. Its acknowledgement waits with it, so the device keeps the
// readings in its outbox (and sends no more than its window meanwhile): nothing acknowledged is
// ever dropped, nothing is refused. Events, alarms, the twin and heartbeats never wait here.

import type { Clock, Timer } from '@homeostat/kit';
import type { HubMetrics } from '../metrics.js';
import type { IngestBatcher } from './batcher.js';

export interface BackpressureSettings {
  /** Longest one message waits, ms: under the MQTT keepalive, so the device's link stays up. */
  maxHoldMs: number;
  /** A message goes on once fewer readings than this wait for the writer. */
  admitBelow: number;
}

/** Readings waiting for the writer below which held messages go on, unless a policy says. */
export const DEFAULT_ADMIT_BELOW = 1_000;
export const DEFAULT_MAX_HOLD_MS = 5_000;

interface Waiter {
  release: (reason: 'backlog' | 'timeout' | 'off') => void;
}

export class Backpressure {
  readonly #clock: Clock;
  readonly #batcher: IngestBatcher;
  readonly #metrics: HubMetrics;
  #settings: BackpressureSettings | null = null;
  readonly #waiters = new Set<Waiter>();
  #unsubscribe: (() => void) | undefined;

  constructor(deps: { clock: Clock; batcher: IngestBatcher; metrics: HubMetrics }) {
    this.#clock = deps.clock;
    this.#batcher = deps.batcher;
    this.#metrics = deps.metrics;
  }

  get active(): boolean {
    return this.#settings !== null;
  }

  /** Telemetry messages waiting now. */
  get held(): number {
    return this.#waiters.size;
  }

  on(settings: BackpressureSettings): void {
    this.#settings = settings;
    this.#unsubscribe ??= this.#batcher.onWritten(() => this.#releaseIfShort());
    this.#metrics.hubMode.set({ mode: 'backpressure' }, 1);
  }

  /** Every message waiting goes on at once. */
  off(): void {
    this.#settings = null;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    for (const w of [...this.#waiters]) w.release('off');
    this.#metrics.hubMode.set({ mode: 'backpressure' }, 0);
  }

  /** Resolves when a telemetry message may join the writer's queue: at once unless backpressure is on and the queue is long. */
  admit(): Promise<void> | undefined {
    const settings = this.#settings;
    if (settings === null || this.#batcher.queued < settings.admitBelow) return undefined;
    this.#metrics.ingestHeld.inc();
    const started = this.#clock.now();
    return new Promise<void>((resolve) => {
      let timer: Timer | undefined;
      const waiter: Waiter = {
        release: (reason) => {
          if (!this.#waiters.delete(waiter)) return;
          timer?.cancel();
          this.#metrics.ingestHeldReleased.inc({ reason });
          this.#metrics.ingestHeldSeconds.observe((this.#clock.now() - started) / 1000);
          this.#metrics.ingestHeldNow.set(this.#waiters.size);
          resolve();
        },
      };
      this.#waiters.add(waiter);
      this.#metrics.ingestHeldNow.set(this.#waiters.size);
      timer = this.#clock.setTimeout(() => waiter.release('timeout'), settings.maxHoldMs);
    });
  }

  #releaseIfShort(): void {
    const settings = this.#settings;
    if (settings === null) return;
    // Once the queue is short, every held message goes on: the writer takes them in batches.
    if (this.#batcher.queued >= settings.admitBelow) return;
    for (const w of [...this.#waiters]) w.release('backlog');
  }
}
