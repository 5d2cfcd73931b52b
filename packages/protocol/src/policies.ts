// The fleet autonomic manager's Policy: a goal and how to keep it (scope, trigger, analysis, plan
// of actions, expected effect, cooldown and rate limit).

import { type Static, Type } from '@sinclair/typebox';
import { AnyObject, Duration, LabelKey, Literals, Strict } from './autonomic-schema.js';
import { PROPERTIES } from './autonomy.js';
import { EVENT_CODE_PATTERN } from './modules.js';
import { METRIC_PATTERN, NAME_PATTERN } from './names.js';
import { API_VERSION, Labels, Metadata, Name } from './resources.js';

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
