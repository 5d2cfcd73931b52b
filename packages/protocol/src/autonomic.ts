// The fleet autonomic manager's resources: a Policy (a goal and how to keep it), the Decision the
// hub records each time a policy fires (trigger and evidence, analysis, plan, degree, actions and
// their results, verification, in plain language too), the Incident (or work order) it opens,
// and the AutonomySettings that say how far each self-management property may go on its own.

import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { EVENT_CODE_PATTERN } from './modules.js';
import { LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN, METRIC_PATTERN, NAME_PATTERN } from './names.js';
import { API_VERSION, Labels, Metadata, Name } from './resources.js';

const Strict = <T extends Record<string, TSchema>>(properties: T, description?: string) =>
  Type.Object(properties, { additionalProperties: false, ...(description ? { description } : {}) });
const Literals = <T extends string>(values: readonly T[], description?: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    description ? { description } : {},
  );
const AnyObject = Type.Record(Type.String(), Type.Unknown());
const Millis = Type.Integer({ minimum: 0, description: 'milliseconds since the Unix epoch' });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const LabelKey = Type.String({ pattern: LABEL_KEY_PATTERN });
const Duration = (description: string, min = 0, max = 30 * 86_400_000) =>
  Type.Integer({ minimum: min, maximum: max, description: `${description}, ms` });

export const PROPERTIES = ['self-healing', 'self-protection', 'self-optimization', 'self-configuration'] as const;
export type Property = (typeof PROPERTIES)[number];

/** How far the loop may go on its own, weakest first. */
export const DEGREES = ['observe', 'recommend', 'approve', 'act'] as const;
export type Degree = (typeof DEGREES)[number];

// ---- Policy ------------------------------------------------------------------------------

/** A scope: every device, the devices a label selector matches, named devices, or the hub itself. */
export const PolicyScope = Type.Union([
  Type.Literal('fleet'),
  Type.Literal('hub'),
  Strict({ selector: Type.String({ minLength: 1, description: 'e.g. model=th-100' }) }),
  Strict({ devices: Type.Array(Name, { minItems: 1, maxItems: 1000 }) }),
]);
export type PolicyScope = Static<typeof PolicyScope>;

export const SECURITY_SIGNALS = ['auth-failures', 'refused-messages', 'topic-violations'] as const;
export type SecuritySignal = (typeof SECURITY_SIGNALS)[number];

/** The trigger kinds a policy may name. */
export const TRIGGER_KINDS = ['liveness', 'event', 'security', 'module-crash-loop', 'hub', 'metric'] as const;

/** What a `metric` trigger takes of the values in its window. */
export const METRIC_STATS = ['last', 'avg', 'min', 'max', 'p95'] as const;
export type MetricStat = (typeof METRIC_STATS)[number];
/** A `metric` trigger's window by default, and at most, ms; it holds at most this many values per device. */
export const METRIC_WINDOW_DEFAULT_MS = 60_000;
export const METRIC_WINDOW_MAX_MS = 3_600_000;
export const METRIC_WINDOW_MAX_VALUES = 1000;

/** The threshold of a trigger on a number: exactly one of above and below, with hysteresis and a hold time. */
const Threshold = {
  above: Type.Optional(Type.Number({ description: 'fires when the value goes over this' })),
  below: Type.Optional(Type.Number({ description: 'fires when the value goes under this' })),
  clearAt: Type.Optional(
    Type.Number({
      description:
        'the symptom clears only past this value, back on the safe side of the threshold (hysteresis); default the threshold',
    }),
  ),
  forMs: Type.Optional(Duration('the value stays past the threshold this long before it fires (default 0)')),
};

/**
 * What the hub samples about itself, for policies of scope `hub`: the store's used size against
 * its budget (a ratio, 1 = full) and in bytes, the free disk under the data directory, the
 * readings waiting for the ingest writer and the age of its write in progress (or the duration of
 * its last one), and the controllers' queues: keys waiting, and the age of the oldest.
 */
export const HUB_METRICS = [
  'store-budget-ratio',
  'store-bytes',
  'disk-free-bytes',
  'ingest-backlog',
  'ingest-write-ms',
  'controller-queue-depth',
  'controller-lag-ms',
] as const;
export type HubMetric = (typeof HUB_METRICS)[number];

