// A de-duplicating work queue of keys, the shape of controller-runtime's workqueue: a key added
// while it waits is not added twice; a key added while it is being worked on is worked on again
// afterwards (never twice at once); a failed key comes back after a per-key exponential delay.
// Reconcilers are level-based, so a key says only "look at this again", never what changed.

import { backoffDelay } from './backoff.js';
import type { Clock, Timer } from './clock.js';

export interface KeyedQueueOptions<K> {
  clock: Clock;
  /** Does the work for one key; a rejection retries the key later. */
  work: (key: K) => Promise<void>;
  /** Keys worked on at once. Default 1. */
  concurrency?: number;
  /** Retry delay after the first failure of a key, ms; doubles per failure. Default 100. */
  retryInitialMs?: number;
  /** Longest retry delay, ms. Default 30000. */
  retryMaxMs?: number;
  /** Told about each failure, with the delay before the next try. */
  onError?: (key: K, err: unknown, failures: number, retryInMs: number) => void;
}

export class KeyedQueue<K> {
  readonly #options: KeyedQueueOptions<K>;
  /** Keys waiting, in order. */
  readonly #queue: K[] = [];
  /** Keys waiting or to be worked on again: the de-duplication set. */
  readonly #dirty = new Set<K>();
  readonly #processing = new Set<K>();
  readonly #failures = new Map<K, number>();
  readonly #retries = new Map<K, Timer>();
  /** When each key waiting or being worked on was first added, for the age of the oldest. */
  readonly #since = new Map<K, number>();
  #running = false;
  #active = 0;
  #idleWaiters: (() => void)[] = [];

  constructor(options: KeyedQueueOptions<K>) {
    this.#options = options;
  }

  /** Keys waiting or being worked on. */
  get size(): number {
    return this.#dirty.size + this.#processing.size;
  }

  /** Keys waiting, being worked on or waiting for a retry, and how long the oldest has been there, ms (0: none). */
  stats(): { depth: number; oldestMs: number } {
    let oldest = Number.POSITIVE_INFINITY;
    for (const at of this.#since.values()) if (at < oldest) oldest = at;
    const now = this.#options.clock.now();
    return { depth: this.#since.size, oldestMs: oldest === Number.POSITIVE_INFINITY ? 0 : Math.max(0, now - oldest) };
  }

  start(): void {
    this.#running = true;
    this.#pump();
  }

  /** Stops taking keys and waits for the ones being worked on; retries are dropped. */
  async stop(): Promise<void> {
    this.#running = false;
    for (const [key, t] of this.#retries) {
      t.cancel();
      if (!this.#dirty.has(key)) this.#since.delete(key);
    }
    this.#retries.clear();
    await this.#whenSettled(() => this.#active === 0);
  }

  add(key: K): void {
    if (this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (!this.#since.has(key)) this.#since.set(key, this.#options.clock.now());
    // Being worked on: it is queued again when that finishes.
    if (!this.#processing.has(key)) this.#queue.push(key);
    this.#pump();
  }

  /** Resolves once nothing waits and nothing is being worked on (retries scheduled later do not count). */
  idle(): Promise<void> {
    return this.#whenSettled(() => this.#active === 0 && this.#queue.length === 0);
  }

  #pump(): void {
    const limit = this.#options.concurrency ?? 1;
    while (this.#running && this.#active < limit && this.#queue.length > 0) {
      const key = this.#queue.shift() as K;
      this.#dirty.delete(key);
      this.#processing.add(key);
      this.#active++;
      void this.#process(key);
    }
  }

  async #process(key: K): Promise<void> {
    try {
      await this.#options.work(key);
      this.#failures.delete(key);
    } catch (err) {
      this.#retryLater(key, err);
    } finally {
      this.#processing.delete(key);
      this.#active--;
      if (this.#dirty.has(key)) this.#queue.push(key);
      // A key waiting for its retry is still behind: its age keeps counting.
      else if (!this.#retries.has(key)) this.#since.delete(key);
      this.#pump();
      this.#notifyIdle();
    }
  }

  #retryLater(key: K, err: unknown): void {
    const failures = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, failures);
    const delay = backoffDelay(failures - 1, {
      initialMs: this.#options.retryInitialMs ?? 100,
      maxMs: this.#options.retryMaxMs ?? 30_000,
      random: () => 1,
    });
    this.#options.onError?.(key, err, failures, delay);
    if (!this.#running) return;
    this.#retries.get(key)?.cancel();
    this.#retries.set(
      key,
      this.#options.clock.setTimeout(() => {
        this.#retries.delete(key);
        this.add(key);
      }, delay),
    );
  }

  #whenSettled(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (done()) resolve();
        else this.#idleWaiters.push(check);
      };
      this.#idleWaiters.push(check);
    });
  }

  #notifyIdle(): void {
    for (const w of this.#idleWaiters.splice(0)) w();
  }
}
