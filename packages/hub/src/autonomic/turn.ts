// The autonomic manager's turn: all its work runs one item at a time, so two signals never race
// on the same decision. Work due later waits on a timer of the injected clock, then takes its turn.

import type { Clock, Logger, Timer } from '@homeostat/kit';

export class Turn {
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #timers = new Set<Timer>();
  #queue: Promise<void> = Promise.resolve();

  constructor(clock: Clock, logger: Logger) {
    this.#clock = clock;
    this.#logger = logger;
  }

  /** Runs work in turn; the caller gets its result or its error. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(fn);
    this.#queue = result.then(
      () => {},
      () => {},
    );
    return result;
  }

  /** Runs work in turn; nobody waits for it, so a failure is logged. */
  enqueue(fn: () => Promise<void>): void {
    this.run(fn).catch((err: unknown) => this.#logger.error({ err }, 'autonomic loop step failed'));
  }

  /** Runs `fn` in turn now, or after `ms` on the clock. */
  after(ms: number, fn: () => Promise<void>): Promise<void> | undefined {
    if (ms <= 0) return fn();
    const timer = this.#clock.setTimeout(() => {
      this.#timers.delete(timer);
      this.enqueue(fn);
    }, ms);
    this.#timers.add(timer);
    return undefined;
  }

  /** Resolves once every item queued so far, and any it queued in turn, has run. */
  async idle(): Promise<void> {
    let last: Promise<void> | undefined;
    while (last !== this.#queue) {
      last = this.#queue;
      await last;
    }
  }

  /** Cancels the work waiting on timers and waits for the item running now. */
  async stop(): Promise<void> {
    for (const t of this.#timers) t.cancel();
    this.#timers.clear();
    await this.#queue;
  }
}
