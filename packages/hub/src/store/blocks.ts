// Raw readings are stored in blocks: one row per device per telemetry write, holding that
// device's new readings of the write as one JSON array, as time-series stores keep points in
// chunks. A write of 800 readings from 50 devices is 50 rows (each in the table and its time
// index), where one row per reading was 800 rows in a table and two indexes: the write costs a
// third of the CPU, and the store is smaller. This file is the layout and the plan of a write,
// pure; `telemetry.ts` (portable) and `sqlite-writer.ts` (prepared statements) carry it out.
//
// The rules a block keeps, which the queries rely on:
// - a (device, seq) is in at most one block: before a write, the blocks of each device whose seq
//   range meets the write's are read, and a reading found there is reported, not stored again;
// - a block's readings are at most MAX_BLOCK_SPAN_MS apart in time, so a query by time finds
//   every reading of [from, to] in the blocks whose last time is in [from, to + MAX_BLOCK_SPAN_MS];
// - its key is (device, seq_last): the seqs of a device's blocks are disjoint, so are their
//   largest ones, and the blocks a write's seqs may be in are those from seq_last >= the lowest.
// The writes of one device must not run concurrently: the embedded store has one writer; a store
// shared by several hubs would take a lock per device in each write (in PostgreSQL,
// pg_advisory_xact_lock on the device's name) before looking its blocks up.

import type { ReadingBlocksTable } from './schema.js';
import type { InsertOutcome, Reading } from './store.js';

/** Most time between the first and the last reading of one block, ms. */
export const MAX_BLOCK_SPAN_MS = 10 * 60_000;
/** Most readings in one block: a query decodes whole blocks. */
export const MAX_BLOCK_READINGS = 1000;

/** A reading inside a block: [seq, ts, values]. */
export type Packed = [number, number, Record<string, number>];

/** The readings of one write, by device: where they are in the input, and their seq range. */
export interface DeviceRange {
  device: string;
  indices: number[];
  lowSeq: number;
  highSeq: number;
}

export function rangesByDevice(readings: readonly Reading[]): DeviceRange[] {
  const byDevice = new Map<string, DeviceRange>();
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i]!;
    const range = byDevice.get(r.device);
    if (range === undefined) {
      byDevice.set(r.device, { device: r.device, indices: [i], lowSeq: r.seq, highSeq: r.seq });
      continue;
    }
    range.indices.push(i);
    if (r.seq < range.lowSeq) range.lowSeq = r.seq;
    if (r.seq > range.highSeq) range.highSeq = r.seq;
  }
  return [...byDevice.values()];
}

/**
 * Of the blocks whose seq range meets a device's range in a write, those that may hold one of its
 * seqs: a write with an old seq among new ones has a wide range, met by every block between them,
 * and only these are read and parsed.
 */
export function blocksToRead<B extends { seq_first: number; seq_last: number }>(
  readings: readonly Reading[],
  range: DeviceRange,
  blocks: readonly B[],
): B[] {
  if (blocks.length <= 1) return [...blocks];
  const seqs = range.indices.map((i) => readings[i]!.seq).sort((a, b) => a - b);
  return blocks.filter((b) => {
    // The first seq of the write at or after the block's first: inside the block's range?
    let lo = 0;
    let hi = seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (seqs[mid]! < Number(b.seq_first)) lo = mid + 1;
      else hi = mid;
    }
    return lo < seqs.length && seqs[lo]! <= Number(b.seq_last);
  });
}

/** The readings of stored blocks (their `readings` column) with a seq in [low, high], by seq. */
export function storedIn(device: string, blocks: readonly string[], low: number, high: number): Map<number, Reading> {
  const found = new Map<number, Reading>();
  for (const text of blocks) {
    for (const [seq, ts, metrics] of JSON.parse(text) as Packed[]) {
      if (seq >= low && seq <= high) found.set(seq, { device, seq, ts, metrics });
    }
  }
  return found;
}

/** Where the readings stored already are looked up, by device: none when absent. */
export type StoredLookup = ReadonlyMap<string, { get(seq: number): Reading | undefined }>;

/** A write split: the new readings (in input order, and by device), and those stored already. */
export interface Partition {
  fresh: readonly Reading[];
  freshByDevice: Map<string, Reading[]>;
  existing: InsertOutcome['existing'];
}

/**
 * Splits a write: a reading whose (device, seq) is in `stored`, or earlier in the write, is
 * reported with the reading stored under it; the others are new.
 */
