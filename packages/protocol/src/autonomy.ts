// The autonomic manager's self-management properties and degrees, and the AutonomySettings that
// say how far each property may go on its own, per fleet, site or device.

import { type Static, Type } from '@sinclair/typebox';
import { Duration, Literals, Strict } from './autonomic-schema.js';
import { LABEL_VALUE_PATTERN } from './names.js';
import { API_VERSION, Name } from './resources.js';

export const PROPERTIES = ['self-healing', 'self-protection', 'self-optimization', 'self-configuration'] as const;
export type Property = (typeof PROPERTIES)[number];

/** How far the loop may go on its own, weakest first. */
export const DEGREES = ['observe', 'recommend', 'approve', 'act'] as const;
export type Degree = (typeof DEGREES)[number];

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
