// The device loop's policies, as data, and the desired-state keys they come from. The hub writes
// them (per device kind in the demo) and the device keeps them with the rest of its desired state,
// so they hold offline and after a reboot. A key that is absent turns its policy off, except the
// module watchdog, which is on with its defaults. A value that does not parse is reported and
// ignored: the device keeps running without that policy rather than guessing.

import { isPlainObject } from '@homeostat/protocol';
import type { ActuatorValue, State } from '../device/hardware.js';

/** The desired-state keys that belong to the device loop (taken out before the hardware sees them). */
export const LOOP_KEYS = ['safeMode', 'batteryGuard', 'sampling', 'watchdog', 'autonomy'] as const;

/** How far a device policy may go. `approve` has no place offline: nobody is there to approve. */
export type LocalDegree = 'observe' | 'recommend' | 'act';
export const LOCAL_DEGREES: readonly LocalDegree[] = ['observe', 'recommend', 'act'];

export type LocalPolicy = 'safeMode' | 'batteryGuard' | 'watchdog' | 'sampling';
export const LOCAL_POLICIES: readonly LocalPolicy[] = ['safeMode', 'batteryGuard', 'watchdog', 'sampling'];

/** The hub unreachable for `afterMs`: the device runs this state instead, until the link is back. */
export interface SafeModeSpec {
  /** Link down this long before safe mode, ms. Default 3 heartbeat intervals. */
  afterMs?: number;
  /** Laid over the device's desired state while in safe mode (e.g. a heater's `mode: auto`). */
  desired?: State;
  /** Actuators driven on entry (e.g. a mower's `mode: dock`); not undone on exit, the desired state is. */
  actuate?: Record<string, ActuatorValue>;
}

/** A battery under `below` %: head home (unless a module already did), resume at `resumeAbove`. */
export interface BatteryGuardSpec {
  /** Default `battery`. */
  metric?: string;
  below: number;
  resumeAbove: number;
  /** What sends the device home, e.g. `{mode: 'dock'}`. */
  actuate: Record<string, ActuatorValue>;
  /** What resumes its work, e.g. `{mode: 'mow'}`; absent: the device stays home. */
  resume?: Record<string, ActuatorValue>;
  /** The device is already home or heading there when `metric` is one of `in` (a state code). */
  homeWhen?: { metric: string; in: number[] };
  /** A module's `action` event this recent counts as "a module already acted", ms. Default 60000. */
  graceMs?: number;
}

export interface WatchdogSpec {
  /** Crashes after entering a crash loop (that one included) before the module is stopped. Default 5. */
  stopAfterCrashes?: number;
}

/** Adaptive sampling: between minMs and maxMs, slower while the watched metrics hold still. */
export interface SamplingSpec {
  minMs: number;
  maxMs: number;
  /** A change of a metric larger than this (absolute, in its unit) is "changing". */
  tolerance: Record<string, number>;
  /** Steady samples in a row before the interval doubles. Default 5. */
  steadyFor?: number;
}

export interface LoopPolicies {
  safeMode: SafeModeSpec | null;
  batteryGuard: BatteryGuardSpec | null;
  watchdog: Required<WatchdogSpec> | null;
  sampling: SamplingSpec | null;
  autonomy: Record<LocalPolicy, LocalDegree>;
}

export const DEFAULT_STOP_AFTER_CRASHES = 5;
export const DEFAULT_GRACE_MS = 60_000;
export const DEFAULT_STEADY_FOR = 5;

/** With no desired state at all: only the watchdog, acting. */
export const NO_POLICIES: LoopPolicies = {
  safeMode: null,
  batteryGuard: null,
  watchdog: { stopAfterCrashes: DEFAULT_STOP_AFTER_CRASHES },
  sampling: null,
  autonomy: { safeMode: 'act', batteryGuard: 'act', watchdog: 'act', sampling: 'act' },
};

