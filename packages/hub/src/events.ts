// The hub's event log: what happened, to which device, and why. Security and protocol
// refusals are rate-limited per (device, code) so one misbehaving device cannot flood the
// store; what is held back is counted, never silently lost.

import type { Clock, Logger } from '@homeostat/kit';
import type { HubMetrics } from './metrics.js';
import type { EventRow, Store } from './store/store.js';

export interface EventLogDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  metrics: HubMetrics;
}

export type HubEventInput = Omit<EventRow, 'ts' | 'seq' | 'source'>;

/** Events one (device, code) may record per window before the rest are only counted. */
const BURST = 20;
const WINDOW_MS = 60_000;

export class EventLog {
  readonly #deps: EventLogDeps;
  readonly #windows = new Map<string, { start: number; count: number; suppressed: number }>();
  #pending: Promise<unknown> = Promise.resolve();

  constructor(deps: EventLogDeps) {
    this.#deps = deps;
  }

  /** Records a hub event without waiting; write failures are logged. */
  record(event: HubEventInput): void {
    const now = this.#deps.clock.now();
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
    if (w.count >= BURST) {
      w.suppressed++;
      this.#deps.metrics.eventsSuppressed.inc();
      return;
    }
    w.count++;
    this.#write(event);
  }

  /** Resolves once every event recorded so far is written. */
  async drain(): Promise<void> {
    await this.#pending;
  }

  #write(event: HubEventInput): void {
    const row: EventRow = { ...event, ts: this.#deps.clock.now(), seq: null, source: 'hub' };
    this.#pending = this.#pending
      .then(() => this.#deps.store.insertEvents([row]))
      .catch((err) => this.#deps.logger.error({ err, type: event.type }, 'could not store an event'));
  }
}
