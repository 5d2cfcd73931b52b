// The hub's event log: what happened, to which device, and why. Events are rate-limited per
// (device, code or type), security and protocol refusals most tightly, so one misbehaving device
// cannot flood the store; what is held back is counted and summarised, never silently lost.

import { type Clock, type Logger, TypedEvents } from '@homeostat/kit';
import type { HubMetrics } from './metrics.js';
import type { EventRow, Store } from './store/store.js';

export interface EventLogDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  metrics: HubMetrics;
}

export type HubEventInput = Omit<EventRow, 'ts' | 'seq' | 'source'>;

/**
 * What the autonomic monitor listens to: every hub event as it is recorded, before the rate
 * limit (a flood is counted whole), every device event once stored, and reported-state patches.
 */
export interface EventSignals extends Record<string, unknown> {
  event: EventRow;
  reported: { device: string; state: Record<string, unknown>; at: number };
}

/**
 * Events one (device, code) may record per window before the rest are only counted: refusals
 * (what a misbehaving device can cause at will) are held tighter than other events.
 */
const BURST_REFUSALS = 20;
const BURST_OTHER = 120;
const WINDOW_MS = 60_000;
const REFUSAL_TYPES = new Set(['security', 'protocol']);

export class EventLog {
  readonly signals = new TypedEvents<EventSignals>();
  readonly #deps: EventLogDeps;
  readonly #windows = new Map<string, { start: number; count: number; suppressed: number }>();
  #pending: Promise<unknown> = Promise.resolve();
  #queue: EventRow[] = [];

  constructor(deps: EventLogDeps) {
    this.#deps = deps;
  }

  /** Records a hub event without waiting; write failures are logged. */
  record(event: HubEventInput): void {
    const now = this.#deps.clock.now();
    this.signals.emit('event', { ...event, ts: now, seq: null, source: 'hub' });
    const key = `${event.device ?? ''}\u0000${event.code ?? event.type}`;
    let w = this.#windows.get(key);
    if (!w || now - w.start >= WINDOW_MS) {
      const suppressed = w?.suppressed ?? 0;
      w = { start: now, count: 0, suppressed: 0 };
      this.#windows.set(key, w);
      if (suppressed > 0) {
        this.#write({
          ...event,
          message: `${suppressed} more events like this were not stored in the last minute`,
          data: { suppressed },
        });
      }
    }
    if (w.count >= (REFUSAL_TYPES.has(event.type) ? BURST_REFUSALS : BURST_OTHER)) {
      w.suppressed++;
      this.#deps.metrics.eventsSuppressed.inc();
      return;
    }
    w.count++;
    this.#write(event);
  }

  /** Resolves once every event recorded so far is written. */
  async drain(): Promise<void> {
    this.#flush();
    await this.#pending;
  }

  /** Queues the event; events recorded in one turn of the event loop are written in one batch. */
  #write(event: HubEventInput): void {
    this.#queue.push({ ...event, ts: this.#deps.clock.now(), seq: null, source: 'hub' });
    if (this.#queue.length === 1) setImmediate(() => this.#flush());
  }

  #flush(): void {
    if (this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    this.#pending = this.#pending
      .then(() => this.#deps.store.insertEvents(batch))
      .catch((err) => this.#deps.logger.error({ err, events: batch.length }, 'could not store events'));
  }
}