/** Work of the hub that can wait: what a `shed-work` action pauses while the hub is short. */
export const SHEDDABLE_WORK = ['hub-placement', 'controller-resync'] as const;
export type SheddableWork = (typeof SHEDDABLE_WORK)[number];

export const Trigger = Type.Union([
  Strict(
    {
      kind: Type.Literal('liveness'),
      state: Literals(['suspect', 'offline'] as const),
      forIntervals: Type.Optional(
        Type.Number({ minimum: 0, maximum: 1000, description: 'held this many heartbeat intervals (default 0)' }),
      ),
    },
    'the device entered this liveness state and stayed in it',
  ),
  Strict(
    {
      kind: Type.Literal('event'),
      type: Type.Optional(Literals(['alarm', 'action', 'log', 'command-result'] as const)),
      code: Type.String({ pattern: EVENT_CODE_PATTERN }),
    },
    'the device reported an event with this code (type command-result: a command failed with this error code)',
  ),
  Strict(
    {
      kind: Type.Literal('security'),
      signal: Literals(SECURITY_SIGNALS),
      atLeast: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
      withinMs: Type.Optional(Duration('the window the count is taken over (default 60000)', 1000, 3_600_000)),
    },
    'the hub refused this device this many times within the window',
  ),
  Strict(
    {
      kind: Type.Literal('module-crash-loop'),
      module: Type.Optional(Type.String({ pattern: NAME_PATTERN })),
    },
    'a module reported in state crash-loop, or an event MODULE_CRASH_LOOP',
  ),
  Strict(
    {
      kind: Type.Literal('hub'),
      metric: Literals(HUB_METRICS),
      ...Threshold,
    },
    'a metric the hub samples about itself (scope hub): exactly one of above and below',
  ),
  Strict(
    {
      kind: Type.Literal('metric'),
      metric: Type.String({ pattern: METRIC_PATTERN, description: "a metric of the device's telemetry" }),
      stat: Type.Optional(Literals(METRIC_STATS, 'what is taken of the values in the window (default last)')),
      windowMs: Type.Optional(
        Duration(
          `the window the stat is taken over (default ${METRIC_WINDOW_DEFAULT_MS}; at most the last ${METRIC_WINDOW_MAX_VALUES} values)`,
          1000,
          METRIC_WINDOW_MAX_MS,
        ),
      ),
      ...Threshold,
    },
    "a metric of the device's telemetry, a model's output included, past a threshold: exactly one of above and below",
  ),
]);
export type Trigger = Static<typeof Trigger>;

/**
 * Other devices than the one the trigger is about: those whose label `labelledFor` names it
 * (`backup-for: room-01-thermostat`), or when there are none, those that share its value of label
 * `sameLabel` (`room`); either narrowed by `selector`. A hand-over takes the first in name order.
 */
export const Peer = Strict({
  labelledFor: Type.Optional(LabelKey),
  sameLabel: Type.Optional(LabelKey),
  selector: Type.Optional(Type.String({ minLength: 1 })),
});
export type Peer = Static<typeof Peer>;

/** Where an action applies: the device the trigger is about, or its peers. */
export const ActionTarget = Type.Union([Type.Literal('device'), Peer]);
export type ActionTarget = Static<typeof ActionTarget>;

export const ACTION_KINDS = [
  'open-incident',
  'patch-desired',
  'send-command',
  'quarantine',
  'rotate-credentials',
  'work-order',
  'hand-over',
  'rollback-module',
  'tighten-retention',
  'backpressure',
  'shed-work',
] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

/**
 * Actions only the hub plans (never written in a policy): handing duties back to a device that
 * returned, and replacing a device with another.
 */
export const HUB_ACTION_KINDS = ['hand-back', 'replace-device'] as const;
export const DECISION_ACTION_KINDS = [...ACTION_KINDS, ...HUB_ACTION_KINDS] as const;
export type DecisionActionKind = (typeof DECISION_ACTION_KINDS)[number];

/**
 * What starts a decision: a policy's trigger, or for the hub's own decisions a device back and
 * stable (`recovery`), a person's request (`request`), or a claim through an enrollment group
 * that names a slot (`enrollment`).
 */
export const DECISION_TRIGGER_KINDS = [...TRIGGER_KINDS, 'recovery', 'request', 'enrollment'] as const;

