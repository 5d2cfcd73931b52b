// The embedded store's telemetry write, on prepared statements, with the same rules as the
// portable Kysely path (telemetry.ts) and staged: it is the hub's hottest write.
//
// A write to blocks costs about the same for one reading of a device as for eighty (its block,
// its rollup rows and the index pages they dirty, per device), and the hub writes each batch of
// messages as soon as the previous one is committed, a few readings per device under load. So a
// write is staged: its new readings go to `reading_log` as one row, committed before the
// messages are acknowledged, and are kept in memory; once STAGE_READINGS are staged, or the
// oldest has been for STAGE_MS, the next write moves all of them to blocks and rollups in one
// transaction that also empties the log. At start, what the log holds (a hub stopped or killed
// with readings staged) is moved first. Until they are moved, staged readings count as stored:
// a redelivery of one is found here, and the store's queries add them to what they read.
// PostgreSQL keeps the portable path, which writes blocks at once.

import type BetterSqlite3 from 'better-sqlite3';
import {
  blocksOf,
  blocksToRead,
  type Packed,
  type PackedReading,
  packed,
  partition,
  rangesByDevice,
  readingsOf,
  storedIn,
} from './blocks.js';
import type { ReadingBlocksTable } from './schema.js';
import type { InsertOutcome, Reading } from './store.js';
import { rollupRows } from './telemetry.js';

/** Staged readings that make the next write move them to blocks. */
const STAGE_READINGS = 4096;
/** Age of the oldest staged reading that makes the next write move them, ms. */
const STAGE_MS = 1000;

export interface TelemetryWriterOptions {
  /** Staged readings that make the next write move them (tests lower it). */
  stageReadings?: number;
  /**
   * Told when a move that a write started failed: the write itself stands (its readings are in
   * the log), they stay staged, and the move is tried again STAGE_MS later. Without it, the
   * write throws.
   */
  onMoveError?: (err: unknown) => void;
}

export class SqliteTelemetryWriter {
  readonly #write: (readings: readonly Reading[]) => { outcome: InsertOutcome; staged: Map<string, PackedReading[]> };
  readonly #move: () => void;
  readonly #logged: () => string[];
  readonly #stageReadings: number;
  /** By device, by seq: the staged readings and their text in a block. */
  readonly #staged = new Map<string, Map<number, PackedReading>>();
  #stagedCount = 0;
  /** When the oldest staged reading was staged (performance.now()). */
  #stagedSince = 0;
  /** No move before this (performance.now()), after one failed. */
  #retryAt = 0;
  readonly #onMoveError: ((err: unknown) => void) | undefined;

