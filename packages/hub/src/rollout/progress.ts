// Where each device stands in one revision of a rollout, read from the world: its twin (reported
// `update` and `firmware`, desired `update`) and the revision's per-device records. Pure: the
// controller and the API both call it, so the status the API shows is the one the controller
// acts on.
//
// A device the selector matches is *excluded* when it already runs the version (`current`), runs
// a newer one (`ahead`: a device never installs an older version), has a `model` label the
// artifact does not target (`otherModel`), or is held by another rollout that is progressing or
// paused (`held`: a device has one desired `update`). The others are *eligible*: pending until
// started, then updating until the device reports the outcome (or times out).

import {
  behaviourKey,
  compareVersions,
  DesiredUpdate,
  isPlainObject,
  matchesSelector,
  parser,
  parseSelector,
  ReportedFirmware,
  ReportedUpdate,
  type RolloutCounts,
  type RolloutPhase,
  type RolloutStatus,
  type RolloutWave,
} from '@homeostat/protocol';
import type { DeviceRecord, RolloutDeviceRecord, RolloutRevisionRecord } from '../store/store.js';
import {
  type DeviceRolloutState,
  type RolloutDevice,
  type RolloutPlan,
  type RolloutStrategy,
  type RolloutView,
  waveCount,
  waveTarget,
} from './plan.js';
import { byName } from './rollout-index.js';

export const UPDATE_KEY = 'update';

const desiredUpdate = parser(DesiredUpdate);
const reportedUpdate = parser(ReportedUpdate);
const reportedFirmware = parser(ReportedFirmware);

/**
 * Each device record's parsed keys, parsed once: the controller keeps the same records from one
 * reconcile to the next (rollout-index.ts), so on a big fleet only the devices read again are
 * parsed again. A record is never changed in place (a change is a new record from the store).
 */
const parsedDesired = new WeakMap<DeviceRecord, DesiredUpdate | undefined>();
const parsedFirmware = new WeakMap<DeviceRecord, ReportedFirmware | undefined>();

function memo<T>(cache: WeakMap<DeviceRecord, T>, device: DeviceRecord, parse: () => T): T {
  if (cache.has(device)) return cache.get(device) as T;
  const value = parse();
  cache.set(device, value);
  return value;
}

/** The desired `update` of a device, when it holds a valid one. */
export function desiredUpdateOf(device: DeviceRecord): DesiredUpdate | undefined {
  const value = device.desired.state[UPDATE_KEY];
  if (value === undefined) return undefined;
  return memo(parsedDesired, device, () => {
    const parsed = desiredUpdate.parse(value);
    return parsed.ok ? parsed.value : undefined;
  });
}

/** The version a device reports it runs, if it reports one. */
export function firmwareOf(device: DeviceRecord): ReportedFirmware | undefined {
  return memo(parsedFirmware, device, () => {
    const parsed = reportedFirmware.parse(device.reported.state.firmware);
    return parsed.ok ? parsed.value : undefined;
  });
}

/** Reported `update`; a merge patch deletes null members, so absent nullable fields read as null. */
export function reportedUpdateOf(device: DeviceRecord): ReportedUpdate | undefined {
  const value = device.reported.state[UPDATE_KEY];
  if (!isPlainObject(value)) return undefined;
  const parsed = reportedUpdate.parse({ rollout: null, step: null, code: null, reason: null, ...value });
  return parsed.ok ? parsed.value : undefined;
}

export type Exclusion = 'current' | 'ahead' | 'otherModel' | 'held';

export interface Observed {
  /** The planner's input: eligible devices in name order. */
  devices: RolloutDevice[];
  /** Every record of the revision, with outcomes seen now. */
  rows: Map<string, RolloutDeviceRecord>;
  /** Records whose outcome was seen now: to save. */
  changed: RolloutDeviceRecord[];
  excluded: Record<Exclusion, string[]>;
  targeted: number;
}

export interface ObserveInput {
  rollout: string;
  revision: RolloutRevisionRecord;
  devices: readonly DeviceRecord[];
  records: readonly RolloutDeviceRecord[];
  /** Rollouts whose current revision is progressing or paused (they hold their devices). */
  active: ReadonlySet<string>;
  now: number;
  /** Timeouts count from here at the earliest: the hub cannot know what happened while it was down. */
  timeoutsFrom: number;
  /** The devices come in name order already (the controller's index keeps them so). */
  sorted?: boolean;
}

