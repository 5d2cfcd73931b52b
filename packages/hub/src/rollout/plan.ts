// The rollout planner: from a rollout's strategy and where each targeted device stands, the next
// actions, as data. Pure: the rollout controller reads the world, calls this, and carries the
// actions out; the tests read the plans.
//
// A rollout moves devices in waves: a small canary first, then batches growing to the whole
// selection, never more than `maxUnavailable` devices updating at once nor more update starts per
// minute than the rate allows, and only inside a maintenance window when there are windows. A
// device that does not report within its timeout has failed (a bricked device never reports:
// silence must not stall or pass a rollout). Between waves the gates must hold: the success rate
// of what finished, and the updated devices' behaviour against those not yet updated. The abort
// criterion is checked at every step, mid-wave too: enough failures after a minimum number of
// devices halts the rollout, and every device that took the new version is rolled back.

export type DeviceRolloutState = 'pending' | 'updating' | 'succeeded' | 'failed' | 'rolling-back' | 'rolled-back';

export interface RolloutDevice {
  name: string;
  state: DeviceRolloutState;
  /** The wave the device was put in when its update started; null while pending. */
  wave: number | null;
  /** When the state was entered, ms. */
  since: number;
}

export interface MaintenanceWindow {
  /** Days of the week it applies to, 0 = Sunday (UTC); all days when absent. */
  days?: number[];
  /** Minutes after midnight UTC, start inclusive, end exclusive; end < start spans midnight. */
  startMinute: number;
  endMinute: number;
}

/** A behaviour compared between the updated devices and those not yet updated. */
export interface BehaviourGate {
  /** e.g. `module-crashes`, `alarms`, or a telemetry metric; in the unit the controller measures it in. */
  signal: string;
  /** The updated cohort may be at most this many times the other's rate (plus `slack`). */
  maxRatio?: number;
  /** The updated cohort must be at least this many times the other's value (minus `slack`). */
  minRatio?: number;
  /** Absolute allowance, so a cohort at 0 is not failed for one event. Default 0.5 per device-hour. */
  slack?: number;
}

export interface RolloutStrategy {
  /** Devices in the first wave. */
  canary: number;
  /** Cumulative share of the devices updated after each later wave, ending at 1. */
  waves: number[];
  /** At most this many devices updating at once. */
  maxUnavailable: number;
  /** At most this many update starts per minute; unlimited when absent. */
  startsPerMinute?: number;
  /** A device that has not succeeded or failed within this long has failed, ms. */
  deviceTimeoutMs: number;
  /** Time after a wave finished before the next starts (behaviour to show), ms. */
  soakMs: number;
  maintenanceWindows?: MaintenanceWindow[];
  /** Gate: success rate of the finished devices, from 0 to 1. */
  minSuccessRate: number;
  behaviour?: BehaviourGate[];
  /** Abort: halt when failures reach this share of finished devices… */
  abortFailureRate: number;
  /** …once at least this many have finished. */
  abortMinDevices: number;
}

/**
 * Per signal, its rate (or mean value) in each cohort, measured by the controller, with the size
 * of each cohort it was measured on; absent when a cohort is empty.
 */
export type CohortRates = Record<
  string,
  { updated: number; notUpdated: number; updatedDevices?: number; notUpdatedDevices?: number }
>;

export type RolloutPhase = 'progressing' | 'paused' | 'halted' | 'complete';

export interface RolloutView {
  phase: RolloutPhase;
  /** Update starts in the last minute (for the rate limit). */
  startsLastMinute: number;
  /**
   * When the last wave's devices had all finished, ms; null while it runs, or when it has just
   * finished and the caller has not recorded it yet (the soak then starts now).
   */
  waveFinishedAt: number | null;
}

export type RolloutAction =
  | { kind: 'start'; device: string; wave: number }
  | { kind: 'time-out'; device: string; afterMs: number }
  | { kind: 'roll-back'; device: string }
  | { kind: 'halt'; reason: string; evidence: Record<string, number | string> }
  | { kind: 'complete' };

