// The device's own MAPE-K loop: Monitor (the link, samples, the events raised on the device),
// Analyze and Plan (plan.ts, pure), Execute (through the agent's hardware, actuators, sampler and
// module supervisor), Knowledge (what it decided, kept in memory: after a reboot the loop starts
// over from the desired state, which is durable). It needs no hub: it is what keeps a device doing
// its job while the hub is out of reach.
//
// Every decision goes upstream as an `action` event with its trigger, evidence, analysis, plan and
// result; offline, it waits in the outbox and reaches the hub in order once the link is back. So
// the hub knows what the device decided, and its own loop waits instead of fighting it.

import type { Clock, Logger, Timer } from '@homeostat/kit';
import type { RaiseEventInput } from '../agent.js';
import type { ActuatorValue, Metrics, State } from '../device/hardware.js';
import {
  initialKnowledge,
  type Knowledge,
  type LoopDecision,
  type LoopSignal,
  type LoopStep,
  planLoop,
} from './plan.js';
import { LOOP_KEYS, type LoopPolicies, NO_POLICIES, parseLoopPolicies } from './policies.js';

export interface DeviceLoopDeps {
  clock: Clock;
  logger: Logger;
  heartbeatMs: number;
  /** The sampling interval the agent was started with, ms. */
  sampleMs: number;
  /** Hands a whole desired state to the hardware (safe mode, and back). */
  applyDesired(state: State): void;
  actuate(actuator: string, value: ActuatorValue): void;
  setSampleInterval(ms: number): void;
  /** Stops a module until its rev changes. */
  stopModule(name: string): void;
  raise(event: RaiseEventInput): void;
  /** The loop's state for the twin's reported `autonomic` key, after each of its decisions. */
  report(state: Record<string, unknown>): void;
}

/** Decisions that change nothing a fleet action could fight with: the hub need not wait for them. */
const NOT_HOLDING_FLEET = new Set(['SAMPLING_CHANGED', 'BATTERY_GUARD_DEFERRED']);

export class DeviceLoop {
  readonly #deps: DeviceLoopDeps;
  #knowledge: Knowledge;
  #policies: LoopPolicies = NO_POLICIES;
  /** The device's desired state without the agent's keys: what safe mode lays its overlay on. */
  #desired: State = {};
  #tick: Timer | null = null;
  /** Modules the watchdog stopped, by name, with the rev they were stopped at. */
  readonly #stopped = new Map<string, string | null>();

  constructor(deps: DeviceLoopDeps) {
    this.#deps = deps;
    this.#knowledge = initialKnowledge(deps.clock.now(), deps.sampleMs);
  }

  /** Ticks on the heartbeat: the safe mode is a matter of time without the link. */
  start(): void {
    this.#tick ??= this.#deps.clock.setInterval(() => this.#handle({ kind: 'tick' }), this.#deps.heartbeatMs);
  }

  stop(): void {
    this.#tick?.cancel();
    this.#tick = null;
  }

  get safeMode(): boolean {
    return this.#knowledge.safeMode;
  }

  get sampleMs(): number {
    return this.#knowledge.sampling.ms;
  }

  /** True when the watchdog stopped this module at this rev (a new rev runs again). */
  isStopped(name: string, rev: unknown): boolean {
    return this.#stopped.has(name) && this.#stopped.get(name) === (typeof rev === 'string' ? rev : null);
  }

  /**
   * A new (or restored) desired state: the hardware's part, and the loop's own keys. Returns the
   * problems of the loop's keys (ignored, reported).
   */
  setDesired(hardwareDesired: State, loopKeys: State): string[] {
    this.#desired = hardwareDesired;
    const { policies, problems } = parseLoopPolicies(loopKeys);
    this.#policies = policies;
    return problems;
  }

  onLink(up: boolean): void {
    this.#handle({ kind: 'link', up });
  }

  onSample(metrics: Metrics): void {
    this.#handle({ kind: 'sample', metrics });
  }

  /** An event raised on the device by a module, the supervisor or the aggregate stage. */
  onEvent(event: RaiseEventInput): void {
    this.#handle({ kind: 'event', event });
  }

  #handle(signal: LoopSignal): void {
    const now = this.#deps.clock.now();
    const { decisions, knowledge } = planLoop(this.#knowledge, this.#policies, signal, now, this.#deps.heartbeatMs);
    this.#knowledge = knowledge;
    for (const d of decisions) this.#execute(d, now);
    if (decisions.length > 0) this.#reportState();
  }

  #execute(d: LoopDecision, now: number): void {
    let result: string;
    if (d.degree === 'observe') result = 'observe: recorded only, nothing done';
    else if (d.degree === 'recommend') result = 'recommend: proposed, a person applies it';
    else if (d.plan.length === 0) result = 'nothing to do';
    else {
      const failures: string[] = [];
      for (const step of d.plan) {
        try {
          this.#step(step);
        } catch (err) {
          failures.push(`${step.op}: ${(err as Error).message}`);
        }
      }
      result = failures.length === 0 ? 'done' : `failed: ${failures.join('; ')}`;
    }
    const failed = result.startsWith('failed');
    this.#deps.logger.info({ code: d.code, degree: d.degree, result }, `autonomic: ${d.message}`);
    try {
      this.#deps.raise({
        type: 'action',
        code: d.code,
        severity: failed || d.code === 'SAFE_MODE_ENTERED' || d.code === 'MODULE_STOPPED' ? 'warning' : 'info',
        message: d.message,
        data: {
          policy: d.policy,
          degree: d.degree,
          at: now,
          trigger: d.trigger,
          evidence: d.evidence,
          analysis: d.analysis,
          plan: d.plan,
          result,
          ...(NOT_HOLDING_FLEET.has(d.code) ? { holdsFleet: false } : {}),
        },
      });
    } catch (err) {
      this.#deps.logger.error({ err: (err as Error).message, code: d.code }, 'autonomic: decision not queued');
    }
  }

  #step(step: LoopStep): void {
    switch (step.op) {
      case 'apply-desired':
        this.#deps.applyDesired({ ...this.#desired, ...step.overlay });
        return;
      case 'restore-desired':
        this.#deps.applyDesired(this.#desired);
        return;
      case 'actuate':
        this.#deps.actuate(step.actuator, step.value);
        return;
      case 'set-sample-interval':
        this.#deps.setSampleInterval(step.ms);
        return;
      case 'stop-module':
        this.#stopped.set(step.module, step.rev);
        this.#deps.stopModule(step.module);
        return;
    }
  }

  #reportState(): void {
    const k = this.#knowledge;
    this.#deps.report({
      safeMode: k.safeMode,
      sampleMs: k.sampling.ms,
      batteryGuard: k.guard.acted ? 'returned' : 'idle',
      stoppedModules: [...this.#stopped.keys()],
      autonomy: this.#policies.autonomy,
      policies: LOOP_KEYS.filter((key) => key !== 'autonomy' && this.#policies[key] !== null),
    });
  }
}
