// Liveness rules, pure: from what was last seen of a device and the time now, which state it is
// in and which evidence decided it.

import type { EvidenceKind, LivenessState } from '@homeostat/protocol';

export interface LivenessEntry {
  state: LivenessState;
  since: number | null;
  lastSeen: number | null;
  /** The device's declared heartbeat interval, or the hub default. */
  heartbeatMs: number;
  evidence: { kind: EvidenceKind; at: number | null; detail: string };
}

export interface SilenceRule {
  suspectAfterIntervals: number;
  offlineAfterIntervals: number;
}

export type Observation =
  | { kind: 'heartbeat' | 'message' | 'connected'; at: number }
  | { kind: 'status-online'; at: number; heartbeatMs: number | null }
  | { kind: 'status-offline' | 'last-will' | 'disconnected'; at: number; detail: string };

/** The entry after an observation; a new object when anything changed, else the same one. */
export function observe(entry: LivenessEntry, o: Observation): LivenessEntry {
  switch (o.kind) {
    case 'heartbeat':
    case 'message':
    case 'connected':
      // The hot path (a heartbeat of an online device): updated in place, nothing allocated.
      if (entry.state === 'online') {
        entry.lastSeen = o.at;
        return entry;
      }
      return {
        ...entry,
        state: 'online',
        since: o.at,
        lastSeen: o.at,
        evidence: { kind: o.kind, at: o.at, detail: `${o.kind} received` },
      };
    case 'status-online': {
      const heartbeatMs = o.heartbeatMs ?? entry.heartbeatMs;
      return {
        ...entry,
        state: 'online',
        since: entry.state === 'online' ? entry.since : o.at,
        lastSeen: o.at,
        heartbeatMs,
        evidence: {
          kind: 'status-online',
          at: o.at,
          detail: `device announced itself online, heartbeat ${heartbeatMs} ms`,
        },
      };
    }
    default:
      if (entry.state === 'offline') return entry;
      return { ...entry, state: 'offline', since: o.at, evidence: { kind: o.kind, at: o.at, detail: o.detail } };
  }
}

/** What silence alone says at `now`: a new entry on a transition, else `null`. */
export function judgeSilence(entry: LivenessEntry, now: number, rule: SilenceRule): LivenessEntry | null {
  if ((entry.state !== 'online' && entry.state !== 'suspect') || entry.lastSeen === null) return null;
  const silence = now - entry.lastSeen;
  const intervals = silence / entry.heartbeatMs;
  const to =
    intervals > rule.offlineAfterIntervals
      ? 'offline'
      : entry.state === 'online' && intervals > rule.suspectAfterIntervals
        ? 'suspect'
        : null;
  if (to === null) return null;
  const detail = `nothing received for ${silence} ms (${intervals.toFixed(2)} heartbeat intervals of ${entry.heartbeatMs} ms)`;
  return { ...entry, state: to, since: now, evidence: { kind: 'heartbeat-missed', at: now, detail } };
}
