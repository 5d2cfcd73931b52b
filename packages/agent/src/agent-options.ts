// What the agent is given (AgentOptions), what it tells (AgentEvents), what its parts raise
// (RaiseEventInput), and the defaults it derives from its options.

import type { BackoffOptions, Clock, Logger } from '@homeostat/kit';
import type { ErrorNotice, PublicKey, ReportedFirmware } from '@homeostat/protocol';
import type { DeviceHardware } from './device/hardware.js';
import type { AnyModuleKind, SupervisorEvents } from './modules/supervisor.js';
import type { UpdateProbeOptions } from './ota/agent-updates.js';
import type { BootSlots } from './ota/slots.js';
import type { OutboxLimits } from './outbox/outbox.js';

export const AGENT_VERSION = '0.1.0';

export interface AgentOptions {
  /** mqtt://host:port */
  hubUrl: string;
  /** Device id; required unless `claim` is given or credentials are stored in dataDir. */
  id?: string;
  /** Device token. */
  token?: string;
  /** Claim token for zero-touch provisioning. */
  claim?: string;
  /** Name to request when claiming; defaults to `id`. */
  name?: string;
  /** Serial number sent with a claim request. */
  serial?: string;
  /**
   * The hub's HTTP API, e.g. http://hub:8080: where the device downloads what it is asked to run
   * (model files, updates) with its own credentials. Without it, only models already in the
   * device's model cache can run.
   */
  apiUrl?: string;
  /** Where outbox.db and credentials.json live; null keeps both in memory (simulator benchmarks). */
  dataDir?: string | null;
  /** Heartbeat period, ms. Default 1000. */
  heartbeatMs?: number;
  /** Sampling period, ms. Default 1000. */
  sampleMs?: number;
  hardware: DeviceHardware;
  clock?: Clock;
  logger?: Logger;
  /** Reconnect backoff; default 500 ms initial, 30 s max, full jitter. */
  backoff?: Partial<BackoffOptions>;
  /** Messages awaiting the hub's ack at once while draining. Default 100. */
  outboxWindow?: number;
  /** Most bytes (topic + payload) the outbox holds; then old telemetry goes first. Default 64 MiB. */
  outboxMaxBytes?: number;
  /** Queued messages older than this are dropped (checked every minute). Default 7 days. */
  outboxMaxAgeMs?: number;
  /** Module kinds beyond the built-in ones (aggregate, function, process); one of the same kind replaces it. */
  moduleKinds?: readonly AnyModuleKind[];
  /** Commands `process` modules may run (exactly as their specs name them). Default none: every process module is refused. */
  allowCommands?: readonly string[];
  /**
   * The ONNX execution providers this agent can run models on, reported in its capabilities (the
   * hub places a model here only when they meet its requirements). Default: what onnxruntime-node
   * offers on this machine, or none when it cannot be loaded.
   */
  executionProviders?: () => readonly string[];
  /** The root public key the device is provisioned with; without it every update is refused. */
  rootKey?: PublicKey;
  /** The A/B slots updates install into. Default: files under `<dataDir>/slots`, memory when dataDir is null. */
  slots?: BootSlots;
  /** The device model update manifests must target (its `model` label). Default: the hardware's kind. */
  model?: string;
  /** What the device runs while no slot holds an installed update (its factory image). */
  firmware?: ReportedFirmware;
  /** The probe of a new version after the switch (window, period, time up before it is judged). */
  updateProbe?: UpdateProbeOptions;
}

export type AgentEvents = {
  connected: undefined;
  disconnected: { reason: string };
  'desired-applied': { version: number };
  'error-notice': ErrorNotice;
  credentials: { deviceId: string };
  /** A module changed state (the supervisor's own event, passed on). */
  'module-state': SupervisorEvents['state'];
};

export interface RaiseEventInput {
  type: 'alarm' | 'action' | 'log';
  code?: string;
  severity?: 'info' | 'warning' | 'critical';
  message?: string;
  data?: Record<string, unknown>;
}

/** Reconnect (and claim) backoff: 500 ms initial, 30 s max, unless the options say otherwise. */
export function backoffOf(options: AgentOptions): BackoffOptions {
  return { initialMs: 500, maxMs: 30_000, ...options.backoff };
}

/** The outbox limits the options set; the outbox's defaults for the rest. */
export function outboxLimitsOf(options: AgentOptions): OutboxLimits {
  const { outboxMaxBytes, outboxMaxAgeMs } = options;
  return {
    ...(outboxMaxBytes !== undefined ? { maxBytes: outboxMaxBytes } : {}),
    ...(outboxMaxAgeMs !== undefined ? { maxAgeMs: outboxMaxAgeMs } : {}),
  };
}
