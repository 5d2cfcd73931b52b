// Group commit for telemetry: readings from every connection are gathered while the previous
// batch is being written, then written together in one transaction. Each message's PUBACK waits
// for the commit of its batch, so "acknowledged" still means "stored", and the batch size adapts
// to the load by itself: one message when the hub is idle, thousands when it is busy.

import type { Logger } from '@homeostat/kit';
import type { HubMetrics } from '../metrics.js';
import type { ReadingRow, Store } from '../store/store.js';

export interface IngestDeps {
  store: Store;
  metrics: HubMetrics;
  logger: Logger;
}

/** Most metric values one transaction writes; the rest wait for the next one. */
const MAX_BATCH_VALUES = 20_000;

interface Submission {
  rows: readonly ReadingRow[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class IngestBatcher {
  readonly #deps: IngestDeps;
  #queue: Submission[] = [];
  #writing: Promise<void> | null = null;
  #scheduled = false;

  constructor(deps: IngestDeps) {
    this.#deps = deps;
  }

  /**
   * Queues one message's readings; resolves once they are committed (or found stored already),
   * rejects if the write failed: the message is then not acknowledged and comes again.
   */
  submit(rows: readonly ReadingRow[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ rows, resolve, reject });
      this.#schedule();
    });
  }

  /** Resolves once everything submitted so far is written. */
  async drain(): Promise<void> {
    while (this.#writing !== null || this.#queue.length > 0) {
      if (this.#writing === null) this.#startWrite();
      await this.#writing;
    }
  }

  #schedule(): void {
    if (this.#writing !== null || this.#scheduled) return;
    this.#scheduled = true;
    // Not a timer: the batch closes at the end of this turn of the event loop, after every
    // packet already read from the sockets has been handled.
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#writing === null) this.#startWrite();
    });
  }

  #startWrite(): void {
    const batch: Submission[] = [];
    let values = 0;
    while (this.#queue.length > 0) {
      const next = this.#queue[0]!;
      if (batch.length > 0 && values + next.rows.length > MAX_BATCH_VALUES) break;
      batch.push(this.#queue.shift()!);
      values += next.rows.length;
    }
    if (batch.length === 0) return;
    this.#writing = this.#write(batch).finally(() => {
      this.#writing = null;
      if (this.#queue.length > 0) this.#startWrite();
    });
  }

  async #write(batch: Submission[]): Promise<void> {
    const { store, metrics, logger } = this.#deps;
    // Within a batch, the first message with a (device, seq) wins, as it does across batches.
    const seen = new Set<string>();
    const rows: ReadingRow[] = [];
    for (const submission of batch) {
      const keys = new Set(submission.rows.map((r) => `${r.device}\u0000${r.seq}`));
      if ([...keys].some((k) => seen.has(k))) continue;
      for (const k of keys) seen.add(k);
      rows.push(...submission.rows);
    }
    const total = batch.reduce((n, s) => n + s.rows.length, 0);
    const end = metrics.ingestSeconds.startTimer();
    try {
      const stored = await store.insertReadings(rows);
      end();
      metrics.ingestBatchValues.observe(total);
      metrics.readingsStored.inc(stored);
      if (stored < total) metrics.readingsDuplicate.inc(total - stored);
      for (const submission of batch) submission.resolve();
    } catch (err) {
      end();
      logger.error(
        { err, values: rows.length },
        'could not store a telemetry batch; its messages are not acknowledged',
      );
      for (const submission of batch) submission.reject(err);
    }
  }
}