export function partition(
  readings: readonly Reading[],
  ranges: readonly DeviceRange[],
  stored: StoredLookup,
): Partition {
  const freshByDevice = new Map<string, Reading[]>();
  const existing: InsertOutcome['existing'] = [];
  let isFresh: boolean[] | undefined;
  for (const { device, indices } of ranges) {
    const before = stored.get(device);
    let taken: Map<number, Reading> | undefined;
    const fresh: Reading[] = [];
    for (const i of indices) {
      const r = readings[i]!;
      const already = before?.get(r.seq) ?? taken?.get(r.seq);
      if (already !== undefined) {
        existing.push({ index: i, stored: already });
        isFresh ??= readings.map(() => true);
        isFresh[i] = false;
        continue;
      }
      // Only a device with several readings in the write can repeat a seq in it.
      if (indices.length > 1) {
        taken ??= new Map();
        taken.set(r.seq, r);
      }
      fresh.push(r);
    }
    if (fresh.length > 0) freshByDevice.set(device, fresh);
  }
  existing.sort((a, b) => a.index - b.index);
  const fresh = isFresh === undefined ? readings : readings.filter((_, i) => isFresh[i]);
  return { fresh, freshByDevice, existing };
}

/** What a write stores: its partition, and the blocks of its new readings. */
export interface WritePlan extends Partition {
  blocks: ReadingBlocksTable[];
}

/** Plans a write whole: the partition, then one device's new readings after another in blocks. */
export function planWrite(
  readings: readonly Reading[],
  ranges: readonly DeviceRange[],
  stored: StoredLookup,
): WritePlan {
  const plan = partition(readings, ranges, stored);
  const blocks: ReadingBlocksTable[] = [];
  for (const [device, fresh] of plan.freshByDevice) {
    blocksOf(
      device,
      fresh.map((reading) => ({ reading, text: packed(reading) })),
      blocks,
    );
  }
  return { ...plan, blocks };
}

/** A reading as a block holds it: `[seq,ts,{values}]`. */
export function packed(r: Reading): string {
  return `[${r.seq},${r.ts},${JSON.stringify(r.metrics)}]`;
}

/** A reading and its text in a block. */
export interface PackedReading {
  reading: Reading;
  text: string;
}

/**
 * Cuts one device's new readings into blocks, in time order, within the span and size limits
 * (sorting `readings` in place).
 */
export function blocksOf(device: string, readings: PackedReading[], out: ReadingBlocksTable[]): void {
  // A device's readings of one write are nearly always in time order already.
  let ordered = true;
  for (let i = 1; i < readings.length && ordered; i++) ordered = readings[i - 1]!.reading.ts <= readings[i]!.reading.ts;
  if (!ordered) readings.sort((a, b) => a.reading.ts - b.reading.ts || a.reading.seq - b.reading.seq);
  let start = 0;
  for (let i = 1; i <= readings.length; i++) {
    if (
      i < readings.length &&
      i - start < MAX_BLOCK_READINGS &&
      readings[i]!.reading.ts - readings[start]!.reading.ts <= MAX_BLOCK_SPAN_MS
    ) {
      continue;
    }
    out.push(blockRow(device, readings, start, i));
    start = i;
  }
}

function blockRow(device: string, readings: readonly PackedReading[], start: number, end: number): ReadingBlocksTable {
  let seqFirst = Number.POSITIVE_INFINITY;
  let seqLast = Number.NEGATIVE_INFINITY;
  let text = '[';
  for (let i = start; i < end; i++) {
    const { reading, text: one } = readings[i]!;
    if (reading.seq < seqFirst) seqFirst = reading.seq;
    if (reading.seq > seqLast) seqLast = reading.seq;
    text += i === start ? one : `,${one}`;
  }
  return {
    device,
    seq_last: seqLast,
    seq_first: seqFirst,
    ts_first: readings[start]!.reading.ts,
    ts_last: readings[end - 1]!.reading.ts,
    count: end - start,
    readings: `${text}]`,
  };
}

/** Readings as a block (or the ingest log) packs them, decoded. */
export function readingsOf(device: string, rows: readonly Packed[]): Reading[] {
  return rows.map(([seq, ts, metrics]) => ({ device, seq, ts, metrics }));
}

/**
 * One metric's points of a block in [from, to], as [seq, ts, value]; none, without parsing, when
 * the block's text does not name the metric (metric names are plain: letters, digits, `_`, `.`).
 */
export function pointsOf(text: string, metric: string, from: number, to: number): [number, number, number][] {
  if (!text.includes(`"${metric}"`)) return [];
  const points: [number, number, number][] = [];
  for (const [seq, ts, metrics] of JSON.parse(text) as Packed[]) {
    if (ts < from || ts > to) continue;
    const value: unknown = Object.hasOwn(metrics, metric) ? metrics[metric] : undefined;
    if (typeof value === 'number') points.push([seq, ts, value]);
  }
  return points;
}
