// The connection to the hub's MQTT endpoint. mqtt.js reconnection is off (reconnectPeriod 0):
// each attempt is a fresh client, and the wait between attempts is kit's backoff with full
// jitter on the injected clock, so a fleet that lost its hub does not come back in lockstep and
// tests drive reconnection with a FakeClock. A fresh client per attempt also means nothing stays
// in mqtt.js's in-memory store: resending is the outbox's job, done once.

import { type BackoffOptions, backoffDelay, type Clock, type Logger, type Timer, TypedEvents } from '@homeostat/kit';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';

/** A connection that lasted this long (ms) counts as stable: the backoff starts over after it. */
const STABLE_CONNECTION_MS = 10_000;

export interface LinkCredentials {
  clientId: string;
  username: string;
  password: string;
}

export interface HubLinkOptions {
  url: string;
  credentials: LinkCredentials;
  /** false for a device (the broker keeps its subscriptions and queued QoS 1 messages). */
  clean: boolean;
  /** Published by the broker if the connection dies without a DISCONNECT. */
  will?: { topic: string; payload: string; qos: 0 | 1; retain: boolean };
  /** Seconds. */
  keepalive: number;
  backoff: BackoffOptions;
  clock: Clock;
  logger: Logger;
}

export type LinkEvents = {
  /** Connected (CONNACK accepted); the client is usable until `down`. */
  up: MqttClient;
  down: { reason: string };
  message: { topic: string; payload: Buffer };
};

/** Wait for a graceful DISCONNECT (in-flight acks) before the socket is just destroyed, in ms. */
const END_TIMEOUT_MS = 2000;
/**
 * Wait for a CONNACK, in ms (mqtt.js real-time timer: a socket that connects but never answers).
 * Generous: when a whole fleet reconnects at once, a hub answers late, and an agent that gives
 * up and reconnects only adds to the storm (its abandoned connection goes offline by its will).
 */
const CONNECT_TIMEOUT_MS = 30_000;

export class HubLink {
  readonly events = new TypedEvents<LinkEvents>();
  readonly #options: HubLinkOptions;
  #client: MqttClient | null = null;
  #connected = false;
  #attempt = 0;
  #retry: Timer | null = null;
  #stopped = false;

  constructor(options: HubLinkOptions) {
    this.#options = options;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** Starts the first attempt now; later ones follow the backoff until stop(). */
  start(): void {
    this.#stopped = false;
    this.#open();
  }

  /** Publishes on the current connection; fails at once when there is none. */
  publish(
    topic: string,
    payload: string,
    options: { qos: 0 | 1; retain?: boolean },
    done?: (err?: Error) => void,
  ): void {
    const client = this.#client;
    if (client === null || !this.#connected) {
      done?.(new Error('not connected'));
      return;
    }
    client.publish(topic, payload, { qos: options.qos, retain: options.retain ?? false }, (err) =>
      done?.(err ?? undefined),
    ); // mqtt.js passes null on success
  }

  /**
   * Stops reconnecting and closes the connection. When connected, `last` is published first and
   * awaited (e.g. a retained offline status), then in-flight messages get a short grace period.
   */
  async stop(last?: { topic: string; payload: string; qos: 0 | 1; retain: boolean }): Promise<void> {
    this.#stopped = true;
    this.#retry?.cancel();
    this.#retry = null;
    const client = this.#client;
    if (client === null) return;
    if (!this.#connected) {
      // Still connecting: there is nothing to flush, and a DISCONNECT could wait for a CONNACK.
      this.#client = null;
      client.end(true);
      return;
    }
    if (last !== undefined) {
      // The connection may die meanwhile, and then no PUBACK ever comes: a close ends the wait too.
      await this.#withTimeout(
        new Promise<void>((resolve) => {
          client.once('close', () => resolve());
          client.publish(last.topic, last.payload, last, () => resolve());
        }),
      );
    }
    // Marked down before the socket closes, so the close handler does not retry or report.
    this.#client = null;
    const wasConnected = this.#connected;
    this.#connected = false;
    await this.#withTimeout(new Promise<void>((resolve) => client.end(false, {}, () => resolve())));
    client.end(true);
    if (wasConnected) this.events.emit('down', { reason: 'stopped' });
  }

  #open(): void {
    const { url, credentials, clean, will, keepalive, logger } = this.#options;
    const options: IClientOptions = {
      clientId: credentials.clientId,
      username: credentials.username,
      password: credentials.password,
      clean,
      keepalive,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: CONNECT_TIMEOUT_MS,
      // QoS 0 (heartbeats) is worthless late; never queue it while offline.
      queueQoSZero: false,
      ...(will ? { will: { ...will, payload: Buffer.from(will.payload) } } : {}),
    };
    const client = connect(url, options);
    this.#client = client;
    let lastError: string | undefined;
    let closed = false;

    let connectedAt: number | undefined;
    client.on('connect', () => {
      if (client !== this.#client) return;
      connectedAt = this.#options.clock.now();
      this.#connected = true;
      logger.info({ url }, 'link: connected');
      this.events.emit('up', client);
    });
    client.on('message', (topic, payload) => {
      if (client === this.#client) this.events.emit('message', { topic, payload });
    });
    // Always listened to: an 'error' without a listener would throw.
    client.on('error', (err) => {
      lastError = err.message;
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'number' && client === this.#client) {
        // A CONNACK return code (MQTT 3.1.1 §3.2.2.3): the broker refused us; retrying with
        // backoff still makes sense (credentials may be provisioned later), but say so loudly.
        logger.error({ url, returnCode: code }, `link: connection refused: ${err.message}`);
      } else {
        logger.debug({ url, err: err.message }, 'link: connection error');
      }
    });
    client.on('close', () => {
      if (closed) return;
      closed = true;
      client.end(true);
      if (client !== this.#client) return;
      this.#client = null;
      const wasConnected = this.#connected;
      this.#connected = false;
      // The backoff starts over only after a connection that held: one closed right after its
      // CONNACK (another agent with the same identity taking over, a hub refusing it) keeps
      // growing the wait instead of reconnecting in a tight loop.
      if (connectedAt !== undefined && this.#options.clock.now() - connectedAt >= STABLE_CONNECTION_MS) {
        this.#attempt = 0;
      }
      const reason = lastError ?? 'connection closed';
      if (wasConnected) {
        logger.warn({ url, reason }, 'link: disconnected');
        this.events.emit('down', { reason });
      }
      if (!this.#stopped) this.#scheduleRetry();
    });
  }

  #scheduleRetry(): void {
    const delay = backoffDelay(this.#attempt++, this.#options.backoff);
    this.#options.logger.debug({ delayMs: delay, attempt: this.#attempt }, 'link: reconnecting after backoff');
    this.#retry = this.#options.clock.setTimeout(() => {
      this.#retry = null;
      if (!this.#stopped) this.#open();
    }, delay);
  }

  /** Resolves when `p` does or after END_TIMEOUT_MS on the clock, whichever is first. */
  #withTimeout(p: Promise<void>): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = this.#options.clock.setTimeout(resolve, END_TIMEOUT_MS);
      void p.then(() => {
        timer.cancel();
        resolve();
      });
    });
  }
}