  constructor(db: BetterSqlite3.Database, options: TelemetryWriterOptions = {}) {
    this.#stageReadings = options.stageReadings ?? STAGE_READINGS;
    this.#onMoveError = options.onMoveError;
    // The blocks a device's seq range may be in: from the first whose last seq reaches it.
    const overlapping = db.prepare<[string, number, number], { seq_first: number; seq_last: number }>(
      'select seq_first, seq_last from reading_blocks where device = ? and seq_last >= ? and seq_first <= ?',
    );
    const blockText = db
      .prepare<[string, number], string>('select readings from reading_blocks where device = ? and seq_last = ?')
      .pluck();
    const log = db.prepare<[string]>('insert into reading_log (readings) values (?)');
    const logged = db.prepare<[], string>('select readings from reading_log order by id').pluck();
    const emptyLog = db.prepare('delete from reading_log');
    const insertBlock = db.prepare(
      'insert into reading_blocks (device, seq_last, seq_first, ts_first, ts_last, count, readings) values (?, ?, ?, ?, ?, ?, ?)',
    );
    // The same portable upsert as the Kysely path.
    const upsert = db.prepare(
      `insert into rollups (device, metric, resolution_ms, bucket, count, sum, min, max, last, last_ts)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (device, metric, resolution_ms, bucket) do update set
         count = rollups.count + excluded.count,
         sum = rollups.sum + excluded.sum,
         min = case when excluded.min < rollups.min then excluded.min else rollups.min end,
         max = case when excluded.max > rollups.max then excluded.max else rollups.max end,
         last = case when excluded.last_ts >= rollups.last_ts then excluded.last else rollups.last end,
         last_ts = case when excluded.last_ts >= rollups.last_ts then excluded.last_ts else rollups.last_ts end`,
    );
    this.#write = db.transaction((readings: readonly Reading[]) => {
      const ranges = rangesByDevice(readings);
      const stored: Map<string, { get(seq: number): Reading | undefined }> = new Map();
      for (const range of ranges) {
        const { device, lowSeq, highSeq } = range;
        const met = overlapping.all(device, lowSeq, highSeq);
        const inBlocks =
          met.length === 0
            ? undefined
            : storedIn(
                device,
                blocksToRead(readings, range, met).map((b) => blockText.get(device, b.seq_last)!),
                lowSeq,
                highSeq,
              );
        const staged = this.#staged.get(device);
        if (inBlocks !== undefined || staged !== undefined) {
          stored.set(device, { get: (seq) => inBlocks?.get(seq) ?? staged?.get(seq)?.reading });
        }
      }
      const plan = partition(readings, ranges, stored);
      const staged = new Map<string, PackedReading[]>();
      for (const [device, fresh] of plan.freshByDevice) {
        staged.set(
          device,
          fresh.map((reading) => ({ reading, text: packed(reading) })),
        );
      }
      if (plan.fresh.length > 0) log.run(logText(staged));
      return { outcome: { inserted: plan.fresh.length, existing: plan.existing }, staged };
    });
    this.#move = db.transaction(() => {
      const blocks: ReadingBlocksTable[] = [];
      const readings: Reading[] = [];
      for (const [device, bySeq] of this.#staged) {
        const entries = [...bySeq.values()];
        for (const e of entries) readings.push(e.reading);
        blocksOf(device, entries, blocks);
      }
      for (const b of blocks) {
        insertBlock.run(b.device, b.seq_last, b.seq_first, b.ts_first, b.ts_last, b.count, b.readings);
      }
      for (const b of rollupRows(readings)) {
        upsert.run(b.device, b.metric, b.resolution_ms, b.bucket, b.count, b.sum, b.min, b.max, b.last, b.last_ts);
      }
      emptyLog.run();
    });
    this.#logged = () => logged.all();
  }

  /**
   * Writes a batch in one transaction (staged), and moves what is staged to blocks when enough is,
   * in a second one.
   */
  insertReadings(readings: readonly Reading[]): InsertOutcome {
    const { outcome, staged } = this.#write(readings);
    for (const [device, fresh] of staged) this.#stage(device, fresh);
    const now = performance.now();
    if ((this.#stagedCount >= this.#stageReadings || now - this.#stagedSince >= STAGE_MS) && now >= this.#retryAt) {
      try {
        this.move();
      } catch (err) {
        if (this.#onMoveError === undefined) throw err;
        this.#retryAt = now + STAGE_MS;
        this.#onMoveError(err);
      }
    }
    return outcome;
  }

  /** Moves what the log holds (from before a stop or a kill) to blocks: once, when the store opens. */
  recover(): void {
    for (const text of this.#logged()) {
      for (const [device, rows] of Object.entries(JSON.parse(text) as Record<string, Packed[]>)) {
        this.#stage(
          device,
          readingsOf(device, rows).map((reading) => ({ reading, text: packed(reading) })),
        );
      }
    }
    this.move();
  }

  /** Moves every staged reading to blocks and rollups, and empties the log. */
  move(): void {
    if (this.#stagedCount === 0) return;
    this.#move();
    this.#staged.clear();
    this.#stagedCount = 0;
  }

  /** The staged readings of a device. */
  staged(device: string): Reading[] {
    const bySeq = this.#staged.get(device);
    return bySeq === undefined ? [] : [...bySeq.values()].map((e) => e.reading);
  }

  #stage(device: string, readings: readonly PackedReading[]): void {
    let bySeq = this.#staged.get(device);
    if (bySeq === undefined) {
      bySeq = new Map();
      this.#staged.set(device, bySeq);
    }
    if (this.#stagedCount === 0) this.#stagedSince = performance.now();
    for (const r of readings) bySeq.set(r.reading.seq, r);
    this.#stagedCount += readings.length;
  }
}

/** A write's new readings as one log row: {"device": [[seq, ts, {values}], …], …}. */
function logText(byDevice: ReadonlyMap<string, readonly PackedReading[]>): string {
  let text = '{';
  for (const [device, readings] of byDevice) {
    text += `${text.length > 1 ? ',' : ''}${JSON.stringify(device)}:[`;
    for (let i = 0; i < readings.length; i++) text += `${i > 0 ? ',' : ''}${readings[i]!.text}`;
    text += ']';
  }
  return `${text}}`;
}
