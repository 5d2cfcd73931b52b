// Group commit for telemetry: readings from every connection are gathered while the previous
// batch is being written, then written together in one transaction. Each message's PUBACK waits
// for the commit of its batch, so "acknowledged" still means "stored", and the batch size adapts
// to the load by itself: one message when the hub is idle, thousands when it is busy.

import type { Clock, Logger } from '@homeostat/kit';
import type { HubMetrics } from '../metrics.js';
import type { Reading, Store } from '../store/store.js';

export interface IngestDeps {
  store: Store;
  /** Times the writes, for the hub's own loop (the age of the write in progress). */
  clock: Clock;
  metrics: HubMetrics;
  logger: Logger;
  /**
   * After each commit, the readings it stored new (not those stored already): what the hub
   * derives from readings (models placed in the hub) starts here, off the acknowledgement path.
   */
  onStored?: (readings: readonly Reading[]) => void;
}

/** Most readings one transaction writes; the rest wait for the next one. */
const MAX_BATCH_READINGS = 10_000;

/** A submitted reading whose (device, seq) was stored already, and the reading stored under it. */
export interface AlreadyStored {
  reading: Reading;
  stored: Reading;
}

interface Submission {
  readings: readonly Reading[];
  /** What the submitter makes of the outcome, run when the batch commits: its promise's value. */
  settle: ((existing: AlreadyStored[]) => unknown) | undefined;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

const NONE: AlreadyStored[] = [];

export class IngestBatcher {
  readonly #deps: IngestDeps;
  #queue: Submission[] = [];
  #writing: Promise<void> | null = null;
  #scheduled = false;
  /** Readings waiting, and in the write in progress. */
  #queuedReadings = 0;
  #writingReadings = 0;
  /** When the write in progress started, and how long the last one took, ms. */
  #writeStartedAt: number | null = null;
  #lastWriteMs = 0;
  readonly #afterWrite = new Set<() => void>();

  constructor(deps: IngestDeps) {
    this.#deps = deps;
  }

  /**
   * Queues one message's readings; resolves once they are committed, with those found stored
   * already (usually none); rejects if the write failed: the message is then not acknowledged
   * and comes again.
   */
  submit(readings: readonly Reading[]): Promise<AlreadyStored[]>;
  /** The same, resolving with what `settle` makes of the outcome (one promise per message, not two). */
  submit<T>(readings: readonly Reading[], settle: (existing: AlreadyStored[]) => T): Promise<T>;
  submit(readings: readonly Reading[], settle?: (existing: AlreadyStored[]) => unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ readings, settle, resolve, reject });
      this.#queuedReadings += readings.length;
      this.#schedule();
    });
  }

  /** Readings submitted and not yet committed: waiting, and in the write in progress. */
  get backlog(): number {
    return this.#queuedReadings + this.#writingReadings;
  }

  /** Readings waiting for a write (not those in the write in progress). */
  get queued(): number {
    return this.#queuedReadings;
  }

  /** The age of the write in progress, or the duration of the last one when none is, ms. */
  writeMs(): number {
    const started = this.#writeStartedAt;
    return started === null ? this.#lastWriteMs : Math.max(this.#lastWriteMs, this.#deps.clock.now() - started);
  }

  /** Calls `fn` after every write, committed or failed; returns the way to stop. */
  onWritten(fn: () => void): () => void {
    this.#afterWrite.add(fn);
    return () => this.#afterWrite.delete(fn);
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
    let readings = 0;
    while (this.#queue.length > 0) {
      const next = this.#queue[0]!;
      if (batch.length > 0 && readings + next.readings.length > MAX_BATCH_READINGS) break;
      batch.push(this.#queue.shift()!);
      readings += next.readings.length;
    }
    if (batch.length === 0) return;
    this.#queuedReadings -= readings;
    this.#writingReadings = readings;
    this.#writeStartedAt = this.#deps.clock.now();
    this.#writing = this.#write(batch).finally(() => {
      this.#lastWriteMs = this.#deps.clock.now() - (this.#writeStartedAt ?? this.#deps.clock.now());
      this.#writeStartedAt = null;
      this.#writingReadings = 0;
      this.#writing = null;
      if (this.#queue.length > 0) this.#startWrite();
      for (const fn of this.#afterWrite) fn();
    });
  }

  async #write(batch: Submission[]): Promise<void> {
    const { store, metrics, logger } = this.#deps;
    // One write for the whole batch; a (device, seq) twice in it is stored once, the first time,
    // as it is across batches.
    const readings = batch.length === 1 ? batch[0]!.readings : batch.flatMap((s) => s.readings);
    const end = metrics.ingestSeconds.startTimer();
    try {
      const outcome = await store.insertReadings(readings);
      end();
      const found =
        outcome.existing.length === 0 ? undefined : new Map(outcome.existing.map((e) => [e.index, e.stored]));
      let values = 0;
      let duplicateValues = 0;
      let index = 0;
      for (const submission of batch) {
        let existing = NONE;
        for (const reading of submission.readings) {
          const n = valueCount(reading);
          values += n;
          const stored = found?.get(index++);
          if (stored === undefined) continue;
          duplicateValues += n;
          if (existing === NONE) existing = [];
          existing.push({ reading, stored });
        }
        if (submission.settle === undefined) submission.resolve(existing);
        else {
          try {
            submission.resolve(submission.settle(existing));
          } catch (err) {
            submission.reject(err);
          }
        }
      }
      metrics.ingestBatchValues.observe(values);
      metrics.readingsStored.inc(values - duplicateValues);
      if (this.#deps.onStored) this.#deps.onStored(found ? readings.filter((_, i) => !found.has(i)) : readings);
    } catch (err) {
      end();
      logger.error(
        { err, readings: readings.length },
        'could not store a telemetry batch; its messages are not acknowledged',
      );
      for (const submission of batch) submission.reject(err);
    }
  }
}

function valueCount(reading: Reading): number {
  let n = 0;
  for (const _ in reading.metrics) n++;
  return n;
}
