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
  /**
   * Since when each key has been behind, for the age of the oldest: waiting since it was added,
   * being worked on since it was added before that, waiting for a retry since its first try.
   */
  readonly #waitingSince = new Map<K, number>();
  readonly #processingSince = new Map<K, number>();
  readonly #retrySince = new Map<K, number>();
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
    const keys = new Set<K>();
    let oldest = Number.POSITIVE_INFINITY;
    for (const map of [this.#waitingSince, this.#processingSince, this.#retrySince]) {
      for (const [key, at] of map) {
        keys.add(key);
        if (at < oldest) oldest = at;
      }
    }
    const now = this.#options.clock.now();
    return { depth: keys.size, oldestMs: oldest === Number.POSITIVE_INFINITY ? 0 : Math.max(0, now - oldest) };
  }

  start(): void {
    this.#running = true;
    this.#pump();
  }

  /** Stops taking keys and waits for the ones being worked on; retries are dropped. */
  async stop(): Promise<void> {
    this.#running = false;
    for (const t of this.#retries.values()) t.cancel();
    this.#retries.clear();
    this.#retrySince.clear();
    await this.#whenSettled(() => this.#active === 0);
  }

  add(key: K): void {
    if (this.#dirty.has(key)) return;
    this.#dirty.add(key);
    this.#waitingSince.set(key, this.#retrySince.get(key) ?? this.#options.clock.now());
    this.#retrySince.delete(key);
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
      this.#processingSince.set(key, this.#waitingSince.get(key) ?? this.#options.clock.now());
      this.#waitingSince.delete(key);
      this.#active++;
      void this.#process(key);
    }
  }

  async #process(key: K): Promise<void> {
    try {
      await this.#options.work(key);
      this.#failures.delete(key);
      this.#retrySince.delete(key);
    } catch (err) {
      this.#retryLater(key, err);
    } finally {
      this.#processing.delete(key);
      this.#active--;
      if (this.#dirty.has(key)) this.#queue.push(key);
      this.#processingSince.delete(key);
      this.#pump();
      this.#notifyIdle();
    }
  }

  #retryLater(key: K, err: unknown): void {
    // Waiting for its retry, the key is still behind: its age keeps counting from its first try.
    const since = this.#processingSince.get(key);
    if (since !== undefined && this.#running) this.#retrySince.set(key, since);
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