export function observe(input: ObserveInput): Observed {
  const { rollout, revision, now } = input;
  const { artifact } = revision.spec;
  const models = revision.manifest.signed.targetModels;
  const selector = parseSelector(revision.spec.selector);
  const terms = 'terms' in selector ? selector.terms : [];
  const rows = new Map(input.records.map((r) => [r.device, { ...r }]));
  const changed: RolloutDeviceRecord[] = [];
  const excluded: Record<Exclusion, string[]> = { current: [], ahead: [], otherModel: [], held: [] };
  const devices: RolloutDevice[] = [];
  let targeted = 0;
  const ordered = input.sorted === true ? input.devices : [...input.devices].sort((a, b) => byName(a.name, b.name));
  for (const d of ordered) {
    const row = rows.get(d.name);
    // A device started keeps its place even if its labels no longer match.
    if (row === undefined && !matchesSelector(d.labels, terms)) continue;
    targeted++;
    const fw = firmwareOf(d);
    const runs = fw !== undefined && fw.name === artifact.name ? fw.version : undefined;
    if (row === undefined) {
      const cmp = runs === undefined ? -1 : compareVersions(runs, artifact.version);
      const held = desiredUpdateOf(d)?.rollout;
      if (cmp === 0) excluded.current.push(d.name);
      else if (cmp > 0) excluded.ahead.push(d.name);
      else if (d.labels.model !== undefined && !models.includes(d.labels.model)) excluded.otherModel.push(d.name);
      else if (held !== undefined && held !== rollout && input.active.has(held)) excluded.held.push(d.name);
      else devices.push({ name: d.name, state: 'pending', wave: null, since: revision.createdAt });
      continue;
    }
    if (row.outcome === null) {
      const report = reportedUpdateOf(d);
      const ours =
        report !== undefined &&
        report.name === artifact.name &&
        report.version === artifact.version &&
        (report.rollout === null || report.rollout === rollout);
      if (runs === artifact.version || (ours && report.state === 'committed')) {
        Object.assign(row, { outcome: 'succeeded', outcomeAt: now });
        changed.push(row);
      } else if (ours && (report.state === 'refused' || report.state === 'rolled-back')) {
        Object.assign(row, {
          outcome: 'failed',
          outcomeAt: now,
          code: report.code ?? report.state,
          rolledBack: report.state === 'rolled-back',
        });
        changed.push(row);
      }
    } else if (row.outcome === 'succeeded' && row.rollbackRequestedAt !== null && !row.rolledBack) {
      // Asked to go back from the version it committed (a halt): done once it runs another.
      if (fw !== undefined && runs !== artifact.version) {
        Object.assign(row, { rolledBack: true });
        changed.push(row);
      }
    }
    const state: DeviceRolloutState =
      row.outcome === 'succeeded' && row.rolledBack
        ? 'rolled-back'
        : row.outcome !== null
          ? row.outcome
          : row.rollbackRequestedAt !== null
            ? 'rolling-back'
            : 'updating';
    const since = row.outcome !== null ? (row.outcomeAt ?? now) : Math.max(row.startedAt, input.timeoutsFrom);
    devices.push({ name: d.name, state, wave: row.wave, since });
  }
  return { devices, rows, changed, excluded, targeted };
}

/** The planner's strategy from a stored spec. */
export function strategyOf(revision: RolloutRevisionRecord): RolloutStrategy {
  const { strategy, gates, abort } = revision.spec;
  return {
    canary: strategy.canary,
    waves: strategy.waves,
    maxUnavailable: strategy.maxUnavailable,
    ...(strategy.startsPerMinute !== null ? { startsPerMinute: strategy.startsPerMinute } : {}),
    deviceTimeoutMs: strategy.deviceTimeoutMs,
    soakMs: strategy.soakMs,
    maintenanceWindows: strategy.maintenanceWindows,
    minSuccessRate: gates.minSuccessRate,
    behaviour: gates.behaviour.map((b) => ({
      signal: behaviourKey(b),
      ...(b.maxRatio !== undefined ? { maxRatio: b.maxRatio } : {}),
      ...(b.minRatio !== undefined ? { minRatio: b.minRatio } : {}),
      ...(b.slack !== undefined ? { slack: b.slack } : {}),
    })),
    abortFailureRate: abort.failureRate,
    abortMinDevices: abort.minDevices,
  };
}

/** What the planner needs of a revision besides its devices: its phase, the rate, the soak. */
export function plannerView(
  revision: RolloutRevisionRecord,
  records: Iterable<RolloutDeviceRecord>,
  now: number,
): RolloutView {
  let startsLastMinute = 0;
  for (const r of records) if (r.startedAt > now - 60_000) startsLastMinute++;
  return {
    phase: revision.phase === 'paused' ? 'paused' : 'progressing',
    startsLastMinute,
    waveFinishedAt: revision.waveFinishedAt,
  };
}

