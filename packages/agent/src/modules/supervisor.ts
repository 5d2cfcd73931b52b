// The module supervisor: keeps the modules the desired state names running. `apply` plans the
// steps from the modules it holds to the desired set (plan.ts, pure) and a table of executors
// carries them out; reconciles run one at a time, each on the latest desired set (level-based).
//
// Each module is a small state machine: starting → running ↔ unhealthy; a crash → backoff →
// starting again, the delay doubling from initialBackoffMs to maxBackoffMs with each crash inside
// crashLoopWindowMs; crashLoopThreshold crashes in the window → crash-loop (restarts go on at the
// longest delay); policy `never` (or `on-failure` after a clean exit) → stopped; a spec that cannot
// run here → refused, never restarted. A crash is: `start` rejecting, `onSample` throwing,
// `ctx.crashed(err)`, or failureThreshold failed health probes in a row. Every state change is
// reported (debounced) as the reported `modules`, and crashes, crash loops and refusals go
// upstream as events.
//
// Restarts after a crash run on their own timers, outside the reconcile queue, so a slow start
// elsewhere does not delay them; `gen`, the incarnation number of a module, makes any callback of
// an incarnation that was stopped or replaced a no-op.

import { join } from 'node:path';
import { type Clock, type Logger, type Timer, TypedEvents } from '@homeostat/kit';
import type {
  DesiredModule,
  HealthProbe,
  ModuleKind,
  ModuleSpec,
  ModuleState,
  ReportedModule,
  RestartPolicy,
} from '@homeostat/protocol';
import type { RaiseEventInput } from '../agent.js';
import type { ActuatorValue } from '../device/hardware.js';
import { ModuleAlarms } from './alarms.js';
import { moduleContext, Permissions } from './context.js';
import {
  ModuleDenied,
  ModuleExited,
  type ModuleKindRunner,
  ModuleRefused,
  type RunningModule,
  type Sample,
} from './module.js';
import { type CurrentModule, planModules, type Step } from './plan.js';
import { type StreamStore, streamWindowMs } from './streams.js';

/** The protocol's defaults (modules.ts). */
export const RESTART_DEFAULTS: Required<RestartPolicy> = {
  policy: 'always',
  initialBackoffMs: 100,
  maxBackoffMs: 30_000,
  crashLoopThreshold: 3,
  crashLoopWindowMs: 60_000,
};
export const HEALTH_DEFAULTS: Required<HealthProbe> = { periodMs: 5000, timeoutMs: 1000, failureThreshold: 3 };

/** Derived samples handled in one dispatch: beyond, modules emitting on each other's output loop. */
const MAX_DISPATCH = 1000;

export interface SupervisorOptions {
  kinds: Iterable<AnyModuleKind>;
  streams: StreamStore;
  clock: Clock;
  logger: Logger;
  dataDir: string | null;
  /** Drives the hardware; throws when the device has no such actuator. */
  actuate(actuator: string, value: ActuatorValue, now: number): void;
  /** Queues an event for the hub (may throw when the outbox is full). */
  raise(event: RaiseEventInput): void;
  /** A sample a module derived, to go upstream as telemetry. */
  upstream(sample: Sample): void;
  /** The reported `modules`, whole; called debounced after state changes. */
  report(modules: Record<string, ReportedModule>): void;
  /** Debounce of reports, ms. Default 50. */
  reportDebounceMs?: number;
  /** How long a module's stop may take before it is abandoned, ms. Default 10000. */
  stopDeadlineMs?: number;
}

/** A runner of any one kind. */
export type AnyModuleKind = { [K in ModuleKind]: ModuleKindRunner<K> }[ModuleKind];

export type SupervisorEvents = {
  state: { name: string; state: ModuleState; at: number; restarts: number };
};

interface Slot {
  readonly name: string;
  fingerprint: string;
  rev: string | null;
  kind: ModuleKind | null;
  /** null when refused before parsing succeeded. */
  spec: ModuleSpec | null;
  permissions: Permissions;
  state: ModuleState;
  since: number;
  restarts: number;
  lastError: { message: string; at: number } | null;
  running: RunningModule | null;
  gen: number;
  starting: Promise<void> | null;
  /** Times of the crashes inside the crash-loop window. */
  crashes: number[];
  inCrashLoop: boolean;
  /** The backoff wait or the next health probe. */
  timer: Timer | null;
  probeFailures: number;
}

