// The contract between the module supervisor and the module kinds (rule, aggregate, model,
// function, process). A kind turns a spec's config into a running module; the supervisor starts,
// probes, restarts and stops it, and reports its state in the twin. Modules see the device only
// through their context: the local streams, derived metrics they emit, actuators and events, each
// checked against the module's permissions.

import type { Clock, Logger } from '@homeostat/kit';
import type { ModuleKind, ModuleSpec, WindowStat } from '@homeostat/protocol';
import type { RaiseEventInput } from '../agent.js';
import type { ActuatorValue, Metrics } from '../device/hardware.js';

/** One set of readings taken at one time: a hardware sample, or metrics a module derived. */
export interface Sample {
  ts: number;
  metrics: Metrics;
  /** The module that emitted it; absent for the hardware's own samples. */
  source?: string;
}

/** Read access to the device's recent readings, hardware and derived alike. */
export interface LocalStreams {
  /** The latest value of a stream and when it was taken; undefined when never seen. */
  latest(metric: string): { value: number; ts: number } | undefined;
  /** A statistic over the values taken in (now − sizeMs, now]; undefined when there are none. */
  stat(metric: string, sizeMs: number, stat: WindowStat, now: number): number | undefined;
  /** The values taken in (now − sizeMs, now], oldest first. */
  window(metric: string, sizeMs: number, now: number): readonly { value: number; ts: number }[];
}

/** What a module may do to the device. Every call is checked against the module's permissions. */
export interface ModuleContext {
  readonly name: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly streams: LocalStreams;
  /** Where the module may keep files (a process's working directory, a model cache); null in memory. */
  readonly dataDir: string | null;
  /** Publishes derived metrics into the local streams (other modules see them) and upstream. */
  emit(metrics: Metrics, ts?: number): void;
  /** Drives an actuator of the device's hardware. Throws ModuleDenied outside the permissions. */
  actuate(actuator: string, value: ActuatorValue): void;
  /** Raises an event or alarm, sent to the hub ahead of telemetry. */
  raise(event: RaiseEventInput): void;
  /**
   * Reports that the module died on its own (a worker or process exited, an async task
   * failed): the supervisor counts a crash and applies the restart policy.
   */
  crashed(error: Error): void;
}

export interface HealthResult {
  healthy: boolean;
  detail?: string;
}

/** A module that is running. Throwing from `onSample` is a crash. */
export interface RunningModule {
  /** Every new sample, hardware or derived (its own included: a module ignores its `source`). */
  onSample?(sample: Sample): void;
  /** The module's own health check; absent means healthy while running. */
  health?(): Promise<HealthResult> | HealthResult;
  /** Where a model runs, for the report. */
  placement?(): 'edge' | 'hub';
  /** Stops and releases everything; must resolve (the supervisor waits with a deadline). */
  stop(): Promise<void>;
}

/** One kind of module. `start` rejects when the module cannot start (a crash, or refused). */
export interface ModuleKindRunner<K extends ModuleKind = ModuleKind> {
  readonly kind: K;
  start(spec: Extract<ModuleSpec, { kind: K }>, ctx: ModuleContext): Promise<RunningModule>;
}

/** Thrown by a kind when the spec can never run on this agent; the module is `refused`, not restarted. */
export class ModuleRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModuleRefused';
  }
}

/** Thrown by the context when a module reaches outside its permissions (in enforce mode). */
export class ModuleDenied extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModuleDenied';
  }
}
