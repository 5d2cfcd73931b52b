// The outbox port: a durable queue of messages waiting for the hub's acknowledgement, plus the
// small amount of state that must survive a restart with them (the seq counter, the twin's
// versions). Implementations: SqliteOutbox (on disk) and MemoryOutbox (benchmarks, tests); both
// run the same contract suite (contract.ts).
//
// Bounds: the queue holds at most `maxBytes` (topic + payload, UTF-8) and entries live at most
// `maxAgeMs`. When full, the oldest entries of the least important class go first; every drop is
// counted durably, with the drop itself, so what a device lost is reported, never silent.

import { AgentError } from '../errors.js';

/** Priority classes: a lower number is sent first. */
export const PRIORITY = {
  /** Events, alarms, command results: small, rare, and what an operator acts on. */
  urgent: 0,
  /** Window summaries of the aggregate stage: few, and they stand for many readings. */
  summaries: 1,
  /** Raw telemetry readings. */
  telemetry: 2,
} as const;

export interface OutboxEntry {
  /** Assigned by the outbox, increasing, never reused (a late ack can never hit a newer entry). */
  id: number;
  topic: string;
  payload: string;
  qos: 0 | 1;
  priority: number;
  /** ms since the epoch; pruneExpired() drops the entry once it is older than maxAgeMs. */
  createdAt: number;
}

export type NewOutboxEntry = Omit<OutboxEntry, 'id'>;

export interface OutboxLimits {
  /** Most bytes queued at once, counting topic and payload (UTF-8). Default 64 MiB. */
  maxBytes?: number;
  /** Age (from createdAt) after which pruneExpired() drops an entry. Default 7 days. */
  maxAgeMs?: number;
}

export const DEFAULT_OUTBOX_LIMITS: Readonly<Required<OutboxLimits>> = {
  maxBytes: 64 * 1024 * 1024,
  maxAgeMs: 7 * 24 * 60 * 60 * 1000,
};

/** Why entries left without an ack: no room for a newer one (or itself too big), or too old. */
export type DropReason = 'full' | 'expired';

/** Entries dropped since the outbox was created (durable outboxes: ever, across restarts). */
export interface OutboxDropped {
  total: number;
  /** Keyed by priority class; classes that never dropped anything are absent. */
  byClass: Record<number, number>;
  byReason: Record<DropReason, number>;
}

export function noDrops(): OutboxDropped {
  return { total: 0, byClass: {}, byReason: { full: 0, expired: 0 } };
}

/** Adds `count` drops of one class for one reason to `dropped`, in place. */
export function countDrops(dropped: OutboxDropped, priority: number, reason: DropReason, count = 1): void {
  dropped.total += count;
  dropped.byClass[priority] = (dropped.byClass[priority] ?? 0) + count;
  dropped.byReason[reason] += count;
}

export function copyDrops(dropped: OutboxDropped): OutboxDropped {
  return { total: dropped.total, byClass: { ...dropped.byClass }, byReason: { ...dropped.byReason } };
}

/** Bytes an entry counts for against maxBytes. */
export function entryBytes(entry: { topic: string; payload: string }): number {
  return Buffer.byteLength(entry.topic, 'utf8') + Buffer.byteLength(entry.payload, 'utf8');
}

/** Meta key under which the dropped counters are kept, written in the transaction of the drop. */
export const META_DROPPED = 'outbox.dropped';

export interface Outbox {
  /**
   * Stores an entry and returns its id. When it does not fit in maxBytes, the oldest entries of the
   * least important class go first, then those of the next class, down to the entry's own class:
   * a reading never evicts an alarm. When that cannot make room (or the entry alone exceeds
   * maxBytes) the entry is refused: counted as dropped ('full') and an AgentError ERR_OUTBOX_FULL
   * is thrown, nothing else dropped. An entry in flight may be dropped; its later ack is a no-op.
   */
  enqueue(entry: NewOutboxEntry): number;
  /**
   * Up to `limit` entries, by priority then id, skipping `excludeIds` (those already in flight).
   * Cost grows with `limit + excludeIds.size`, so callers should peek in batches.
   */
  peek(limit: number, excludeIds?: ReadonlySet<number>): OutboxEntry[];
  /** Removes an entry once the hub acknowledged it; unknown ids are ignored (acks may repeat). */
  ack(id: number): void;
  /** Number of entries waiting. */
  size(): number;
  /** Bytes the waiting entries count for against maxBytes. */
  bytes(): number;
  /** The bounds in force (defaults filled in). */
  readonly limits: Readonly<Required<OutboxLimits>>;
  /**
   * Drops entries whose createdAt is more than maxAgeMs before `now`, any class; returns how many.
   * Each class is expired from its oldest id on, stopping at the first entry still young enough:
   * O(dropped), no scan. createdAt follows id unless the wall clock stepped back, in which case
   * an entry may outlive maxAgeMs until those queued before it expire (maxBytes still bounds it).
   */
  pruneExpired(now: number): number;
  /** What was dropped so far, by class and by reason (a copy). */
  dropped(): OutboxDropped;
  /** The next value of the device's durable seq counter: strictly increasing across restarts. */
  nextSeq(): number;
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
  /** Runs `fn` atomically: all of its writes happen, or (when it throws) none. May nest. */
  transaction<T>(fn: () => T): T;
  /** Releases the storage; no other method may be called after. */
  close(): void;
}

/** The error enqueue throws when an entry cannot be stored within maxBytes. */
export function outboxFull(bytes: number, maxBytes: number): AgentError {
  return new AgentError(
    'ERR_OUTBOX_FULL',
    `outbox full: an entry of ${bytes} bytes does not fit in ${maxBytes} bytes without dropping more important ones`,
  );
}