export interface RolloutPlan {
  actions: RolloutAction[];
  /** The wave now running (or about to), 0 = canary. */
  wave: number;
  /** Why nothing (more) starts now, when that is the case. */
  waiting: string | null;
}

const FINISHED: ReadonlySet<DeviceRolloutState> = new Set(['succeeded', 'failed', 'rolling-back', 'rolled-back']);
const TOOK_NEW: ReadonlySet<DeviceRolloutState> = new Set(['succeeded', 'updating']);

/** How many devices are updated (cumulatively) once wave `i` is done, for `n` devices. */
export function waveTarget(strategy: RolloutStrategy, n: number, i: number): number {
  if (i === 0) return Math.min(n, Math.max(1, strategy.canary));
  const share = strategy.waves[i - 1] ?? 1;
  return Math.min(n, Math.max(waveTarget(strategy, n, i - 1), Math.ceil(share * n)));
}

export function waveCount(strategy: RolloutStrategy): number {
  return 1 + strategy.waves.length;
}

export function inMaintenanceWindow(windows: readonly MaintenanceWindow[] | undefined, now: number): boolean {
  if (windows === undefined || windows.length === 0) return true;
  const date = new Date(now);
  const minute = date.getUTCHours() * 60 + date.getUTCMinutes();
  const day = date.getUTCDay();
  return windows.some((w) => {
    const spans = w.endMinute < w.startMinute;
    const inside = spans
      ? minute >= w.startMinute || minute < w.endMinute
      : minute >= w.startMinute && minute < w.endMinute;
    // A window spanning midnight belongs to the day it started on.
    const startDay = spans && minute < w.endMinute ? (day + 6) % 7 : day;
    return inside && (w.days === undefined || w.days.includes(startDay));
  });
}

