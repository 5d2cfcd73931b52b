// The decisions the hub makes itself, beside those its policies make: handing duties back to a
// device that returned (self-healing), and replacing a device with another, asked by a person or
// by a claim that names a slot (self-configuration). They run in the manager's turn, pass the
// degree of their property like any decision, and are recorded and explained the same way.

import {
  type AutonomySpec,
  type Decision,
  HUB_POLICIES,
  type ReplaceDeviceResponse,
  SLOT_LABEL,
} from '@homeostat/protocol';
import type { PolicyRecord } from '../store/store.js';
import { chooseDegree } from './degree.js';
import { DEFAULT_STABLE_INTERVALS, dueHandBacks, handBackDecision } from './hand-back.js';
import { newId } from './incidents.js';
import type { ManagerDeps } from './manager.js';
import { DEFAULT_COOLDOWN_MS, gate, transition } from './plan.js';
import { checkReplacement, planReplacement, replacementDecision } from './replace.js';

/** What these decisions need of the manager. */
export interface HubLoop {
  deps: ManagerDeps;
  autonomy: AutonomySpec | undefined;
  policies: readonly PolicyRecord[];
  /** Stores the decision and carries it out when it acts now. */
  carryOut(d: Decision): Promise<Decision>;
}

/** The hub's own decisions pass the degree of their property; no policy's rate limit or cooldown. */
function gateHub(loop: HubLoop, draft: Decision): Decision {
  const now = loop.deps.clock.now();
  const policy = { name: draft.policy, spec: {} };
  return gate(draft, { now, policy, autonomy: loop.autonomy, recent: [], localActions: [], triggerRule: null });
}

export async function requestReplacement(
  loop: HubLoop,
  old: string,
  neu: string,
  by: string,
  dryRun: boolean,
): Promise<ReplaceDeviceResponse> {
  const plan = await planFor(loop, old, neu, false);
  if (dryRun) return { dryRun, plan, decision: null };
  const now = loop.deps.clock.now();
  const decision = replacementDecision({
    id: newId('dec'),
    now,
    plan,
    trigger: {
      kind: 'request',
      summary: `a person asked to replace ${old} with ${neu}`,
      evidence: { by, old, new: neu },
    },
    degree: 'act',
    degreeSource: 'a person asked for it',
  });
  const asked = transition(decision, 'executing', now, 'asked by a person: acting now');
  return { dryRun, plan, decision: await loop.carryOut(asked) };
}

/** A claimed device naming a slot replaces the one device that holds it, if that one is retired or offline. */
export async function fillSlot(loop: HubLoop, name: string, group: string): Promise<void> {
  const { store, liveness, events } = loop.deps;
  const neu = await store.getDevice(name);
  const slot = neu?.labels[SLOT_LABEL];
  if (!neu || slot === undefined) return;
  const holders = (await store.listDevices()).filter(
    (d) => d.name !== name && d.labels[SLOT_LABEL] === slot && d.replacedBy === null,
  );
  const warn = (message: string) =>
    events.record({ device: name, type: 'autonomic', code: null, severity: 'warning', message, data: { slot } });
  const old = holders[0];
  if (holders.length !== 1 || !old) {
    if (holders.length > 1)
      warn(`slot ${slot} is held by ${holders.map((d) => d.name).join(', ')}: ${name} replaces none of them`);
    return;
  }
  const l = liveness.get(old.name);
  if (old.lifecycle !== 'retired' && l.state !== 'offline') {
    warn(`slot ${slot} is held by ${old.name}, which is ${l.state}: ${name} does not replace it`);
    return;
  }
  const plan = await planFor(loop, old.name, name, true);
  const choice = chooseDegree(loop.autonomy, 'self-configuration', neu, []);
  const why = old.lifecycle === 'retired' ? 'retired' : `offline since ${new Date(l.since ?? 0).toISOString()}`;
  const draft = replacementDecision({
    id: newId('dec'),
    now: loop.deps.clock.now(),
    plan,
    trigger: {
      kind: 'enrollment',
      summary: `${name} was claimed through enrollment group ${group} for slot ${slot}, held by ${old.name} (${why})`,
      evidence: { group, slot, old: old.name, lifecycle: old.lifecycle, liveness: l.state },
    },
    degree: choice.degree,
    degreeSource: choice.source,
  });
  await loop.carryOut(gateHub(loop, draft));
}

async function planFor(loop: HubLoop, oldName: string, newName: string, allowRetired: boolean) {
  const { store } = loop.deps;
  const [old, neu] = await Promise.all([store.getDevice(oldName), store.getDevice(newName)]);
  checkReplacement(oldName, newName, old, neu, allowRetired);
  const [fleet, handOvers, incidents, awaiting] = await Promise.all([
    store.listDevices(),
    store.listHandOvers({ device: oldName, state: 'active' }),
    store.listIncidents({ device: oldName, state: 'open', limit: 1000 }),
    store.listDecisions({ device: oldName, states: ['awaiting-approval'], limit: 1000 }),
  ]);
  return planReplacement({ old, neu: neu as NonNullable<typeof neu>, fleet, handOvers, incidents, awaiting });
}

/** Devices back and stable get their duties back; their incident resolves when nothing else is wrong. */
export async function handBackDue(loop: HubLoop, now: number): Promise<void> {
  const { store, liveness } = loop.deps;
  const active = await store.listHandOvers({ state: 'active' });
  if (active.length === 0) return;
  const due = dueHandBacks({
    now,
    active,
    liveness: (device) => liveness.get(device),
    // Hold-down: a hand-over stands at least its policy's cooldown, so a flapping device does
    // not swing its duties back and forth faster than a new hand-over could be decided.
    holdDownMs: (h) => loop.policies.find((p) => p.name === h.policy)?.spec.cooldownMs ?? DEFAULT_COOLDOWN_MS,
    stableIntervals: loop.deps.stableIntervals ?? DEFAULT_STABLE_INTERVALS,
  });
  for (const one of due) {
    const record = await store.getDevice(one.device);
    const original = one.handOvers[0] ? await store.getDecision(one.handOvers[0].decision) : undefined;
    const draft = handBackDecision({
      id: newId('dec'),
      now,
      due: one,
      labels: record?.labels ?? {},
      autonomy: loop.autonomy,
      incident: original?.incident ?? null,
    });
    for (const h of one.handOvers) await store.saveHandOver({ ...h, returning: draft.id });
    await settleHandBack(loop.deps, await loop.carryOut(gateHub(loop, draft)));
  }
}

/**
 * After a hand-back decision is made, and again once it is carried out (at once, or when a
 * person approves it): its incident's timeline tells it, and the incident resolves when nothing
 * else is wrong.
 */
export async function settleHandBack(deps: Pick<ManagerDeps, 'incidents'>, d: Decision): Promise<void> {
  if (d.policy !== HUB_POLICIES.handBack || d.incident === null || d.trigger.device === null) return;
  const { incidents } = deps;
  const device = d.trigger.device;
  const done = d.actions.filter((a) => a.state === 'done').length;
  await incidents.note(
    d.incident,
    `${d.id}: ${device} is back and stable; ${done} of ${d.actions.length} duties handed back (${d.state})`,
    d.id,
  );
  if (done === 0 && d.actions.length > 0) return;
  const outcome = await incidents.resolveIfClear(
    d.incident,
    `${device} is back and its duties were handed back (decision ${d.id}); nothing else is wrong`,
  );
  if (!outcome.resolved) await incidents.note(d.incident, `still open: ${outcome.reason}`);
}
