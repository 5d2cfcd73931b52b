// Plan, pure: from a policy, the signal that fired it and what the hub knows (the fleet's labels,
// the policy's recent decisions, the devices' own recent decisions, the autonomy settings), the
// decision to record: its actions resolved to devices, its degree and the state it starts in.
// Cooldowns and open decisions skip; rate limits and a device's own loop acting hold.

import {
  API_VERSION,
  type AutonomySpec,
  actsOnHub,
  type Decision,
  type DecisionAction,
  type DecisionActionKind,
  type DecisionState,
  matchesSelector,
  type Peer,
  type PolicyAction,
  type PolicySpec,
  parseSelector,
} from '@homeostat/protocol';
import { type DeviceFacts, describeSignal, type PartitionVerdict } from './analyze.js';
import { approvalOf, chooseDegree } from './degree.js';
import { explainDecision } from './explain.js';
import type { Signal } from './signals.js';

/** Default cooldown per policy and device, ms. */
export const DEFAULT_COOLDOWN_MS = 10 * 60_000;

/** States in which a decision is still under way: a new signal for it is not a new decision. */
export const OPEN_STATES: readonly DecisionState[] = ['awaiting-approval', 'approved', 'executing', 'held'];

/** States of a decision that acted (or is about to): what a rate limit counts. */
const ACTING_STATES: readonly DecisionState[] = [
  'approved',
  'executing',
  'succeeded',
  'failed',
  'verified',
  'escalated',
];

/** A decision the device took itself, as it reported it (an `action` event). */
export interface LocalAction {
  device: string;
  at: number;
  code: string | null;
  /** The rule module that took it, when it says. */
  rule: string | null;
}

export interface PlanInput {
  id: string;
  now: number;
  policy: { name: string; spec: PolicySpec };
  signal: Signal;
  device: DeviceFacts;
  /** Every device, for peers. */
  fleet: readonly DeviceFacts[];
  autonomy: AutonomySpec | undefined;
  /** This policy's recent decisions, any order. */
  recent: readonly Decision[];
  /** The recent local decisions of the devices the plan would act on. */
  localActions: readonly LocalAction[];
}

export type PlanOutcome = { kind: 'skip'; reason: string } | { kind: 'decision'; decision: Decision };

/** What gating a decision needs to know; `triggerRule` is the device rule that raised the trigger, if any. */
export type GateInput = Pick<PlanInput, 'now' | 'recent' | 'localActions' | 'autonomy'> & {
  policy: { name: string; spec: Pick<PolicySpec, 'rateLimit' | 'cooldownMs'> };
  triggerRule: string | null;
};

/** The decision a signal makes, gated: the whole Plan step. */
export function planDecision(input: PlanInput): PlanOutcome {
  const draft = draftDecision(input);
  if (draft.kind === 'skip') return draft;
  const { signal } = input;
  const triggerRule = signal.kind === 'event' && typeof signal.data.rule === 'string' ? signal.data.rule : null;
  return { kind: 'decision', decision: gate(draft.decision, { ...input, triggerRule }) };
}

/** Whether a decision is still under way (a hold without an end is final). */
export function isOpenDecision(d: Decision): boolean {
  if (d.state === 'held') return d.hold?.until != null;
  return OPEN_STATES.includes(d.state) || d.verification?.outcome === 'pending';
}