const num = (v: unknown, min = 0): v is number => typeof v === 'number' && Number.isFinite(v) && v >= min;
const actuations = (v: unknown): v is Record<string, ActuatorValue> =>
  isPlainObject(v) && Object.values(v).every((x) => ['number', 'boolean', 'string'].includes(typeof x));

/** The loop's policies from the desired state's keys; `problems` says what was ignored and why. */
export function parseLoopPolicies(desired: State): { policies: LoopPolicies; problems: string[] } {
  const problems: string[] = [];
  const policies: LoopPolicies = { ...NO_POLICIES, autonomy: { ...NO_POLICIES.autonomy } };
  const { safeMode, batteryGuard, sampling, watchdog, autonomy } = desired;

  if (safeMode !== undefined && safeMode !== null) {
    if (!isPlainObject(safeMode)) problems.push('safeMode: must be an object');
    else if (safeMode.afterMs !== undefined && !num(safeMode.afterMs, 1)) problems.push('safeMode.afterMs: ms > 0');
    else if (safeMode.desired !== undefined && !isPlainObject(safeMode.desired))
      problems.push('safeMode.desired: must be an object');
    else if (safeMode.actuate !== undefined && !actuations(safeMode.actuate))
      problems.push('safeMode.actuate: actuator values must be numbers, booleans or strings');
    else policies.safeMode = safeMode as SafeModeSpec;
  }

  if (batteryGuard !== undefined && batteryGuard !== null) {
    const g = batteryGuard as Record<string, unknown>;
    if (!isPlainObject(batteryGuard)) problems.push('batteryGuard: must be an object');
    else if (!num(g.below) || !num(g.resumeAbove) || g.resumeAbove <= g.below)
      problems.push('batteryGuard: below and resumeAbove must be numbers, resumeAbove above below');
    else if (!actuations(g.actuate) || (g.resume !== undefined && !actuations(g.resume)))
      problems.push('batteryGuard.actuate, .resume: actuator values must be numbers, booleans or strings');
    else policies.batteryGuard = batteryGuard as unknown as BatteryGuardSpec;
  }

  if (watchdog !== undefined) {
    const w = watchdog as Record<string, unknown> | null | boolean;
    if (w === null || w === false) policies.watchdog = null;
    else if (!isPlainObject(w) || (w.stopAfterCrashes !== undefined && !num(w.stopAfterCrashes, 1)))
      problems.push('watchdog: must be false, or an object with stopAfterCrashes >= 1');
    else
      policies.watchdog = {
        stopAfterCrashes: (w.stopAfterCrashes as number | undefined) ?? DEFAULT_STOP_AFTER_CRASHES,
      };
  }

  if (sampling !== undefined && sampling !== null) {
    const s = sampling as Record<string, unknown>;
    if (!isPlainObject(sampling) || !num(s.minMs, 1) || !num(s.maxMs, 1) || s.maxMs < s.minMs)
      problems.push('sampling: minMs and maxMs must be ms > 0, maxMs at least minMs');
    else if (!isPlainObject(s.tolerance) || !Object.values(s.tolerance).every((t) => num(t)))
      problems.push('sampling.tolerance: an object of metric: absolute change');
    else policies.sampling = sampling as unknown as SamplingSpec;
  }

  if (autonomy !== undefined && autonomy !== null) {
    if (!isPlainObject(autonomy)) problems.push('autonomy: must be an object of policy: degree');
    else
      for (const [policy, degree] of Object.entries(autonomy)) {
        if (!(LOCAL_POLICIES as readonly string[]).includes(policy))
          problems.push(`autonomy.${policy}: unknown device policy (${LOCAL_POLICIES.join(', ')})`);
        else if (!(LOCAL_DEGREES as readonly unknown[]).includes(degree))
          problems.push(`autonomy.${policy}: degree must be ${LOCAL_DEGREES.join(' | ')}`);
        else policies.autonomy[policy as LocalPolicy] = degree as LocalDegree;
      }
  }
  return { policies, problems };
}