/** Phases after which a revision starts nothing and no longer holds its devices. */
export const FINISHED_PHASES: ReadonlySet<RolloutPhase> = new Set(['halted', 'complete', 'undone', 'superseded']);
/** Finished badly: devices that committed the version are stranded on it. */
const STRANDING_PHASES: ReadonlySet<RolloutPhase> = new Set(['halted', 'undone']);

export function countsOf(observed: Observed, phase: RolloutPhase): RolloutCounts {
  const by = (s: RolloutDevice['state']) => observed.devices.filter((d) => d.state === s).length;
  const records = [...observed.rows.values()];
  return {
    targeted: observed.targeted,
    eligible: observed.devices.length,
    pending: by('pending'),
    updating: by('updating') + by('rolling-back'),
    succeeded: by('succeeded'),
    failed: by('failed'),
    rolledBack: records.filter((r) => r.rolledBack).length,
    current: observed.excluded.current.length,
    ahead: observed.excluded.ahead.length,
    otherModel: observed.excluded.otherModel.length,
    held: observed.excluded.held.length,
    stranded: STRANDING_PHASES.has(phase)
      ? observed.devices.filter(
          (d) => d.state === 'succeeded' && observed.rows.get(d.name)?.rollbackRequestedAt == null,
        ).length
      : 0,
    rollbackRequested: records.filter(
      (r) => r.rollbackRequestedAt !== null && (r.outcome === null || (r.outcome === 'succeeded' && !r.rolledBack)),
    ).length,
  };
}

export function wavesOf(observed: Observed, strategy: RolloutStrategy): RolloutWave[] {
  const n = observed.devices.length;
  const records = [...observed.rows.values()];
  const state = new Map(observed.devices.map((d) => [d.name, d.state]));
  return Array.from({ length: waveCount(strategy) }, (_, index) => {
    const inWave = records.filter((r) => r.wave === index);
    const count = (s: RolloutDevice['state']) => inWave.filter((r) => state.get(r.device) === s).length;
    return {
      index,
      targeted: waveTarget(strategy, n, index) - (index === 0 ? 0 : waveTarget(strategy, n, index - 1)),
      started: inWave.length,
      updating: count('updating') + count('rolling-back'),
      succeeded: count('succeeded'),
      failed: count('failed'),
      rolledBack: inWave.filter((r) => r.rolledBack).length,
    };
  });
}

export function statusOf(
  revision: RolloutRevisionRecord,
  observed: Observed,
  plan: Pick<RolloutPlan, 'wave' | 'waiting'>,
): RolloutStatus {
  return {
    phase: revision.phase,
    revision: revision.revision,
    wave: plan.wave,
    waiting: FINISHED_PHASES.has(revision.phase) ? null : plan.waiting,
    counts: countsOf(observed, revision.phase),
    waves: wavesOf(observed, strategyOf(revision)),
    halt: revision.halt,
    startedAt: revision.createdAt,
    finishedAt: revision.finishedAt,
  };
}

/** What the level rule writes into one device's desired `update`: undefined removes it. */
export interface LevelWrite {
  device: string;
  update: DesiredUpdate | undefined;
}

/**
 * Devices whose desired `update` this rollout wrote and should now take back: one holding
 * another revision's artifact, or the current one's when that revision has finished badly.
 * Taking it back asks nothing of a device that never started, stops one that has not switched
 * yet, and leaves one on trial to its probe. A device that runs the version is left on it
 * (harmless), except after a halt when the signer made the version `revertible`: it is asked to
 * go back (`revert`) to the version it ran before, and the update is removed once it has.
 */
export function withdrawals(
  rollout: string,
  revision: RolloutRevisionRecord,
  devices: readonly DeviceRecord[],
): LevelWrite[] {
  const out: LevelWrite[] = [];
  const current = revision.spec.artifact.version;
  const revert = revision.phase === 'halted' && revision.manifest.signed.revertible === true;
  for (const d of devices) {
    const desired = desiredUpdateOf(d);
    if (desired === undefined || desired.rollout !== rollout) continue;
    const version = desired.manifest.signed.version;
    if (firmwareOf(d)?.version === version) {
      if (revert && version === current && desired.revert !== true) {
        out.push({ device: d.name, update: { manifest: revision.manifest, rollout, revert: true } });
      }
      continue;
    }
    if (version !== current || STRANDING_PHASES.has(revision.phase)) out.push({ device: d.name, update: undefined });
  }
  return out;
}