export class ModuleSupervisor {
  readonly events = new TypedEvents<SupervisorEvents>();
  readonly #options: SupervisorOptions;
  readonly #kinds: ReadonlyMap<string, AnyModuleKind>;
  readonly #slots = new Map<string, Slot>();
  #desired: Readonly<Record<string, unknown>> = {};
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  #reportTimer: Timer | null = null;
  readonly #alarms: ModuleAlarms;
  readonly #pending: Sample[] = [];
  #dispatching = false;

  readonly #execute: { [Op in Step['op']]: (step: Extract<Step, { op: Op }>) => Promise<void> } = {
    start: async ({ name, module }) => {
      const slot = this.#slot(name, module);
      this.#slots.set(name, slot);
      this.#launch(slot);
    },
    restart: async ({ name, module }) => {
      const old = this.#slots.get(name);
      if (old) await this.#halt(old);
      const slot = this.#slot(name, module);
      this.#slots.set(name, slot);
      this.#launch(slot);
    },
    stop: async ({ name }) => {
      const slot = this.#slots.get(name);
      if (slot) await this.#halt(slot);
      this.#slots.delete(name);
      this.#changed();
    },
    refuse: async ({ name, fingerprint, rev, kind, reason }) => {
      const old = this.#slots.get(name);
      if (old) await this.#halt(old);
      const slot = this.#slot(name, null);
      Object.assign(slot, { fingerprint, rev, kind });
      this.#slots.set(name, slot);
      this.#refuse(slot, reason);
    },
  };

  constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#alarms = new ModuleAlarms(options.clock, options.logger, options.raise);
    this.#kinds = new Map([...options.kinds].map((k) => [k.kind, k]));
  }

  /** Takes the desired `modules` (a record by name) and reconciles; resolves when the steps ran. */
  apply(desired: Readonly<Record<string, unknown>>): Promise<void> {
    this.#desired = desired;
    const next = this.#queue.then(() => this.#reconcile());
    this.#queue = next.catch(() => {});
    return next;
  }

  /** The state of one module, as reported. */
  get(name: string): ReportedModule | undefined {
    const slot = this.#slots.get(name);
    return slot ? this.#reportOf(slot) : undefined;
  }

  /** The reported `modules`: every module with a known kind. */
  reported(): Record<string, ReportedModule> {
    const out: Record<string, ReportedModule> = {};
    for (const slot of this.#slots.values()) {
      const r = this.#reportOf(slot);
      if (r) out[slot.name] = r;
    }
    return out;
  }

  /**
   * A new sample, from the hardware or a module: into the local streams, then to every running
   * module. Samples emitted while dispatching are queued and handled in turn, so one module's
   * output reaches the others without recursion.
   */
  publish(sample: Sample): void {
    this.#pending.push(sample);
    if (this.#dispatching) return;
    this.#dispatching = true;
    try {
      let handled = 0;
      for (let s = this.#pending.shift(); s !== undefined; s = this.#pending.shift()) {
        if (++handled > MAX_DISPATCH) {
          this.#options.logger.warn({ dropped: this.#pending.length + 1 }, 'modules: derived samples loop; dropped');
          this.#pending.length = 0;
          break;
        }
        this.#options.streams.record(s);
        for (const slot of this.#slots.values()) this.#deliver(slot, s);
      }
    } finally {
      this.#dispatching = false;
    }
  }

  /** Stops every module (each within its deadline); the supervisor takes no more work. */
  async stop(): Promise<void> {
    this.#closed = true;
    await this.#queue;
    this.#reportTimer?.cancel();
    this.#reportTimer = null;
    await Promise.all([...this.#slots.values()].map((slot) => this.#halt(slot)));
  }

  async #reconcile(): Promise<void> {
    if (this.#closed) return;
    const current = new Map<string, CurrentModule>();
    for (const [name, slot] of this.#slots) current.set(name, { fingerprint: slot.fingerprint });
    const steps = planModules(current, this.#desired);
    for (const step of steps) {
      this.#options.logger.info({ module: step.name, op: step.op }, 'modules: step');
      await (this.#execute[step.op] as (s: Step) => Promise<void>)(step);
    }
    let retain = 0;
    for (const slot of this.#slots.values()) if (slot.spec) retain = Math.max(retain, streamWindowMs(slot.spec));
    this.#options.streams.setRetention(retain);
  }

  #slot(name: string, module: DesiredModule | null): Slot {
    return {
      name,
      fingerprint: module?.rev ?? '',
      rev: module?.rev ?? null,
      kind: module?.spec.kind ?? null,
      spec: module?.spec ?? null,
      permissions: new Permissions(module?.spec.permissions),
      state: 'starting',
      since: this.#options.clock.now(),
      restarts: 0,
      lastError: null,
      running: null,
      gen: 0,
      starting: null,
      crashes: [],
      inCrashLoop: false,
      timer: null,
      probeFailures: 0,
    };
  }

  #launch(slot: Slot): void {
    const start = this.#start(slot);
    slot.starting = start;
    void start.finally(() => {
      if (slot.starting === start) slot.starting = null;
    });
  }

  async #start(slot: Slot): Promise<void> {
    const spec = slot.spec!;
    const runner = this.#kinds.get(spec.kind);
    if (runner === undefined) {
      this.#refuse(slot, `module kind ${spec.kind} is not available on this agent`);
      return;
    }
    const gen = ++slot.gen;
    this.#setState(slot, 'starting');
    let running: RunningModule;
    try {
      running = await (runner as ModuleKindRunner).start(spec as never, this.#context(slot, gen));
    } catch (err) {
      if (slot.gen !== gen) return;
      if (err instanceof ModuleRefused) this.#refuse(slot, err.message);
      else this.#crash(slot, gen, asError(err));
      return;
    }
    if (slot.gen !== gen || this.#closed) {
      // Stopped or crashed while starting: this incarnation is not wanted any more.
      await this.#stopWithDeadline(slot, running);
      return;
    }
    slot.running = running;
    slot.probeFailures = 0;
    // The first probe at once: a restarted module counts as back when it is healthy, not when spawned.
    await this.#probe(slot, gen);
  }

  /** Ends whatever runs or waits under this slot; resolves when it stopped (or its deadline passed). */
  async #halt(slot: Slot): Promise<void> {
    slot.gen++;
    slot.timer?.cancel();
    slot.timer = null;
    await slot.starting?.catch(() => {});
    const running = slot.running;
    slot.running = null;
    if (running) await this.#stopWithDeadline(slot, running);
  }

  async #stopWithDeadline(slot: Slot, running: RunningModule): Promise<void> {
    const ms = this.#stopDeadline(slot.spec);
    try {
      await within(
        this.#options.clock,
        ms,
        Promise.resolve().then(() => running.stop()),
        'stop',
      );
    } catch (err) {
      this.#options.logger.warn({ module: slot.name, err: asError(err).message }, 'modules: stop failed or timed out');
    }
  }

  /** A process gets its own SIGTERM-to-SIGKILL time and a second to exit after it. */
  #stopDeadline(spec: ModuleSpec | null): number {
    const base = this.#options.stopDeadlineMs ?? 10_000;
    return spec?.kind === 'process' ? Math.max(base, (spec.config.stopTimeoutMs ?? 5000) + 1000) : base;
  }

  #deliver(slot: Slot, sample: Sample): void {
    const running = slot.running;
    if (running?.onSample === undefined) return;
    const visible = slot.permissions.deliverable(sample);
    if (visible === null) return;
    const gen = slot.gen;
    try {
      running.onSample(visible);
    } catch (err) {
      // A denial is recorded where it happened; the module goes on (its next sample may be fine).
      if (!(err instanceof ModuleDenied)) this.#crash(slot, gen, asError(err));
    }
  }

  async #probe(slot: Slot, gen: number): Promise<void> {
    const running = slot.running;
    if (running === null || slot.gen !== gen) return;
    const probe = { ...HEALTH_DEFAULTS, ...slot.spec?.health };
    let healthy = true;
    let detail: string | undefined;
    if (running.health) {
      try {
        const result = await within(
          this.#options.clock,
          probe.timeoutMs,
          Promise.resolve().then(() => running.health!()),
          'health check',
        );
        healthy = result.healthy;
        detail = result.detail;
      } catch (err) {
        healthy = false;
        detail = asError(err).message;
      }
    }
    if (slot.gen !== gen) return;
    if (healthy) {
      slot.probeFailures = 0;
      this.#setState(slot, 'running');
    } else if (++slot.probeFailures >= probe.failureThreshold) {
      this.#crash(slot, gen, new Error(`health check failed ${slot.probeFailures} times: ${detail ?? 'unhealthy'}`));
      return;
    } else {
      this.#setState(slot, 'unhealthy');
    }
    // Modules without a check of their own have nothing to probe.
    if (running.health) slot.timer = this.#options.clock.setTimeout(() => void this.#probe(slot, gen), probe.periodMs);
  }

  #crash(slot: Slot, gen: number, error: Error): void {
    if (slot.gen !== gen || this.#closed) return;
    const restartGen = ++slot.gen;
    slot.timer?.cancel();
    slot.timer = null;
    const running = slot.running;
    slot.running = null;
    // Release what the crashed incarnation may still hold (a worker, a child process).
    if (running) void this.#stopWithDeadline(slot, running);
    const now = this.#options.clock.now();
    const policy = { ...RESTART_DEFAULTS, ...slot.spec?.restart };
    const clean = error instanceof ModuleExited;
    if (!clean) slot.lastError = { message: error.message, at: now };
    this.#options.logger.warn({ module: slot.name, err: error.message, clean }, 'modules: module ended');
    if (policy.policy === 'never' || (policy.policy === 'on-failure' && clean)) {
      this.#setState(slot, 'stopped');
      if (!clean) this.#alarms.crashed(slot, error, slot.restarts, null);
      return;
    }
    slot.crashes = [...slot.crashes.filter((t) => t > now - policy.crashLoopWindowMs), now];
    const loop = slot.crashes.length >= policy.crashLoopThreshold;
    const delay = loop
      ? policy.maxBackoffMs
      : Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** (slot.crashes.length - 1));
    const entering = loop && !slot.inCrashLoop;
    slot.inCrashLoop = loop;
    this.#setState(slot, loop ? 'crash-loop' : 'backoff');
    this.#alarms.crashed(slot, error, slot.restarts, delay);
    if (entering) this.#alarms.crashLoop(slot, error, slot.crashes.length, policy.crashLoopWindowMs, delay);
    slot.timer = this.#options.clock.setTimeout(() => {
      if (slot.gen !== restartGen || this.#closed) return;
      slot.timer = null;
      slot.restarts++;
      this.#launch(slot);
    }, delay);
  }

  #refuse(slot: Slot, reason: string): void {
    slot.gen++;
    slot.lastError = { message: reason, at: this.#options.clock.now() };
    this.#setState(slot, 'refused');
    this.#options.logger.warn({ module: slot.name, reason }, 'modules: refused');
    this.#alarms.refused(slot, slot.kind, reason);
  }

  #context(slot: Slot, gen: number) {
    const { clock, logger, streams, dataDir } = this.#options;
    return moduleContext({
      name: slot.name,
      permissions: slot.permissions,
      clock,
      logger: logger.child({ module: slot.name }),
      streams,
      dataDir: dataDir === null ? null : join(dataDir, 'modules', slot.name),
      alive: () => slot.gen === gen && !this.#closed,
      emit: (sample) => {
        this.publish(sample);
        this.#options.upstream(sample);
      },
      actuate: (actuator, value, now) => this.#options.actuate(actuator, value, now),
      raise: (event) => this.#alarms.raise(event),
      crashed: (error) => this.#crash(slot, gen, error),
      violation: (v) => this.#alarms.violation(slot, v),
    });
  }

  #setState(slot: Slot, state: ModuleState): void {
    if (slot.state === state) return;
    slot.state = state;
    slot.since = this.#options.clock.now();
    this.events.emit('state', { name: slot.name, state, at: slot.since, restarts: slot.restarts });
    this.#changed();
  }

  #changed(): void {
    if (this.#reportTimer !== null || this.#closed) return;
    this.#reportTimer = this.#options.clock.setTimeout(() => {
      this.#reportTimer = null;
      this.#options.report(this.reported());
    }, this.#options.reportDebounceMs ?? 50);
  }

  #reportOf(slot: Slot): ReportedModule | undefined {
    if (slot.kind === null) return undefined;
    const placement = slot.running?.placement?.();
    return {
      kind: slot.kind,
      rev: slot.rev,
      state: slot.state,
      since: slot.since,
      restarts: slot.restarts,
      lastError: slot.lastError,
      ...(placement ? { placement } : {}),
    };
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** `p`, or a rejection once `ms` passed on `clock`. */
function within<T>(clock: Clock, ms: number, p: Promise<T>, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = clock.setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
    p.then(
      (value) => {
        timer.cancel();
        resolve(value);
      },
      (err) => {
        timer.cancel();
        reject(err);
      },
    );
  });
}
