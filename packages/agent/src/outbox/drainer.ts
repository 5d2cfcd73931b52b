// Drains the outbox to the hub over the current connection with a window of in-flight messages,
// so throughput after an outage is bounded by the link, not by one round trip per reading.
// An entry leaves the outbox only when the hub acknowledged it (QoS 1 PUBACK); when the link
// drops, everything in flight is pending again and is resent on the next connection. The hub
// de-duplicates on (device, seq), so at-least-once is what this guarantees, never loss.

import type { Logger } from '@homeostat/kit';
import type { Outbox } from './outbox.js';

/** Sends one message; `done` runs once the hub acknowledged it (QoS 1) or it was written (QoS 0). */
export type PublishFn = (topic: string, payload: string, qos: 0 | 1, done: (err?: Error | null) => void) => void;

export interface DrainerOptions {
  outbox: Outbox;
  logger: Logger;
  /** Most messages awaiting an ack at once. Default 100. */
  window?: number;
}

export class Drainer {
  readonly #outbox: Outbox;
  readonly #logger: Logger;
  readonly #window: number;
  /** Refill only when in-flight falls to this, so each peek fetches a batch, not one entry. */
  readonly #lowWater: number;
  readonly #inFlight = new Set<number>();
  #publish: PublishFn | null = null;
  /** Changes with each connection; an ack from an older one must not touch the new bookkeeping. */
  #generation = 0;
  #pumping = false;
  #again = false;
  #closed = false;

  constructor(options: DrainerOptions) {
    this.#outbox = options.outbox;
    this.#logger = options.logger;
    this.#window = Math.max(1, options.window ?? 100);
    this.#lowWater = Math.floor(this.#window / 2);
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** A connection is up: start sending through it. */
  attach(publish: PublishFn): void {
    this.#reset();
    this.#publish = publish;
    this.pump();
  }

  /** The connection is gone: whatever was in flight is pending again. */
  detach(): void {
    this.#reset();
    this.#publish = null;
  }

  /** After close(), late acks are ignored (the outbox is closed) and nothing is sent. */
  close(): void {
    this.detach();
    this.#closed = true;
  }

  /** Sends what fits in the window; called on attach, after each enqueue and after each ack. */
  pump(): void {
    if (this.#pumping) {
      // A publish callback ran synchronously inside the loop below: go round once more.
      this.#again = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#again = false;
        this.#fill();
      } while (this.#again);
    } finally {
      this.#pumping = false;
    }
  }

  #fill(): void {
    const publish = this.#publish;
    if (publish === null || this.#closed || this.#inFlight.size > this.#lowWater) return;
    const batch = this.#outbox.peek(this.#window - this.#inFlight.size, this.#inFlight);
    const generation = this.#generation;
    for (const entry of batch) {
      this.#inFlight.add(entry.id);
      publish(entry.topic, entry.payload, entry.qos, (err) => this.#settled(entry.id, generation, err));
      if (this.#publish !== publish) return; // the link dropped while sending
    }
  }

  #settled(id: number, generation: number, err: Error | null | undefined): void {
    if (this.#closed) return;
    // A PUBACK from an older connection still proves delivery: remove the entry either way.
    if (err == null) this.#outbox.ack(id);
    if (generation !== this.#generation) return;
    if (err != null) {
      // Left in flight on purpose: retrying at once could spin; the next connection resends it.
      this.#logger.warn({ err: err.message, id }, 'outbox: publish failed, will resend after reconnect');
      return;
    }
    this.#inFlight.delete(id);
    this.pump();
  }

  #reset(): void {
    this.#generation++;
    this.#inFlight.clear();
  }
}