/** The names the hub's own decisions carry as their policy; no Policy may take them. */
export const HUB_POLICIES = { handBack: 'hub-hand-back', replacement: 'hub-device-replacement' } as const;

/** Actions that take something away from a device: by default they wait for a person's approval. */
export const DESTRUCTIVE_ACTIONS: readonly ActionKind[] = ['quarantine', 'rotate-credentials', 'rollback-module'];

const Severity = Literals(['warning', 'critical'] as const);

export const PolicyAction = Type.Union([
  Strict({
    action: Type.Literal('open-incident'),
    severity: Type.Optional(Severity),
    title: Type.Optional(Type.String({ maxLength: 200 })),
  }),
  Strict({ action: Type.Literal('patch-desired'), target: Type.Optional(ActionTarget), patch: AnyObject }),
  Strict({
    action: Type.Literal('send-command'),
    target: Type.Optional(ActionTarget),
    command: Type.String({ pattern: '^[a-z][a-z0-9-]{0,63}$' }),
    args: Type.Optional(AnyObject),
    expiresInMs: Type.Optional(Duration('the command expires this long after it is sent', 1000, 86_400_000)),
  }),
  Strict({ action: Type.Literal('quarantine') }),
  Strict({ action: Type.Literal('rotate-credentials') }),
  Strict({
    action: Type.Literal('work-order'),
    title: Type.Optional(Type.String({ maxLength: 200 })),
    historyMs: Type.Optional(Duration('how much of the device history goes with it (default a day)', 60_000)),
  }),
  Strict({
    action: Type.Literal('hand-over'),
    to: Peer,
    keys: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 64 })),
  }),
  Strict({ action: Type.Literal('rollback-module'), module: Type.Optional(Type.String({ pattern: NAME_PATTERN })) }),
  Strict(
    {
      action: Type.Literal('tighten-retention'),
      rawMs: Duration(
        'raw readings are kept this long while the symptom lasts (rollups are kept as configured)',
        3_600_000,
      ),
    },
    'scope hub: shortens the retention of raw readings and prunes now; the configured retention returns when the symptom clears',
  ),
  Strict(
    {
      action: Type.Literal('backpressure'),
      maxHoldMs: Type.Optional(
        Duration(
          'longest a telemetry acknowledgement is held back (default 5000; under the MQTT keepalive)',
          100,
          60_000,
        ),
      ),
      admitBelow: Type.Optional(
        Type.Integer({
          minimum: 1,
          maximum: 10_000_000,
          description: 'held telemetry goes on once fewer readings than this wait for the writer (default 1000)',
        }),
      ),
    },
    'scope hub: telemetry acknowledgements wait while the ingest backlog is high, so devices keep their readings in their outboxes; events, alarms and the twin pass',
  ),
  Strict(
    { action: Type.Literal('shed-work'), work: Literals(SHEDDABLE_WORK) },
    "scope hub: pauses work that can wait (models placed in the hub; the controllers' periodic resync) until the symptom clears",
  ),
]);

/** Actions of policies of scope hub: they change the hub itself, never a device. */
export const ON_HUB_ACTIONS: readonly ActionKind[] = ['tighten-retention', 'backpressure', 'shed-work'];

/** Whether an action (of a policy or a decision) changes the hub itself. */
export function actsOnHub(kind: string): boolean {
  return (ON_HUB_ACTIONS as readonly string[]).includes(kind);
}
export type PolicyAction = Static<typeof PolicyAction>;

export const VERIFY_CHECKS = ['desired-applied', 'quiet', 'online', 'cleared'] as const;
export type VerifyCheck = (typeof VERIFY_CHECKS)[number];

export const PolicySpec = Strict({
  property: Literals(PROPERTIES),
  scope: PolicyScope,
  trigger: Trigger,
  analysis: Strict({
    symptom: Type.String({ pattern: NAME_PATTERN, description: 'the symptom this is, e.g. thermostat-silent' }),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
  }),
  plan: Type.Array(PolicyAction, { minItems: 1, maxItems: 16 }),
  verify: Type.Optional(
    Strict(
      {
        check: Literals(
          VERIFY_CHECKS,
          'desired-applied: every patched device applied its new desired state; quiet: the trigger did not fire again; online: the device is back; cleared (scope hub): the metric is back past its clearAt',
        ),
        withinMs: Duration('the effect must show within this time, or the loop escalates', 1000, 86_400_000),
      },
      'the expected effect of the plan',
    ),
  ),
  cooldownMs: Type.Optional(Duration('no second decision for the same device sooner (default 600000)')),
  rateLimit: Type.Optional(
    Strict({
      max: Type.Integer({ minimum: 1, maximum: 100_000 }),
      perMs: Duration('decisions that act, at most max per this window', 1000),
    }),
  ),
});
export type PolicySpec = Static<typeof PolicySpec>;

