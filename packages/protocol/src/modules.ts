// Edge workloads: the modules a device runs, as the hub's deployment controller writes them into
// the device's desired state (`modules`) and as the agent reports them back (`modules` in the
// reported state). One schema per module kind; the agent's supervisor and the hub's controller
// both parse with these.

import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { TelemetrySettings } from './edge.js';
import { METRIC_PATTERN, NAME_PATTERN } from './names.js';

export const MODULE_KINDS = ['rule', 'aggregate', 'model', 'function', 'process'] as const;
export type ModuleKind = (typeof MODULE_KINDS)[number];

/** Actuator names as devices declare them in their capabilities (`heatingElement`, `drive`). */
export const ACTUATOR_PATTERN = '^[a-zA-Z][a-zA-Z0-9_.]{0,63}$';
/** Event codes a module raises: upper snake case, e.g. `BATTERY_LOW`. */
export const EVENT_CODE_PATTERN = '^[A-Z][A-Z0-9_]{0,63}$';

const Metric = Type.String({ pattern: METRIC_PATTERN });
const Duration = (description: string, max = 86_400_000) =>
  Type.Integer({ minimum: 0, maximum: max, description: `${description}, ms` });
const Strict = <T extends Record<string, TSchema>>(properties: T, description?: string) =>
  Type.Object(properties, { additionalProperties: false, ...(description ? { description } : {}) });

// ---- rule --------------------------------------------------------------------------------

export const WINDOW_STATS = ['avg', 'min', 'max', 'p95', 'count', 'last'] as const;
export type WindowStat = (typeof WINDOW_STATS)[number];

/** A number, or another stream plus an offset (e.g. the thermostat's own `setpoint` − 0.25). */
export const Operand = Type.Union([
  Type.Number(),
  Strict({ metric: Metric, offset: Type.Optional(Type.Number()) }, 'the latest value of another stream, plus offset'),
]);
export type Operand = Static<typeof Operand>;

/** One stream compared with bounds; `window` reads a statistic over the last sizeMs instead of the latest value. */
export const Comparison = Strict({
  metric: Metric,
  window: Type.Optional(
    Strict({
      sizeMs: Type.Integer({ minimum: 1000, maximum: 86_400_000 }),
      stat: Type.Union(WINDOW_STATS.map((s) => Type.Literal(s))),
    }),
  ),
  above: Type.Optional(Operand),
  below: Type.Optional(Operand),
  /** The comparison must hold continuously this long before it counts as true. */
  forMs: Type.Optional(Duration('held for')),
});
export type Comparison = Static<typeof Comparison>;

export type Condition = Comparison | { all: Condition[] } | { any: Condition[] } | { not: Condition };
export const Condition = Type.Recursive(
  (Self) =>
    Type.Union([
      Comparison,
      Strict({ all: Type.Array(Self, { minItems: 1, maxItems: 16 }) }),
      Strict({ any: Type.Array(Self, { minItems: 1, maxItems: 16 }) }),
      Strict({ not: Self }),
    ]),
  { $id: 'Condition' },
);

