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
// The writes of one device must not run concurrently (the embedded store has one writer).

import type { ReadingBlocksTable } from './schema.js';
import type { InsertOutcome, Reading } from './store.js';

/** Most time between the first and the last reading of one block, ms. */
export const MAX_BLOCK_SPAN_MS = 10 * 60_000;
/** Most readings in one block: a query decodes whole blocks. */
export const MAX_BLOCK_READINGS = 1000;

/** A reading inside a block: [seq, ts, values]. */
type Packed = [number, number, Record<string, number>];

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

/** What a write stores: the new readings (in input order), their blocks, and those stored already. */
export interface WritePlan {
  fresh: readonly Reading[];
  blocks: ReadingBlocksTable[];
  existing: InsertOutcome['existing'];
}

/**
 * Plans a write: `stored` holds, by device, the readings already stored in its range (none when
 * absent). A (device, seq) twice in the write is stored the first time and reported the second.
 */
export function planWrite(
  readings: readonly Reading[],
  ranges: readonly DeviceRange[],
  stored: ReadonlyMap<string, ReadonlyMap<number, Reading>>,
): WritePlan {
  const blocks: ReadingBlocksTable[] = [];
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
    if (fresh.length > 0) blocksOf(device, fresh, blocks);
  }
  existing.sort((a, b) => a.index - b.index);
  const fresh = isFresh === undefined ? readings : readings.filter((_, i) => isFresh[i]);
  return { fresh, blocks, existing };
}

/** Cuts one device's new readings into blocks, in time order, within the span and size limits. */
function blocksOf(device: string, readings: Reading[], out: ReadingBlocksTable[]): void {
  // A device's readings of one write are nearly always in time order already.
  let ordered = true;
  for (let i = 1; i < readings.length && ordered; i++) ordered = readings[i - 1]!.ts <= readings[i]!.ts;
  if (!ordered) readings.sort((a, b) => a.ts - b.ts || a.seq - b.seq);
  let start = 0;
  for (let i = 1; i <= readings.length; i++) {
    if (
      i < readings.length &&
      i - start < MAX_BLOCK_READINGS &&
      readings[i]!.ts - readings[start]!.ts <= MAX_BLOCK_SPAN_MS
    ) {
      continue;
    }
    out.push(blockRow(device, readings, start, i));
    start = i;
  }
}

function blockRow(device: string, readings: readonly Reading[], start: number, end: number): ReadingBlocksTable {
  let seqFirst = Number.POSITIVE_INFINITY;
  let seqLast = Number.NEGATIVE_INFINITY;
  let text = '[';
  for (let i = start; i < end; i++) {
    const r = readings[i]!;
    if (r.seq < seqFirst) seqFirst = r.seq;
    if (r.seq > seqLast) seqLast = r.seq;
    text += `${i === start ? '' : ','}[${r.seq},${r.ts},${JSON.stringify(r.metrics)}]`;
  }
  return {
    device,
    seq_last: seqLast,
    seq_first: seqFirst,
    ts_first: readings[start]!.ts,
    ts_last: readings[end - 1]!.ts,
    count: end - start,
    readings: `${text}]`,
  };
}

/** The readings of a block, decoded. */
export function readingsOf(device: string, text: string): Reading[] {
  return (JSON.parse(text) as Packed[]).map(([seq, ts, metrics]) => ({ device, seq, ts, metrics }));
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
    const value: unknown = metrics[metric];
    if (typeof value === 'number') points.push([seq, ts, value]);
  }
  return points;
}