export function planRollout(
  strategy: RolloutStrategy,
  view: RolloutView,
  devices: readonly RolloutDevice[],
  rates: CohortRates,
  now: number,
): RolloutPlan {
  const actions: RolloutAction[] = [];
  // Timeouts first: a silent device is a failed device for every rule below.
  const states = new Map(devices.map((d) => [d.name, d.state]));
  for (const d of devices) {
    if (d.state === 'updating' && now - d.since >= strategy.deviceTimeoutMs) {
      actions.push({ kind: 'time-out', device: d.name, afterMs: now - d.since });
      states.set(d.name, 'failed');
    }
  }
  const count = (pred: (s: DeviceRolloutState) => boolean) => [...states.values()].filter(pred).length;
  const finished = count((s) => FINISHED.has(s));
  const failed = count((s) => s === 'failed' || s === 'rolling-back' || s === 'rolled-back');
  const updating = count((s) => s === 'updating');
  const started = count((s) => s !== 'pending');
  const n = devices.length;
  const current = currentWave(strategy, n, started);

  if (view.phase === 'halted') return { actions, wave: current, waiting: 'halted' };
  if (view.phase === 'complete') return { actions, wave: current, waiting: 'complete' };

  const halt = (reason: string, evidence: Record<string, number | string>): RolloutPlan => {
    actions.push({ kind: 'halt', reason, evidence });
    for (const d of devices)
      if (TOOK_NEW.has(states.get(d.name) ?? d.state)) actions.push({ kind: 'roll-back', device: d.name });
    return { actions, wave: current, waiting: 'halted' };
  };

  // Abort, checked whenever enough have finished, mid-wave included.
  if (finished >= strategy.abortMinDevices && failed / finished >= strategy.abortFailureRate) {
    return halt(`${failed} of ${finished} finished devices failed (abort at ${pct(strategy.abortFailureRate)})`, {
      failed,
      finished,
      failureRate: round(failed / finished),
    });
  }

  const done = started === n && updating === 0;
  if (view.phase === 'paused' && !done) return { actions, wave: current, waiting: 'paused' };

  // The wave boundary: every started device finished, and the gates hold, and the soak is over.
  // The last wave has a boundary too: a rollout whose last wave fails the success gate is halted,
  // not complete (the abort rate alone would let a bad last wave through).
  const target = waveTarget(strategy, n, current);
  if (started >= target && updating > 0) return { actions, wave: current, waiting: `wave ${current} in progress` };
  let wave = current;
  if (started >= target) {
    if (finished > 0 && (finished - failed) / finished < strategy.minSuccessRate) {
      return halt(
        `success rate ${pct((finished - failed) / finished)} is under the gate of ${pct(strategy.minSuccessRate)}`,
        {
          succeeded: finished - failed,
          finished,
        },
      );
    }
    for (const gate of strategy.behaviour ?? []) {
      const r = rates[gate.signal];
      if (r === undefined) continue;
      const failed = behaviourFailure(gate, r);
      if (failed !== null) {
        return halt(
          `${gate.signal}: ${round(r.updated)} on updated devices against ${round(r.notUpdated)} on the others (${failed.bound})`,
          {
            signal: gate.signal,
            updated: round(r.updated),
            notUpdated: round(r.notUpdated),
            ...failed.evidence,
            ...(r.updatedDevices !== undefined ? { updatedDevices: r.updatedDevices } : {}),
            ...(r.notUpdatedDevices !== undefined ? { notUpdatedDevices: r.notUpdatedDevices } : {}),
          },
        );
      }
    }
    if (done) {
      actions.push({ kind: 'complete' });
      return { actions, wave: current, waiting: null };
    }
    // A wave that has just finished (here, or by the time-outs above) soaks from now.
    if (now - (view.waveFinishedAt ?? now) < strategy.soakMs) {
      return { actions, wave: current, waiting: `soaking after wave ${current}` };
    }
    // The next wave that adds devices (two waves can round to the same count on a small fleet).
    wave = current + 1;
    while (wave < waveCount(strategy) - 1 && waveTarget(strategy, n, wave) <= started) wave++;
  }

  if (!inMaintenanceWindow(strategy.maintenanceWindows, now)) {
    return { actions, wave, waiting: 'outside the maintenance windows' };
  }
  const limits: [string, number][] = [
    ['maxUnavailable reached', strategy.maxUnavailable - updating],
    [`wave ${wave} started`, waveTarget(strategy, n, wave) - started],
    [
      'rate limit',
      strategy.startsPerMinute === undefined
        ? Number.POSITIVE_INFINITY
        : strategy.startsPerMinute - view.startsLastMinute,
    ],
  ];
  const room = Math.min(...limits.map(([, r]) => r));
  let starts = 0;
  for (const d of devices) {
    if (starts >= room) break;
    if (states.get(d.name) !== 'pending') continue;
    actions.push({ kind: 'start', device: d.name, wave });
    starts++;
  }
  const waiting = starts === 0 ? (limits.find(([, r]) => r <= 0)?.[0] ?? null) : null;
  return { actions, wave, waiting };
}

/** The wave the started devices belong to: the first whose target is not yet reached. */
function currentWave(strategy: RolloutStrategy, n: number, started: number): number {
  const last = waveCount(strategy) - 1;
  for (let i = 0; i < last; i++) if (started <= waveTarget(strategy, n, i)) return i;
  return last;
}

/**
 * Whether the updated cohort fails a behaviour gate: above `maxRatio` times the others plus the
 * slack, or below `minRatio` times them minus the slack. Null when it passes.
 */
function behaviourFailure(
  gate: BehaviourGate,
  r: { updated: number; notUpdated: number },
): { bound: string; evidence: Record<string, number> } | null {
  const slack = gate.slack ?? 0.5;
  if (gate.maxRatio !== undefined) {
    const allowed = r.notUpdated * gate.maxRatio + slack;
    if (r.updated > allowed) return { bound: `at most ${round(allowed)}`, evidence: { allowed: round(allowed) } };
  }
  if (gate.minRatio !== undefined) {
    const required = r.notUpdated * gate.minRatio - slack;
    if (r.updated < required) return { bound: `at least ${round(required)}`, evidence: { required: round(required) } };
  }
  return null;
}

function pct(x: number): string {
  return `${Math.round(x * 1000) / 10} %`;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