export const Action = Type.Union([
  Strict({
    actuate: Strict({
      actuator: Type.String({ pattern: ACTUATOR_PATTERN }),
      value: Type.Union([Type.Number(), Type.Boolean(), Type.String({ maxLength: 64 })]),
    }),
  }),
  Strict({
    raise: Strict({
      type: Type.Union([Type.Literal('alarm'), Type.Literal('action'), Type.Literal('log')]),
      code: Type.String({ pattern: EVENT_CODE_PATTERN }),
      severity: Type.Optional(Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')])),
      message: Type.String({ minLength: 1, maxLength: 512 }),
    }),
  }),
]);
export type Action = Static<typeof Action>;

/**
 * A latch with hysteresis: it activates when `when` holds and deactivates when `until` holds
 * (default: when `when` no longer holds), never sooner than the minimum times allow. The actions
 * run on each transition, and `onActivate` runs again at start when the latch starts active.
 */
export const RuleConfig = Strict({
  when: Condition,
  until: Type.Optional(Condition),
  minActiveMs: Type.Optional(Duration('shortest time active')),
  minInactiveMs: Type.Optional(Duration('shortest time inactive')),
  onActivate: Type.Array(Action, { maxItems: 16 }),
  onDeactivate: Type.Optional(Type.Array(Action, { maxItems: 16 })),
  /** A stream whose latest value is older than this counts as missing (the comparison is false). */
  staleAfterMs: Type.Optional(Duration('inputs stale after')),
});
export type RuleConfig = Static<typeof RuleConfig>;

// ---- model ---------------------------------------------------------------------------------

export const FEATURES = ['mean', 'rms', 'std', 'min', 'max', 'last'] as const;
export type Feature = (typeof FEATURES)[number];

export const ModelConfig = Strict({
  /** The ONNX file, content-addressed. */
  artifact: Strict({
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    size: Type.Integer({ minimum: 1, maximum: 256 * 1024 * 1024 }),
  }),
  /** The input vector: for each metric, in order, each feature over the window. */
  inputs: Strict({
    metrics: Type.Array(Metric, { minItems: 1, maxItems: 32 }),
    features: Type.Array(Type.Union(FEATURES.map((f) => Type.Literal(f))), { minItems: 1, maxItems: 8 }),
    windowMs: Type.Integer({ minimum: 1000, maximum: 86_400_000 }),
  }),
  /** The derived stream the first output is published as (rules read it; it goes upstream too). */
  output: Strict({ metric: Metric }),
  /** How often the model runs; default every new sample. */
  everyMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 86_400_000 })),
  requires: Type.Optional(
    Strict({
      executionProviders: Type.Optional(Type.Array(Type.String({ maxLength: 32 }), { maxItems: 8 })),
      memoryBytes: Type.Optional(Type.Integer({ minimum: 0 })),
    }),
  ),
  /** auto: on the device when it meets `requires`, else in the hub. */
  placement: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('edge'), Type.Literal('hub')])),
});
export type ModelConfig = Static<typeof ModelConfig>;

// ---- function and process ------------------------------------------------------------------

/**
 * JavaScript run in a worker thread: the source defines `handle(sample, state)` returning
 * `{ metrics?, events?, actuate? }` or nothing. Limits are enforced: a handler over its time is
 * stopped, a worker over its memory is killed, and either is a crash of the module.
 */
export const FunctionConfig = Strict({
  source: Type.String({ minLength: 1, maxLength: 64 * 1024 }),
  /** Streams the handler receives; default every stream. */
  metrics: Type.Optional(Type.Array(Metric, { maxItems: 64 })),
  timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 60_000, description: 'per call, ms; default 100' })),
  memoryMb: Type.Optional(Type.Integer({ minimum: 4, maximum: 1024, description: 'worker heap, MiB; default 32' })),
});
export type FunctionConfig = Static<typeof FunctionConfig>;

export const ProcessConfig = Strict({
  /** Must be on the agent's own allow-list of commands: a deployment cannot run anything else. */
  command: Type.String({ minLength: 1, maxLength: 1024 }),
  args: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 64 })),
  env: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Type.String())),
  /** After SIGTERM, SIGKILL after this long. Default 5000. */
  stopTimeoutMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 300_000 })),
});
export type ProcessConfig = Static<typeof ProcessConfig>;

// ---- the module ------------------------------------------------------------------------------

export const RestartPolicy = Strict({
  policy: Type.Optional(Type.Union([Type.Literal('always'), Type.Literal('on-failure'), Type.Literal('never')])),
  /** First restart delay, ms; doubles per crash up to maxBackoffMs. Default 100. */
  initialBackoffMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })),
  /** Default 30000. */
  maxBackoffMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })),
  /** This many crashes within crashLoopWindowMs is a crash loop. Defaults 3 and 60000. */
  crashLoopThreshold: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  crashLoopWindowMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 86_400_000 })),
});
export type RestartPolicy = Static<typeof RestartPolicy>;

export const HealthProbe = Strict({
  /** Default 5000. */
  periodMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 3_600_000 })),
  /** Default 1000. */
  timeoutMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 60_000 })),
  /** Consecutive failures that make the module unhealthy (it is then restarted). Default 3. */
  failureThreshold: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
});
export type HealthProbe = Static<typeof HealthProbe>;

