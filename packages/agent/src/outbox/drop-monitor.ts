// Makes what the outbox dropped visible: the counters go into the twin's reported state (key
// `outbox`), at most once per REPORT_MIN_MS, and the first drop after a quiet period raises an
// OUTBOX_DROPPED alarm, which goes upstream ahead of telemetry. Also expires old entries on a timer.
//
// The counters themselves are durable in the outbox; this only watches them after each operation
// that can drop (enqueue, prune), so it costs one comparison when nothing was dropped.

import type { Clock, Logger, Timer } from '@homeostat/kit';
import type { TwinSync } from '../twin/twin-sync.js';
import type { DropReason, Outbox, OutboxDropped } from './outbox.js';

/** The twin is updated at most this often while drops go on. */
export const REPORT_MIN_MS = 10_000;
/** A drop after this long without one is a new episode: it raises the alarm again. */
export const QUIET_MS = 60 * 60 * 1000;
/** How often entries older than maxAgeMs are dropped. */
export const PRUNE_EVERY_MS = 60_000;
export const TWIN_KEY = 'outbox';

export interface DropAlarm {
  reason: DropReason;
  dropped: OutboxDropped;
}

export interface DropMonitorOptions {
  outbox: Outbox;
  twin: TwinSync;
  clock: Clock;
  logger: Logger;
  /** Whether a report sent now would reach the hub; offline, the state is only stored. */
  connected: () => boolean;
  /** Raises the OUTBOX_DROPPED event (through the outbox, at the urgent priority). */
  alarm: (alarm: DropAlarm) => void;
}

export class DropMonitor {
  readonly #o: DropMonitorOptions;
  #last: OutboxDropped;
  #lastDropAt: number | null = null;
  #lastReportAt = Number.NEGATIVE_INFINITY;
  #reportTimer: Timer | null = null;
  readonly #pruner: Timer;
  #closed = false;

  constructor(options: DropMonitorOptions) {
    this.#o = options;
    // Drops of an earlier run are not news: the twin gets them on connect (refresh()).
    this.#last = options.outbox.dropped();
    this.#pruner = options.clock.setInterval(() => this.prune(), PRUNE_EVERY_MS);
  }

  /** Drops expired entries now (also every PRUNE_EVERY_MS). */
  prune(): void {
    if (this.#closed) return;
    try {
      this.#o.outbox.pruneExpired(this.#o.clock.now());
    } catch (err) {
      this.#o.logger.error({ err: (err as Error).message }, 'outbox: pruning expired entries failed');
    }
    this.check();
  }

  /** After anything that may have dropped entries: reports and alarms when the counters moved. */
  check(): void {
    if (this.#closed) return;
    const dropped = this.#o.outbox.dropped();
    if (dropped.total === this.#last.total) return;
    const before = this.#last;
    this.#last = dropped;
    const now = this.#o.clock.now();
    const quiet = this.#lastDropAt === null || now - this.#lastDropAt >= QUIET_MS;
    // Set before alarming: the alarm's own enqueue may drop, and must not alarm again.
    this.#lastDropAt = now;
    const reason: DropReason = dropped.byReason.expired > before.byReason.expired ? 'expired' : 'full';
    this.#o.logger.warn({ reason, total: dropped.total }, 'outbox: entries dropped');
    if (quiet) this.#o.alarm({ reason, dropped });
    this.#scheduleReport(now);
  }

  /** On connect, before the full report: lets it carry the current counters. */
  refresh(): void {
    if (this.#closed || this.#o.outbox.dropped().total === 0) return;
    this.#reportTimer?.cancel();
    this.#reportTimer = null;
    this.#report(false);
  }

  close(): void {
    this.#closed = true;
    this.#pruner.cancel();
    this.#reportTimer?.cancel();
    this.#reportTimer = null;
  }

  #scheduleReport(now: number): void {
    if (this.#reportTimer !== null) return; // the pending report will carry the latest counters
    const wait = this.#lastReportAt + REPORT_MIN_MS - now;
    if (wait <= 0) {
      this.#report(this.#o.connected());
      return;
    }
    this.#reportTimer = this.#o.clock.setTimeout(() => {
      this.#reportTimer = null;
      if (!this.#closed) this.#report(this.#o.connected());
    }, wait);
  }

  #report(send: boolean): void {
    const { outbox, twin, clock, logger } = this.#o;
    this.#lastReportAt = clock.now();
    try {
      twin.setAgentReported(TWIN_KEY, { dropped: outbox.dropped(), queued: outbox.size() }, send);
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'outbox: reporting drops in the twin failed');
    }
  }
}
