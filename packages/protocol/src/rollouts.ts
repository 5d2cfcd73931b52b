// Rollouts: moving the devices of a selector to a pushed artifact version, in waves, with gates
// between waves and an abort criterion. Each apply of a new artifact version is a new revision
// of the rollout (numbered from 1), so `undo --to-revision N` can name an earlier one. The hub's
// rollout controller writes the artifact's signed manifest into each device's desired `update`
// (artifacts.ts) and reads back reported `update` and `firmware`. The CLI and the hub check
// manifests with the same function.

import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { VERSION_PATTERN } from './artifacts.js';
import { METRIC_PATTERN, NAME_PATTERN, parseSelector } from './names.js';
import { type Parsed, parser } from './parse.js';
import { API_VERSION, Labels, Metadata } from './resources.js';

const Millis = Type.Integer({ minimum: 0, description: 'milliseconds since the Unix epoch' });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Share = (description: string) => Type.Number({ minimum: 0, maximum: 1, description });
const Count = Type.Integer({ minimum: 0 });

export const MaintenanceWindow = Type.Object(
  {
    days: Type.Optional(
      Type.Array(Type.Integer({ minimum: 0, maximum: 6 }), {
        minItems: 1,
        maxItems: 7,
        description: 'days of the week, 0 = Sunday (UTC); every day when absent',
      }),
    ),
    startMinute: Type.Integer({ minimum: 0, maximum: 1439, description: 'minutes after midnight UTC, inclusive' }),
    endMinute: Type.Integer({
      minimum: 0,
      maximum: 1440,
      description: 'minutes after midnight UTC, exclusive; below startMinute spans midnight',
    }),
  },
  { additionalProperties: false },
);

export const RolloutStrategySpec = Type.Object(
  {
    canary: Type.Optional(Type.Integer({ minimum: 1, description: 'devices in the first wave; default 1' })),
    waves: Type.Optional(
      Type.Array(Type.Number({ exclusiveMinimum: 0, maximum: 1 }), {
        minItems: 1,
        maxItems: 20,
        description:
          'cumulative share of the devices updated after each wave after the canary, growing, ending at 1; default [0.1, 0.5, 1]',
      }),
    ),
    maxUnavailable: Type.Optional(
      Type.Integer({ minimum: 1, description: 'devices updating at once, at most; default 10' }),
    ),
    startsPerMinute: Type.Optional(
      Type.Integer({ minimum: 1, description: 'update starts per minute, at most; no limit when absent' }),
    ),
    deviceTimeoutMs: Type.Optional(
      Type.Integer({
        minimum: 1000,
        description:
          'a device that has neither committed nor failed this long after its start has failed; default 600000 (10 min)',
      }),
    ),
    soakMs: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'wait after a wave finished before the next starts; default 60000 (1 min)',
      }),
    ),
    maintenanceWindows: Type.Optional(Type.Array(MaintenanceWindow, { maxItems: 32 })),
  },
  { additionalProperties: false },
);
export type RolloutStrategySpec = Static<typeof RolloutStrategySpec>;

export const BEHAVIOUR_SIGNALS = ['module-crashes', 'alarms', 'metric'] as const;
export type BehaviourSignal = (typeof BEHAVIOUR_SIGNALS)[number];

export const BehaviourComparison = Type.Object(
  {
    /**
     * `module-crashes`: module restarts the device reports, per device; `alarms`: alarm events per
     * device-hour; `metric`: the mean of the telemetry metric named in `metric`.
     */
    signal: Type.Union(BEHAVIOUR_SIGNALS.map((s) => Type.Literal(s))),
    metric: Type.Optional(Type.String({ pattern: METRIC_PATTERN })),
    maxRatio: Type.Optional(
      Type.Number({
        minimum: 0,
        description: 'the updated devices may be at most this many times the not yet updated ones, plus slack',
      }),
    ),
    minRatio: Type.Optional(
      Type.Number({
        minimum: 0,
        description:
          'for a metric whose fall is the regression (a flow, a charge): the updated devices must be at least this many times the others, minus slack',
      }),
    ),
    slack: Type.Optional(Type.Number({ minimum: 0, description: 'absolute allowance on either side; default 0.5' })),
  },
  { additionalProperties: false },
);
export type BehaviourComparison = Static<typeof BehaviourComparison>;