/** What a module may touch; the agent denies the rest (or only records it, in audit mode). */
export const ModulePermissions = Strict({
  /** Streams it may read; default all. */
  metrics: Type.Optional(Type.Array(Metric, { maxItems: 64 })),
  /** Actuators it may drive; default none. */
  actuators: Type.Optional(Type.Array(Type.String({ pattern: ACTUATOR_PATTERN }), { maxItems: 32 })),
  /** Event codes it may raise; default all. */
  events: Type.Optional(Type.Array(Type.String({ pattern: EVENT_CODE_PATTERN }), { maxItems: 64 })),
  mode: Type.Optional(Type.Union([Type.Literal('enforce'), Type.Literal('audit')])),
});
export type ModulePermissions = Static<typeof ModulePermissions>;

const common = {
  name: Type.String({ pattern: NAME_PATTERN, maxLength: 63 }),
  restart: Type.Optional(RestartPolicy),
  health: Type.Optional(HealthProbe),
  permissions: Type.Optional(ModulePermissions),
};

export const ModuleSpec = Type.Union([
  Strict({ ...common, kind: Type.Literal('rule'), config: RuleConfig }),
  Strict({ ...common, kind: Type.Literal('aggregate'), config: TelemetrySettings }),
  Strict({ ...common, kind: Type.Literal('model'), config: ModelConfig }),
  Strict({ ...common, kind: Type.Literal('function'), config: FunctionConfig }),
  Strict({ ...common, kind: Type.Literal('process'), config: ProcessConfig }),
]);
export type ModuleSpec = Static<typeof ModuleSpec>;

/**
 * A module as the hub writes it into a device's desired state, under `modules.{name}`: the spec,
 * the deployment it comes from, and `rev`, a digest of the spec that the device echoes in its
 * report, so the hub tells "runs this version" from "runs an older one" without comparing specs.
 */
export const DesiredModule = Strict({
  rev: Type.String({ pattern: '^[0-9a-f]{8,64}$' }),
  deployment: Type.String({ pattern: NAME_PATTERN }),
  spec: ModuleSpec,
  /**
   * On this device only, the module was rolled back to this earlier version by an autonomic
   * decision: the rev its deployments name now (`from`) kept failing here. It holds until they
   * name another rev (a fix), which the device then runs.
   */
  rolledBack: Type.Optional(
    Strict({
      from: Type.String({ pattern: '^[0-9a-f]{8,64}$' }),
      decision: Type.String({ minLength: 1, maxLength: 64 }),
      at: Type.Integer({ minimum: 0 }),
    }),
  ),
});
export type DesiredModule = Static<typeof DesiredModule>;

export const MODULE_STATES = [
  /** Being started (or its model fetched and warmed up). */
  'starting',
  'running',
  /** Running but failing its health probe. */
  'unhealthy',
  /** Crashed; restarting after a delay. */
  'backoff',
  /** Crashed crashLoopThreshold times within the window; restarts continue at the longest delay. */
  'crash-loop',
  /** Crashed with restart policy `never` (or `on-failure` after a clean exit): stays down. */
  'stopped',
  /** The spec cannot run here: invalid, a kind or command this agent does not allow, a model it cannot load. */
  'refused',
] as const;
export type ModuleState = (typeof MODULE_STATES)[number];

/** `modules.{name}` in the reported state. */
export const ReportedModule = Type.Object({
  kind: Type.Union(MODULE_KINDS.map((k) => Type.Literal(k))),
  rev: Type.Union([Type.String(), Type.Null()]),
  state: Type.Union(MODULE_STATES.map((s) => Type.Literal(s))),
  since: Type.Integer({ minimum: 0 }),
  restarts: Type.Integer({ minimum: 0 }),
  lastError: Type.Union([Type.Object({ message: Type.String(), at: Type.Integer({ minimum: 0 }) }), Type.Null()]),
  /** model modules: where the model runs. */
  placement: Type.Optional(Type.Union([Type.Literal('edge'), Type.Literal('hub')])),
});
export type ReportedModule = Static<typeof ReportedModule>;