export const Policy = Type.Object({
  apiVersion: Type.Literal(API_VERSION),
  kind: Type.Literal('Policy'),
  metadata: Metadata,
  spec: PolicySpec,
});
export type Policy = Static<typeof Policy>;
export const PolicyList = Type.Object({ items: Type.Array(Policy) });

export const PutPolicyRequest = Strict({ labels: Type.Optional(Labels), spec: PolicySpec });
export type PutPolicyRequest = Static<typeof PutPolicyRequest>;

// ---- Decision ----------------------------------------------------------------------------

export const DECISION_STATES = [
  /** Recorded at degree observe or recommend: nothing is done by the hub. */
  'proposed',
  'awaiting-approval',
  'approved',
  'rejected',
  /** The approval deadline passed and the stated default was reject. */
  'expired',
  'executing',
  'succeeded',
  'failed',
  'verified',
  'escalated',
  /** Not acted on: a partition, a rate limit, or the device's own loop acting (`hold.reason`). */
  'held',
] as const;
export type DecisionState = (typeof DECISION_STATES)[number];

export const ACTION_STATES = ['planned', 'done', 'failed', 'skipped', 'not-executed'] as const;

export const DecisionAction = Type.Object({
  action: Literals(DECISION_ACTION_KINDS),
  /** The device it applies to, resolved when planned; null when it applies to no device. */
  device: Nullable(Type.String()),
  params: AnyObject,
  state: Literals(ACTION_STATES),
  result: Nullable(Type.String()),
  startedAt: Nullable(Millis),
  finishedAt: Nullable(Millis),
});
export type DecisionAction = Static<typeof DecisionAction>;

export const Decision = Type.Object({
  apiVersion: Type.Literal(API_VERSION),
  kind: Type.Literal('Decision'),
  id: Type.String(),
  policy: Type.String(),
  property: Literals(PROPERTIES),
  devices: Type.Array(Type.String()),
  createdAt: Millis,
  updatedAt: Millis,
  trigger: Type.Object({
    kind: Literals(DECISION_TRIGGER_KINDS),
    device: Nullable(Type.String()),
    at: Millis,
    summary: Type.String(),
    evidence: AnyObject,
  }),
  analysis: Type.Object({ symptom: Type.String(), summary: Type.String() }),
  degree: Literals(DEGREES),
  /** Why this degree: the autonomy rule that set it, or the default. */
  degreeSource: Type.String(),
  state: Literals(DECISION_STATES),
  approval: Nullable(
    Type.Object({
      deadline: Millis,
      default: Literals(['approve', 'reject'] as const),
      by: Nullable(Type.String()),
      at: Nullable(Millis),
      reason: Nullable(Type.String()),
    }),
  ),
  hold: Nullable(Type.Object({ reason: Type.String(), until: Nullable(Millis) })),
  actions: Type.Array(DecisionAction),
  verification: Nullable(
    Type.Object({
      check: Literals(VERIFY_CHECKS),
      deadline: Millis,
      outcome: Literals(['pending', 'verified', 'escalated'] as const),
      at: Nullable(Millis),
      detail: Nullable(Type.String()),
    }),
  ),
  incident: Nullable(Type.String()),
  /** The decision this one follows up: a hand-back names the hand-over it undoes. */
  follows: Type.Optional(Nullable(Type.String())),
  /** Every state the decision went through, with when and why. */
  history: Type.Array(Type.Object({ at: Millis, state: Literals(DECISION_STATES), note: Type.String() })),
  /** What the system did and why, in plain language. */
  explanation: Type.String(),
});
export type Decision = Static<typeof Decision>;
export const DecisionList = Type.Object({ items: Type.Array(Decision) });

export const DecisionsQuery = Type.Object({
  device: Type.Optional(Name),
  policy: Type.Optional(Name),
  state: Type.Optional(Literals(DECISION_STATES)),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
});
export type DecisionsQuery = Static<typeof DecisionsQuery>;