/** The decision before gating (state `proposed`, no history), or why there is none. */
export function draftDecision(input: PlanInput): PlanOutcome {
  const { now, policy, device, signal } = input;
  const spec = policy.spec;
  const mine = input.recent.filter((d) => d.policy === policy.name && d.trigger.device === device.name);
  const open = mine.find(isOpenDecision);
  if (open) return { kind: 'skip', reason: `decision ${open.id} for ${device.name} is still ${open.state}` };
  const cooldownMs = spec.cooldownMs ?? DEFAULT_COOLDOWN_MS;
  const last = mine.reduce<Decision | undefined>((a, d) => (a && a.createdAt >= d.createdAt ? a : d), undefined);
  if (last && now - last.createdAt < cooldownMs) {
    return { kind: 'skip', reason: `cooling down: decision ${last.id} was ${now - last.createdAt} ms ago` };
  }

  // A rollback acts on the module the trigger names, unless the policy names one.
  const actions = spec.plan
    .flatMap((a) => resolveAction(a, device, input.fleet))
    .map((a) =>
      a.action === 'rollback-module' && a.params.module === undefined && signal.kind === 'module-crash-loop'
        ? { ...a, params: { ...a.params, module: signal.module } }
        : a,
    );
  const choice = chooseDegree(
    input.autonomy,
    spec.property,
    device,
    spec.plan.map((a) => a.action),
  );
  const { summary, evidence } = describeSignal(signal, spec.trigger);
  const decision = proposed({
    id: input.id,
    policy: policy.name,
    property: spec.property,
    devices: [...new Set([device.name, ...actions.flatMap((a) => (a.device === null ? [] : [a.device]))])],
    createdAt: now,
    trigger: { kind: spec.trigger.kind, device: device.name, at: signal.at, summary, evidence },
    analysis: {
      symptom: spec.analysis.symptom,
      summary: spec.analysis.description ?? `${spec.analysis.symptom} on ${device.name}`,
    },
    degree: choice.degree,
    degreeSource: choice.source,
    actions,
  });
  return { kind: 'decision', decision };
}

/** A decision of a policy of scope hub: about no device, its actions on the hub (or an incident). */
export function draftHubDecision(input: {
  id: string;
  now: number;
  policy: { name: string; spec: PolicySpec };
  signal: Extract<Signal, { kind: 'hub' }>;
  autonomy: AutonomySpec | undefined;
  recent: readonly Decision[];
}): PlanOutcome {
  const { now, policy, signal } = input;
  const spec = policy.spec;
  const mine = input.recent.filter((d) => d.policy === policy.name);
  // Verifying alone does not block: a decision whose modes the hub no longer holds (it restarted)
  // is waiting for the symptom to clear, and the hub may need to act again meanwhile.
  const open = mine.find((d) => (isOpenDecision(d) && d.verification?.outcome !== 'pending') || holdsHubModes(d));
  if (open) return { kind: 'skip', reason: `decision ${open.id} is still ${open.state}` };
  const last = mine.reduce<Decision | undefined>((a, d) => (a && a.createdAt >= d.createdAt ? a : d), undefined);
  const cooldownMs = spec.cooldownMs ?? DEFAULT_COOLDOWN_MS;
  if (last && now - last.createdAt < cooldownMs) {
    return { kind: 'skip', reason: `cooling down: decision ${last.id} was ${now - last.createdAt} ms ago` };
  }
  const choice = chooseDegree(
    input.autonomy,
    spec.property,
    null,
    spec.plan.map((a) => a.action),
  );
  const { summary, evidence } = describeSignal(signal, spec.trigger);
  const actions: DecisionAction[] = spec.plan.map(({ action, ...params }) => ({
    action,
    device: null,
    params,
    state: 'planned',
    result: null,
    startedAt: null,
    finishedAt: null,
  }));
  const decision = proposed({
    id: input.id,
    policy: policy.name,
    property: spec.property,
    devices: [],
    createdAt: now,
    trigger: { kind: 'hub', device: null, at: signal.at, summary, evidence },
    analysis: {
      symptom: spec.analysis.symptom,
      summary: spec.analysis.description ?? `${spec.analysis.symptom} on the hub`,
    },
    degree: choice.degree,
    degreeSource: choice.source,
    actions,
  });
  return { kind: 'decision', decision };
}

/** What a new decision is made of; the rest starts empty. */
type DecisionParts = Pick<
  Decision,
  | 'id'
  | 'policy'
  | 'property'
  | 'devices'
  | 'createdAt'
  | 'trigger'
  | 'analysis'
  | 'degree'
  | 'degreeSource'
  | 'actions'
>;

/** A new decision, proposed, before gating: no approval, hold, verification or history yet. */
function proposed(parts: DecisionParts): Decision {
  return {
    apiVersion: API_VERSION,
    kind: 'Decision',
    ...parts,
    updatedAt: parts.createdAt,
    state: 'proposed',
    approval: null,
    hold: null,
    verification: null,
    incident: null,
    history: [],
    explanation: '',
  };
}

/** Hub actions of the decision carried out and not undone yet: the modes it holds. */
export function heldHubActions(d: Decision): DecisionAction[] {
  const undone = new Set(d.actions.filter((a) => a.params.undo === true).map((a) => a.action));
  return d.actions.filter(
    (a) => actsOnHub(a.action) && a.state === 'done' && a.params.undo !== true && !undone.has(a.action),
  );
}

