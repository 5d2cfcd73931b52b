// Hand-back: the duties the loop moved to other devices while one was silent (a hand-over, or a
// patch of a peer such as a heater put in its own safe mode) go back when that device returns.
// Each change is recorded as it is made, with what was there before; once the device has been
// online and stable for some heartbeats, and the hand-over has stood its hold-down time (its
// policy's cooldown), the hub records a hand-back decision and the peers return to what they did
// before. A device that flaps does not make the duties swing back and forth: each return starts
// the stability count again, and within the hold-down nothing moves.

import { type AutonomySpec, type Decision, type DecisionAction, HUB_POLICIES, jsonEqual } from '@homeostat/protocol';
import type { LivenessEntry } from '../model/liveness.js';
import type { HandOverRecord } from '../store/store.js';
import { chooseDegree } from './degree.js';
import type { ActionDeps, ActionOutcome } from './execute.js';
import { hubDecision, plannedAction } from './plan.js';

/** Heartbeat intervals a returned device must stay online before its duties go back. */
export const DEFAULT_STABLE_INTERVALS = 2;

type PatchDesired = (deps: ActionDeps, device: string, patch: Record<string, unknown>) => Promise<ActionOutcome>;

/** Runs the patch of a peer and, when it was carried out, records what it changed and what was there before. */
export async function recordHandOver(
  deps: ActionDeps,
  decision: Decision,
  action: DecisionAction,
  from: string,
  to: string,
  set: Record<string, unknown>,
  patch: () => Promise<ActionOutcome>,
): Promise<ActionOutcome> {
  const peer = await deps.store.getDevice(to);
  const state = peer?.desired.state ?? {};
  const before = Object.fromEntries(Object.keys(set).map((k) => [k, Object.hasOwn(state, k) ? state[k] : null]));
  const outcome = await patch();
  if (outcome.state !== 'done') return outcome;
  await deps.store.saveHandOver({
    id: `${decision.id}-${decision.actions.indexOf(action)}`,
    decision: decision.id,
    policy: decision.policy,
    from,
    to,
    set,
    before,
    state: 'active',
    createdAt: deps.clock.now(),
    returning: null,
    returnedAt: null,
  });
  return outcome;
}

/**
 * The `hand-back` executor: the peer's keys the hand-over set go back to what they were, unless
 * something else changed them since (those are left alone, and the result says so).
 */
export async function handBack(
  deps: ActionDeps,
  decision: Decision,
  action: DecisionAction,
  peer: string,
  patchDesired: PatchDesired,
): Promise<ActionOutcome> {
  const id = String(action.params.handOver);
  const h = (await deps.store.listHandOvers({ device: peer })).find((x) => x.id === id);
  if (!h) return { state: 'failed', result: `no hand-over ${id} held by ${peer}` };
  if (h.state === 'returned') return { state: 'skipped', result: `hand-over ${id} was handed back already` };
  const record = await deps.store.getDevice(peer);
  if (!record) return { state: 'failed', result: `no device named ${peer}` };
  const patch: Record<string, unknown> = {};
  const kept: string[] = [];
  for (const [key, value] of Object.entries(h.set)) {
    if (jsonEqual(record.desired.state[key], value)) patch[key] = h.before[key] ?? null;
    else kept.push(key);
  }
  const outcome =
    Object.keys(patch).length > 0
      ? await patchDesired(deps, peer, patch)
      : { state: 'done' as const, result: 'nothing left to undo' };
  if (outcome.state === 'done') {
    await deps.store.saveHandOver({ ...h, state: 'returned', returning: decision.id, returnedAt: deps.clock.now() });
  }
  const left = kept.length > 0 ? `; left alone, changed since the hand-over: ${kept.join(', ')}` : '';
  return {
    ...outcome,
    result: `${peer} back to what it did before ${h.from} went silent (${JSON.stringify(patch)}): ${outcome.result}${left}`,
  };
}

export interface DueHandBack {
  device: string;
  handOvers: HandOverRecord[];
  /** Since when the device has been online, and for how long it had to be. */
  since: number;
  stableMs: number;
}

/**
 * The devices whose duties may go back now, pure: online for `stableIntervals` heartbeats, and
 * each hand-over older than its hold-down. Hand-overs with a hand-back decided already are not
 * tried again, whatever became of it (a person who rejected it said no).
 */
export function dueHandBacks(input: {
  now: number;
  active: readonly HandOverRecord[];
  liveness: (device: string) => LivenessEntry;
  holdDownMs: (h: HandOverRecord) => number;
  stableIntervals: number;
}): DueHandBack[] {
  const byDevice = new Map<string, HandOverRecord[]>();
  for (const h of input.active) {
    if (h.state !== 'active' || h.returning !== null) continue;
    byDevice.set(h.from, [...(byDevice.get(h.from) ?? []), h]);
  }
  const due: DueHandBack[] = [];
  for (const [device, handOvers] of byDevice) {
    const l = input.liveness(device);
    if (l.state !== 'online' || l.since === null) continue;
    const stableMs = input.stableIntervals * l.heartbeatMs;
    if (input.now - l.since < stableMs) continue;
    const ready = handOvers.filter((h) => input.now - h.createdAt >= input.holdDownMs(h));
    if (ready.length > 0) due.push({ device, handOvers: ready, since: l.since, stableMs });
  }
  return due;
}

/** The hand-back decision for one returned device, before gating (state `proposed`), pure. */
export function handBackDecision(input: {
  id: string;
  now: number;
  due: DueHandBack;
  labels: Record<string, string>;
  autonomy: AutonomySpec | undefined;
  incident: string | null;
}): Decision {
  const { now, due } = input;
  const { device, handOvers } = due;
  const choice = chooseDegree(input.autonomy, 'self-healing', { name: device, labels: input.labels }, []);
  const iso = new Date(due.since).toISOString();
  const peers = [...new Set(handOvers.map((h) => h.to))];
  const actions = handOvers.map((h) =>
    plannedAction('hand-back', h.to, { handOver: h.id, from: device, keys: Object.keys(h.set), follows: h.decision }),
  );
  return hubDecision({
    id: input.id,
    policy: HUB_POLICIES.handBack,
    property: 'self-healing',
    devices: [device, ...peers],
    createdAt: now,
    trigger: {
      kind: 'recovery',
      device,
      at: now,
      summary: `${device} is back: online since ${iso}, stable for ${now - due.since} ms (at least ${due.stableMs} ms needed)`,
      evidence: { since: due.since, stableMs: due.stableMs, handOvers: handOvers.map((h) => h.id) },
    },
    analysis: {
      symptom: 'device-recovered',
      summary: `${device} can do its job again: the duties handed over while it was silent go back, and ${peers.join(', ')} return to what they did before`,
    },
    degree: choice.degree,
    degreeSource: choice.source,
    actions,
    incident: input.incident,
    follows: handOvers[0]?.decision ?? null,
  });
}
