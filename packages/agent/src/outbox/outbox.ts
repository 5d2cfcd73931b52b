// The outbox port: a durable queue of messages waiting for the hub's acknowledgement, plus the
// small amount of state that must survive a restart with them (the seq counter, the twin's
// versions). Implementations: SqliteOutbox (on disk) and MemoryOutbox (benchmarks, tests); both
// run the same contract suite (contract.ts).

/** Priority classes: a lower number is sent first. */
export const PRIORITY = {
  /** Events, alarms, command results: small, rare, and what an operator acts on. */
  urgent: 0,
  /** Telemetry readings. */
  telemetry: 1,
} as const;

export interface OutboxEntry {
  /** Assigned by the outbox, increasing, never reused (a late ack can never hit a newer entry). */
  id: number;
  topic: string;
  payload: string;
  qos: 0 | 1;
  priority: number;
  /** ms since the epoch; kept for a later age bound. */
  createdAt: number;
}

export type NewOutboxEntry = Omit<OutboxEntry, 'id'>;

export interface Outbox {
  /** Stores an entry and returns its id. */
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
  /** The next value of the device's durable seq counter: strictly increasing across restarts. */
  nextSeq(): number;
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
  /** Runs `fn` atomically: all of its writes happen, or (when it throws) none. May nest. */
  transaction<T>(fn: () => T): T;
  /** Releases the storage; no other method may be called after. */
  close(): void;
}
