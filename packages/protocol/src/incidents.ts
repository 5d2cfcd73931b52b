// The Incident (or work order) the autonomic manager opens, and the blameless post-mortem the hub
// writes when one resolves.

import { type Static, Type } from '@sinclair/typebox';
import { AnyObject, Literals, Millis, Nullable, Strict } from './autonomic-schema.js';
import { API_VERSION, Name } from './resources.js';

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

/** Identifiers of incidents and work orders: a prefix and 12 hex digits. */
export const INCIDENT_ID_PATTERN = '^(inc|wo)-[0-9a-f]{12}$';
