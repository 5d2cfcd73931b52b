// The Decision the hub records each time a policy fires (trigger and evidence, analysis, plan,
// degree, actions and their results, verification, in plain language too), and the device
// replacement, a decision of the hub's own.

import { type Static, Type } from '@sinclair/typebox';
import { AnyObject, Literals, Millis, Nullable, Strict } from './autonomic-schema.js';
import { DEGREES, PROPERTIES } from './autonomy.js';
import { ACTION_KINDS, TRIGGER_KINDS, VERIFY_CHECKS } from './policies.js';
import { API_VERSION, Name } from './resources.js';

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

/** Identifiers of decisions: a prefix and 12 hex digits. */
export const DECISION_ID_PATTERN = '^dec-[0-9a-f]{12}$';