export function holdsHubModes(d: Decision): boolean {
  return heldHubActions(d).length > 0;
}

/** An action as planned, not carried out yet. */
export function plannedAction(
  action: DecisionActionKind,
  device: string | null,
  params: Record<string, unknown>,
): DecisionAction {
  return { action, device, params, state: 'planned', result: null, startedAt: null, finishedAt: null };
}

/** A decision the hub makes itself (no policy fired it), before gating: state `proposed`. */
export function hubDecision(d: DecisionParts & Partial<Pick<Decision, 'incident' | 'follows'>>): Decision {
  return { ...proposed(d), follows: null, ...d };
}

/** The one held decision that stands for a site gone silent: no action on any of its devices. */
export function partitionDecision(input: {
  id: string;
  now: number;
  policy: { name: string; spec: PolicySpec };
  signal: Extract<Signal, { kind: 'liveness' }>;
  verdict: Extract<PartitionVerdict, { partition: true }>;
  autonomy: AutonomySpec | undefined;
  summary: string;
  reason: string;
}): Decision {
  const { now, policy, signal, verdict } = input;
  const choice = chooseDegree(input.autonomy, policy.spec.property, { name: signal.device, labels: {} }, []);
  const decision: Decision = {
    apiVersion: API_VERSION,
    kind: 'Decision',
    id: input.id,
    policy: policy.name,
    property: policy.spec.property,
    devices: verdict.silent,
    createdAt: now,
    updatedAt: now,
    trigger: {
      kind: 'liveness',
      device: signal.device,
      at: signal.at,
      summary: input.summary,
      evidence: {
        site: verdict.site,
        silent: verdict.silent,
        total: verdict.total,
        windowMs: verdict.windowMs,
        first: signal.evidence,
      },
    },
    analysis: {
      symptom: 'site-partition',
      summary: `devices of one site went silent together, so the cause is the site's network or power; policy ${policy.name} (${policy.spec.analysis.symptom}) is held for each of them`,
    },
    degree: choice.degree,
    degreeSource: choice.source,
    state: 'held',
    approval: null,
    hold: { reason: input.reason, until: null },
    actions: [],
    verification: null,
    incident: null,
    history: [],
    explanation: '',
  };
  return transition(decision, 'held', now, input.reason);
}

/**
 * The state a decision starts in (or resumes in after a hold): observe and recommend only
 * record; approve and act first pass the rate limit and wait for a device's own loop.
 */
export function gate(decision: Decision, input: GateInput): Decision {
  const { now } = input;
  const spec = input.policy.spec;
  if (decision.degree === 'observe' || decision.degree === 'recommend') {
    const note =
      decision.degree === 'observe'
        ? 'observe: recorded only, nothing proposed to anyone'
        : 'recommend: the plan is proposed; a person applies it';
    const actions = decision.actions.map((a) =>
      a.state === 'planned' && decision.degree === 'observe' ? { ...a, state: 'not-executed' as const } : a,
    );
    return transition({ ...decision, actions }, 'proposed', now, note);
  }
  if (spec.rateLimit) {
    const { max, perMs } = spec.rateLimit;
    const acted = input.recent.filter(
      (d) => d.id !== decision.id && d.createdAt > now - perMs && ACTING_STATES.includes(d.state),
    );
    if (acted.length >= max) {
      const reason = `rate limit: ${acted.length} decisions of ${input.policy.name} acted in the last ${perMs / 1000} s (at most ${max})`;
      return transition({ ...decision, hold: { reason, until: null } }, 'held', now, reason);
    }
  }
  const cooldownMs = spec.cooldownMs ?? DEFAULT_COOLDOWN_MS;
  const targets = new Set(decision.actions.flatMap((a) => (a.device === null ? [] : [a.device])));
  // The rule that raised the trigger reported its own decision too: that is not the device acting.
  const { triggerRule } = input;
  const local = input.localActions.filter(
    (l) => targets.has(l.device) && l.at > now - cooldownMs && (triggerRule === null || l.rule !== triggerRule),
  );
  if (local.length > 0) {
    const latest = local.reduce((a, l) => (l.at > a.at ? l : a));
    const until = latest.at + cooldownMs;
    const reason = `${latest.device} is acting on its own (${latest.code ?? 'action'}${latest.rule ? ` by ${latest.rule}` : ''} ${now - latest.at} ms ago): the fleet waits for the device's loop`;
    return transition({ ...decision, hold: { reason, until } }, 'held', now, reason);
  }
  if (decision.degree === 'approve') {
    const { deadlineMs, default: fallback } = approvalOf(input.autonomy);
    const approval = { deadline: now + deadlineMs, default: fallback, by: null, at: null, reason: null };
    return transition(
      { ...decision, approval, hold: null },
      'awaiting-approval',
      now,
      `waits for a person until ${new Date(approval.deadline).toISOString()}; then ${fallback}`,
    );
  }
  return transition({ ...decision, hold: null }, 'executing', now, 'act: acting now, reporting after');
}

