// What a message handler may use, passed in by the composition root.

import type { Clock, Logger } from '@homeostat/kit';
import type { HomeostatError } from '@homeostat/protocol';
import type { HubConfig } from '../config.js';
import type { LivenessTracker } from '../controllers/liveness.js';
import type { EventLog } from '../events.js';
import type { Backpressure } from '../ingest/backpressure.js';
import type { IngestBatcher } from '../ingest/batcher.js';
import type { HubMetrics } from '../metrics.js';
import type { Store } from '../store/store.js';

export interface HandlerDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  metrics: HubMetrics;
  events: EventLog;
  liveness: LivenessTracker;
  ingest: IngestBatcher;
  /** Holds telemetry acknowledgements back while the hub's own loop asks for it. */
  backpressure?: Backpressure;
  config: HubConfig;
}

export interface DeviceMessage {
  deviceId: string;
  topic: string;
  payload: Buffer;
  /** True when the broker publishes this message as the client's last will. */
  isWill: boolean;
  now: number;
}

/** A refusal is reported to the device (on `errors`), counted and logged; the message is acknowledged. */
export type HandlerResult =
  /**
   * Taken; each warning is still told to the device and logged (e.g. a value it sent was
   * corrected). With `committed`, the message is taken but not stored yet: it is acknowledged
   * only once `committed` resolves (with the warnings the write found), and never if it rejects.
   */
  | { ok: true; warnings?: { error: HomeostatError; seq?: number }[]; committed?: Promise<HandlerResult> }
  | { ok: false; error: HomeostatError; seq?: number; data?: Record<string, unknown> };

export type Handler = (deps: HandlerDeps, message: DeviceMessage) => Promise<HandlerResult>;