export const DecideRequest = Strict({ reason: Type.Optional(Type.String({ maxLength: 1000 })) });
export type DecideRequest = Static<typeof DecideRequest>;

// ---- Incident ----------------------------------------------------------------------------

export const Incident = Type.Object({
  apiVersion: Type.Literal(API_VERSION),
  kind: Type.Literal('Incident'),
  id: Type.String(),
  /** An incident is for the record; a work order asks a person to do something on site. */
  type: Literals(['incident', 'work-order'] as const),
  title: Type.String(),
  symptom: Type.String(),
  severity: Literals(['warning', 'critical'] as const),
  state: Literals(['open', 'resolved'] as const),
  devices: Type.Array(Type.String()),
  decisions: Type.Array(Type.String()),
  openedAt: Millis,
  updatedAt: Millis,
  resolvedAt: Nullable(Millis),
  timeline: Type.Array(Type.Object({ at: Millis, message: Type.String() })),
  /** Work orders: the device's recent history (events, liveness, twin) when it was written. */
  history: Nullable(AnyObject),
  /** Who resolved it (a token name, or `autonomic-loop`) and why. */
  resolution: Type.Optional(Nullable(Type.Object({ at: Millis, by: Type.String(), note: Type.String() }))),
});
export type Incident = Static<typeof Incident>;
export const IncidentList = Type.Object({ items: Type.Array(Incident) });
export type IncidentList = Static<typeof IncidentList>;
export const IncidentsQuery = Type.Object({
  device: Type.Optional(Name),
  state: Type.Optional(Literals(['open', 'resolved'] as const)),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
});
export type IncidentsQuery = Static<typeof IncidentsQuery>;

export const ResolveIncidentRequest = Strict({
  note: Type.String({ minLength: 1, maxLength: 2000, description: 'what was done, for the record' }),
});
export type ResolveIncidentRequest = Static<typeof ResolveIncidentRequest>;

/** Who resolves an incident when the loop does it itself. */
export const LOOP_RESOLVER = 'autonomic-loop';

// ---- Post-mortem -------------------------------------------------------------------------

export const POSTMORTEM_ENTRY_KINDS = [
  'onset',
  'detection',
  'decision',
  'action',
  'approval',
  'verification',
  'escalation',
  'hand-back',
  'note',
  'resolution',
] as const;

/** The blameless post-mortem the hub writes when an incident resolves: about the system, never a person. */
export const PostMortem = Type.Object({
  apiVersion: Type.Literal(API_VERSION),
  kind: Type.Literal('PostMortem'),
  incident: Type.String(),
  title: Type.String(),
  writtenAt: Millis,
  summary: Type.String(),
  impact: Type.Object({
    devices: Type.Array(Type.String()),
    severity: Literals(['warning', 'critical'] as const),
    startedAt: Millis,
    resolvedAt: Millis,
    durationMs: Type.Integer({ minimum: 0 }),
  }),
  /** From the onset (the last sign of health) to the first decision, the first action done, and the resolution, ms. */
  figures: Type.Object({
    timeToDetectMs: Nullable(Type.Integer({ minimum: 0 })),
    timeToMitigateMs: Nullable(Type.Integer({ minimum: 0 })),
    timeToResolveMs: Type.Integer({ minimum: 0 }),
  }),
  timeline: Type.Array(
    Type.Object({
      at: Millis,
      kind: Literals(POSTMORTEM_ENTRY_KINDS),
      decision: Nullable(Type.String()),
      message: Type.String(),
    }),
  ),
  wentWell: Type.Array(Type.String()),
  wentWrong: Type.Array(Type.String()),
  followUps: Type.Array(Type.Object({ id: Nullable(Type.String()), action: Type.String() })),
  resolution: Type.Object({ by: Literals(['a person', 'the autonomic loop'] as const), note: Type.String() }),
});
export type PostMortem = Static<typeof PostMortem>;

// ---- Autonomy ----------------------------------------------------------------------------

/** The scope of an autonomy rule; the most specific one that matches wins: device, site, fleet. */
export const AutonomyScope = Type.Union([
  Type.Literal('fleet'),
  Strict({ site: Type.String({ pattern: LABEL_VALUE_PATTERN, minLength: 1 }) }),
  Strict({ device: Name }),
]);
export type AutonomyScope = Static<typeof AutonomyScope>;