/** The decision in a new state, with the step in its history and the explanation rewritten. */
export function transition(decision: Decision, state: DecisionState, now: number, note: string): Decision {
  const next: Decision = {
    ...decision,
    state,
    updatedAt: now,
    history: [...decision.history, { at: now, state, note }],
  };
  return { ...next, explanation: explainDecision(next) };
}

function resolveAction(a: PolicyAction, device: DeviceFacts, fleet: readonly DeviceFacts[]): DecisionAction[] {
  const base = { state: 'planned' as const, result: null, startedAt: null, finishedAt: null };
  switch (a.action) {
    case 'patch-desired':
    case 'send-command': {
      const { action, target, ...params } = a;
      if (target === undefined || target === 'device') return [{ ...base, action, device: device.name, params }];
      const peers = peersOf(target, device, fleet);
      if (peers.length === 0) return [noPeer(action, params, target, device)];
      return peers.map((p) => ({ ...base, action, device: p, params }));
    }
    case 'hand-over': {
      const peer = peersOf(a.to, device, fleet)[0];
      const params = { from: device.name, ...(a.keys ? { keys: a.keys } : {}) };
      if (peer === undefined) return [noPeer('hand-over', params, a.to, device)];
      return [{ ...base, action: 'hand-over', device: peer, params }];
    }
    default: {
      const { action, ...params } = a;
      return [{ ...base, action, device: device.name, params }];
    }
  }
}

function noPeer(
  action: DecisionAction['action'],
  params: Record<string, unknown>,
  peer: Peer,
  device: DeviceFacts,
): DecisionAction {
  return {
    action,
    device: null,
    params,
    state: 'skipped',
    result: `no peer of ${device.name}: ${describePeer(peer, device)} matches no device`,
    startedAt: null,
    finishedAt: null,
  };
}

export function describePeer(peer: Peer, device: DeviceFacts): string {
  const ways: string[] = [];
  if (peer.labelledFor !== undefined) ways.push(`${peer.labelledFor}=${device.name}`);
  if (peer.sameLabel !== undefined) ways.push(`${peer.sameLabel}=${device.labels[peer.sameLabel] ?? '(none)'}`);
  const narrowed = peer.selector !== undefined ? ` with ${peer.selector}` : '';
  return `${ways.join(' or ') || 'any device'}${narrowed}`;
}

/**
 * The peers of a device, in name order: those labelled for it (`labelledFor`), or when there are
 * none, those sharing its value of `sameLabel`; either narrowed by `selector`.
 */
export function peersOf(peer: Peer, device: DeviceFacts, fleet: readonly DeviceFacts[]): string[] {
  const parsed = peer.selector !== undefined ? parseSelector(peer.selector) : { terms: [] };
  if (!('terms' in parsed)) return [];
  const candidates = fleet.filter((d) => d.name !== device.name && matchesSelector(d.labels, parsed.terms));
  const pick = (match: (d: DeviceFacts) => boolean) =>
    candidates
      .filter(match)
      .map((d) => d.name)
      .sort();
  const { labelledFor, sameLabel } = peer;
  const labelled = labelledFor !== undefined ? pick((d) => d.labels[labelledFor] === device.name) : [];
  if (labelled.length > 0 || sameLabel === undefined) return labelled;
  const shared = device.labels[sameLabel];
  return shared === undefined ? [] : pick((d) => d.labels[sameLabel] === shared);
}