export const RolloutSpec = Type.Object(
  {
    selector: Type.String({
      maxLength: 1024,
      description: 'label selector of the devices to update; empty: every device',
    }),
    artifact: Type.Object(
      { name: Type.String({ pattern: NAME_PATTERN }), version: Type.String({ pattern: VERSION_PATTERN }) },
      { additionalProperties: false, description: 'a pushed artifact' },
    ),
    strategy: Type.Optional(RolloutStrategySpec),
    gates: Type.Optional(
      Type.Object(
        {
          minSuccessRate: Type.Optional(
            Share('between waves, the share of finished devices that succeeded; default 0.9'),
          ),
          behaviour: Type.Optional(Type.Array(BehaviourComparison, { maxItems: 16 })),
        },
        { additionalProperties: false },
      ),
    ),
    abort: Type.Optional(
      Type.Object(
        {
          failureRate: Type.Optional(Share('halt when this share of the finished devices failed; default 0.5')),
          minDevices: Type.Optional(
            Type.Integer({ minimum: 1, description: '…once this many have finished; default 3' }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type RolloutSpec = Static<typeof RolloutSpec>;

/** A spec with every default filled in: what the hub stores and shows. */
export const RolloutSpecFull = Type.Object({
  selector: Type.String(),
  artifact: Type.Object({ name: Type.String(), version: Type.String() }),
  strategy: Type.Object({
    canary: Type.Integer(),
    waves: Type.Array(Type.Number()),
    maxUnavailable: Type.Integer(),
    startsPerMinute: Nullable(Type.Integer()),
    deviceTimeoutMs: Type.Integer(),
    soakMs: Type.Integer(),
    maintenanceWindows: Type.Array(MaintenanceWindow),
  }),
  gates: Type.Object({ minSuccessRate: Type.Number(), behaviour: Type.Array(BehaviourComparison) }),
  abort: Type.Object({ failureRate: Type.Number(), minDevices: Type.Integer() }),
});
export type RolloutSpecFull = Static<typeof RolloutSpecFull>;

/** PUT /rollouts/{name}: the whole rollout (apply is declarative). */
export const PutRolloutRequest = Type.Object(
  { labels: Type.Optional(Labels), spec: RolloutSpec },
  { additionalProperties: false },
);
export type PutRolloutRequest = Static<typeof PutRolloutRequest>;

export const UndoRolloutRequest = Type.Object(
  {
    toRevision: Type.Optional(
      Type.Integer({ minimum: 1, description: 'the revision whose artifact to target again; default the one before' }),
    ),
  },
  { additionalProperties: false },
);
export type UndoRolloutRequest = Static<typeof UndoRolloutRequest>;

/**
 * A revision's phase. `superseded`: a newer revision was applied; `undone`: `undo` replaced it.
 * Only `progressing` starts devices; only `progressing` and `paused` hold devices against
 * another rollout.
 */
export const ROLLOUT_PHASES = ['progressing', 'paused', 'halted', 'complete', 'undone', 'superseded'] as const;
export type RolloutPhase = (typeof ROLLOUT_PHASES)[number];
const Phase = Type.Union(ROLLOUT_PHASES.map((p) => Type.Literal(p)));

export const RolloutWave = Type.Object({
  index: Type.Integer({ description: '0 = the canary' }),
  /** Devices this wave adds, as planned from the devices eligible now. */
  targeted: Count,
  started: Count,
  updating: Count,
  succeeded: Count,
  failed: Count,
  /** Failed devices that reported they went back to their previous version by themselves. */
  rolledBack: Count,
});
export type RolloutWave = Static<typeof RolloutWave>;

export const RolloutHalt = Type.Object({
  at: Millis,
  revision: Type.Integer(),
  reason: Type.String(),
  evidence: Type.Record(Type.String(), Type.Union([Type.Number(), Type.String()])),
});
export type RolloutHalt = Static<typeof RolloutHalt>;

export const RolloutCounts = Type.Object({
  /** Devices the selector matches now (and devices it matched when they were started). */
  targeted: Count,
  /** Taking part: targeted minus the excluded below. */
  eligible: Count,
  pending: Count,
  updating: Count,
  succeeded: Count,
  failed: Count,
  rolledBack: Count,
  /** Already running this version before the rollout came to them. */
  current: Count,
  /** Running a newer version: a device never installs an older one. */
  ahead: Count,
  /** Their `model` label is not among the artifact's target models. */
  otherModel: Count,
  /** Held by another rollout that is progressing or paused. */
  held: Count,
  /**
   * Halted or undone revisions: devices that committed this version. They cannot be rolled back
   * (no downgrade); a higher, fixed version applied as a new revision moves them.
   */
  stranded: Count,
  /** Halted or undone revisions: devices still updating when the hub withdrew the update. */
  rollbackRequested: Count,
});
export type RolloutCounts = Static<typeof RolloutCounts>;

export const RolloutStatus = Type.Object({
  phase: Phase,
  revision: Type.Integer({ minimum: 1 }),
  /** The wave running (or about to), 0 = the canary. */
  wave: Type.Integer(),
  /** Why nothing starts now, when that is the case (`paused`, `soaking after wave 1`…). */
  waiting: Nullable(Type.String()),
  counts: RolloutCounts,
  waves: Type.Array(RolloutWave),
  halt: Nullable(RolloutHalt),
  startedAt: Millis,
  finishedAt: Nullable(Millis),
});
export type RolloutStatus = Static<typeof RolloutStatus>;

export const Rollout = Type.Object({
  apiVersion: Type.Literal(API_VERSION),
  kind: Type.Literal('Rollout'),
  metadata: Metadata,
  /** The current revision's spec. */
  spec: RolloutSpecFull,
  status: RolloutStatus,
});
export type Rollout = Static<typeof Rollout>;

export const RolloutList = Type.Object({ items: Type.Array(Rollout) });
export type RolloutList = Static<typeof RolloutList>;

export const RolloutRevision = Type.Object({
  revision: Type.Integer({ minimum: 1 }),
  artifact: Type.Object({ name: Type.String(), version: Type.String() }),
  phase: Phase,
  createdAt: Millis,
  finishedAt: Nullable(Millis),
  /** `undo`: the revision it went back to. */
  undoOf: Nullable(Type.Integer()),
  counts: Nullable(RolloutCounts),
  halt: Nullable(RolloutHalt),
});
export type RolloutRevision = Static<typeof RolloutRevision>;

export const RolloutHistory = Type.Object({ name: Type.String(), items: Type.Array(RolloutRevision) });
export type RolloutHistory = Static<typeof RolloutHistory>;

/** The answer to PUT /rollouts/{name}?dryRun=true: the waves and their devices, nothing stored. */
export const RolloutDryRun = Type.Object({
  rollout: Rollout,
  created: Type.Boolean(),
  /** Whether the apply makes a new revision (a new artifact version) or changes the current one. */
  newRevision: Type.Boolean(),
  waves: Type.Array(Type.Object({ index: Type.Integer(), devices: Type.Array(Type.String()) })),
  excluded: Type.Object({
    current: Type.Array(Type.String()),
    ahead: Type.Array(Type.String()),
    otherModel: Type.Array(Type.String()),
    held: Type.Array(Type.String()),
  }),
});
export type RolloutDryRun = Static<typeof RolloutDryRun>;

const rolloutSpec = parser(RolloutSpec);

/**
 * Checks a rollout spec completely: the schema, then what a schema cannot say: a selector that
 * parses, waves that grow and end at 1, a metric named for a `metric` comparison. Problems are
 * `path: message`, paths from the spec.
 */
export function parseRolloutSpec(value: unknown): Parsed<RolloutSpec> {
  const parsed = rolloutSpec.parse(value);
  if (!parsed.ok) return parsed;
  const errors: string[] = [];
  const spec = parsed.value;
  const selector = parseSelector(spec.selector);
  if ('errors' in selector) errors.push(...selector.errors.map((e) => `/selector: ${e.replace(/^selector: /, '')}`));
  const waves = spec.strategy?.waves;
  if (waves !== undefined) {
    waves.forEach((w, i) => {
      if (i > 0 && w <= (waves[i - 1] ?? 0)) errors.push(`/strategy/waves/${i}: must be above the wave before it`);
    });
    if (waves[waves.length - 1] !== 1)
      errors.push(`/strategy/waves/${waves.length - 1}: the last wave must be 1 (every device)`);
  }
  (spec.gates?.behaviour ?? []).forEach((b, i) => {
    if (b.signal === 'metric' && b.metric === undefined)
      errors.push(`/gates/behaviour/${i}/metric: name the metric to compare`);
    if (b.signal !== 'metric' && b.metric !== undefined)
      errors.push(`/gates/behaviour/${i}/metric: only for signal metric`);
    if (b.maxRatio === undefined && b.minRatio === undefined)
      errors.push(`/gates/behaviour/${i}: give maxRatio, minRatio or both`);
    // Fewer alarms or module crashes after an update is never the regression.
    if (b.signal !== 'metric' && b.minRatio !== undefined)
      errors.push(`/gates/behaviour/${i}/minRatio: only for signal metric`);
    if (b.maxRatio !== undefined && b.minRatio !== undefined && b.minRatio > b.maxRatio)
      errors.push(`/gates/behaviour/${i}/minRatio: above maxRatio, no value could pass`);
  });
  return errors.length > 0 ? { ok: false, errors } : parsed;
}

/** A rollout spec with its defaults filled in, as the hub stores and shows it. */
export function rolloutDefaults(spec: RolloutSpec): RolloutSpecFull {
  const s = spec.strategy ?? {};
  return {
    selector: spec.selector,
    artifact: { name: spec.artifact.name, version: spec.artifact.version },
    strategy: {
      canary: s.canary ?? 1,
      waves: s.waves ?? [0.1, 0.5, 1],
      maxUnavailable: s.maxUnavailable ?? 10,
      startsPerMinute: s.startsPerMinute ?? null,
      deviceTimeoutMs: s.deviceTimeoutMs ?? 600_000,
      soakMs: s.soakMs ?? 60_000,
      maintenanceWindows: s.maintenanceWindows ?? [],
    },
    gates: { minSuccessRate: spec.gates?.minSuccessRate ?? 0.9, behaviour: spec.gates?.behaviour ?? [] },
    abort: { failureRate: spec.abort?.failureRate ?? 0.5, minDevices: spec.abort?.minDevices ?? 3 },
  };
}

/** The planner's key for a behaviour comparison: `alarms`, `module-crashes`, `metric:NAME`. */
export function behaviourKey(b: Pick<BehaviourComparison, 'signal' | 'metric'>): string {
  return b.signal === 'metric' ? `metric:${b.metric ?? ''}` : b.signal;
}