export const AutonomySpec = Strict({
  rules: Type.Array(
    Strict({
      scope: AutonomyScope,
      /** Absent: every property. A rule naming the property wins over one that does not, in the same scope. */
      property: Type.Optional(Literals(PROPERTIES)),
      degree: Literals(DEGREES),
    }),
    { maxItems: 1000 },
  ),
  approval: Type.Optional(
    Strict({
      deadlineMs: Type.Optional(Duration('how long a decision waits for a person (default 900000)', 1000)),
      default: Type.Optional(
        Literals(['approve', 'reject'] as const, 'what happens when nobody answers in time (default reject)'),
      ),
    }),
  ),
});
export type AutonomySpec = Static<typeof AutonomySpec>;

export const AutonomyRecord = Type.Object({
  property: Literals(PROPERTIES),
  degree: Literals(DEGREES),
  decisions: Type.Integer(),
  /** Carried out: succeeded, failed, verified or escalated. */
  acted: Type.Integer(),
  /** Rejected by a person, or expired unanswered. */
  overruled: Type.Integer(),
  escalated: Type.Integer(),
  held: Type.Integer(),
});
export type AutonomyRecord = Static<typeof AutonomyRecord>;

export const AutonomySettings = Type.Object({
  apiVersion: Type.Literal(API_VERSION),
  kind: Type.Literal('AutonomySettings'),
  spec: AutonomySpec,
  status: Type.Object({
    /** The fleet-wide degree of each property, before any site or device rule. */
    fleet: Type.Array(
      Type.Object({ property: Literals(PROPERTIES), degree: Literals(DEGREES), source: Type.String() }),
    ),
    record: Type.Array(AutonomyRecord),
  }),
});
export type AutonomySettings = Static<typeof AutonomySettings>;

export const PutAutonomyRequest = AutonomySpec;
export type PutAutonomyRequest = Static<typeof PutAutonomyRequest>;

/** Label keys the autonomic manager reads. */
export const SITE_LABEL = 'site';
/**
 * The place a device fills: a device claimed through an enrollment group whose template sets
 * `slot: X` replaces by itself the retired or offline device that has `slot: X`.
 */
export const SLOT_LABEL = 'slot';

// ---- Device replacement ------------------------------------------------------------------

export const ReplaceDeviceRequest = Strict({ with: Name });
export type ReplaceDeviceRequest = Static<typeof ReplaceDeviceRequest>;

/** What a replacement moves from the old device to the new one (the plan; a dry run stops here). */
export const ReplacementPlan = Type.Object({
  old: Type.String(),
  new: Type.String(),
  /** The labels the new device ends with (the old one's over its own). */
  labels: Type.Record(Type.String(), Type.String()),
  /** Keys of the old device's desired state the new one takes (never `modules`: deployments own them). */
  desiredKeys: Type.Array(Type.String()),
  /** Other devices whose labels name the old device (`backup-for: OLD`): they name the new one. */
  relabelled: Type.Array(Type.Object({ device: Type.String(), key: Type.String() })),
  /** Hand-overs the old device held for others, or others held for it, that move to the new one. */
  handOvers: Type.Array(Type.Object({ id: Type.String(), from: Type.String(), to: Type.String() })),
  /** Open incidents about the old device: the new one joins them. */
  incidents: Type.Array(Type.String()),
  /** Decisions waiting for a person that act on the old device: retargeted, or held when they were about its identity. */
  approvals: Type.Array(Type.Object({ id: Type.String(), change: Literals(['retarget', 'hold'] as const) })),
});
export type ReplacementPlan = Static<typeof ReplacementPlan>;

export const ReplaceDeviceResponse = Type.Object({
  dryRun: Type.Boolean(),
  plan: ReplacementPlan,
  /** The recorded self-configuration decision; null on a dry run. */
  decision: Nullable(Decision),
});
export type ReplaceDeviceResponse = Static<typeof ReplaceDeviceResponse>;

/** Identifiers of decisions and incidents: a prefix and 12 hex digits. */
export const DECISION_ID_PATTERN = '^dec-[0-9a-f]{12}$';
export const INCIDENT_ID_PATTERN = '^(inc|wo)-[0-9a-f]{12}$';
