// Telemetry retention: deletes what is older than its retention, in small slices, so that a
// large backlog never holds the store (and ingest) for long.

import type { Clock, Logger, Timer } from '@homeostat/kit';
import type { HubMetrics } from '../metrics.js';
import type { Retention, Store } from '../store/store.js';

export interface RetentionDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  metrics: HubMetrics;
  retention: Retention;
}

/** How often retention runs, ms. */
const EVERY_MS = 60_000;
/** Rows of each kind deleted per slice; ingest gets the store between two slices. */
const SLICE = 2_000;
/** Slices per run at most: a run stays short; the rest waits for the next one. */
const MAX_SLICES = 50;

export class RetentionJob {
  readonly #deps: RetentionDeps;
  #timer: Timer | undefined;
  #running: Promise<void> | undefined;
  /** A tighter raw retention the hub's own loop holds while its store is short, ms. */
  #rawOverrideMs: number | null = null;

  constructor(deps: RetentionDeps) {
    this.#deps = deps;
    deps.metrics.retentionRawSeconds.set(deps.retention.rawMs / 1000);
  }

  /** The retention applied now: the configured one, with raw readings kept shorter while tightened. */
  get retention(): Retention {
    const configured = this.#deps.retention;
    const rawMs = this.#rawOverrideMs === null ? configured.rawMs : Math.min(configured.rawMs, this.#rawOverrideMs);
    return { ...configured, rawMs };
  }

  /** Keeps raw readings `rawMs` at most (null: as configured again); a tighter one prunes at once. */
  async setRawOverride(rawMs: number | null): Promise<void> {
    const before = this.retention.rawMs;
    this.#rawOverrideMs = rawMs;
    this.#deps.metrics.retentionRawSeconds.set(this.retention.rawMs / 1000);
    if (this.retention.rawMs < before) {
      await this.#running;
      await this.run();
    }
  }

  start(): void {
    this.#timer = this.#deps.clock.setInterval(() => void this.run(), EVERY_MS);
  }

  async stop(): Promise<void> {
    this.#timer?.cancel();
    await this.#running;
  }

  /** One run; resolves with how many rows it deleted. */
  run(): Promise<void> {
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #run(): Promise<void> {
    const { store, clock, logger, metrics } = this.#deps;
    const retention = this.retention;
    try {
      for (let i = 0; i < MAX_SLICES; i++) {
        const deleted = await store.pruneTelemetry(clock.now(), retention, SLICE);
        metrics.retentionDeleted.inc(deleted);
        if (deleted < SLICE) return;
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      logger.error({ err }, 'telemetry retention failed; it runs again in a minute');
    }
  }
}
