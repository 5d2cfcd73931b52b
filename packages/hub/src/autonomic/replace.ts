// Device replacement (self-configuration): a new device takes the place of an old one. It
// inherits the old one's labels, its desired state (what people and policies set; `modules`
// still come from deployments through the labels; never credentials) and its duties: hand-overs
// held by or for it, its open incidents, the decisions waiting for a person that act on it.
// The old device is retired: a token nobody holds, its connection closed, no labels (nothing
// selects it any more), and it names its replacement; its history stays. The check and the plan
// are pure; the executor carries the plan out as one action of a recorded decision.

import { hashToken, newToken } from '@homeostat/kit';
import {
  DESTRUCTIVE_ACTIONS,
  type Decision,
  type DecisionAction,
  type Degree,
  HomeostatError,
  HUB_POLICIES,
  type ReplacementPlan,
  SLOT_LABEL,
} from '@homeostat/protocol';
import type { DeviceRecord, HandOverRecord } from '../store/store.js';
import type { ActionDeps, ActionOutcome } from './execute.js';
import { hubDecision, plannedAction, transition } from './plan.js';

/** Keys of the desired state a replacement does not copy: deployments own `modules`. */
const NOT_INHERITED = new Set(['modules']);

/**
 * Throws the precise refusal, or returns. `allowRetired`: a claim may fill the slot of a device
 * retired without a replacement; a person's request may not replace a retired device.
 */
export function checkReplacement(
  oldName: string,
  newName: string,
  old: DeviceRecord | undefined,
  neu: DeviceRecord | undefined,
  allowRetired = false,
): asserts old is DeviceRecord {
  if (oldName === newName) throw new HomeostatError('ERR_REPLACE_SELF', `${oldName} cannot replace itself`);
  if (!old) throw new HomeostatError('ERR_DEVICE_NOT_FOUND', `no device named ${oldName}`);
  if (!neu) throw new HomeostatError('ERR_DEVICE_NOT_FOUND', `no device named ${newName}`);
  if (old.lifecycle === 'retired' && (!allowRetired || old.replacedBy !== null)) {
    const by = old.replacedBy === null ? '' : ` (replaced by ${old.replacedBy})`;
    throw new HomeostatError('ERR_DEVICE_RETIRED', `${oldName} is retired already${by}`);
  }
  if (neu.lifecycle === 'retired') throw new HomeostatError('ERR_DEVICE_RETIRED', `${newName} is retired`);
  const slot = neu.labels[SLOT_LABEL];
  if (slot !== undefined && slot !== old.labels[SLOT_LABEL]) {
    throw new HomeostatError(
      'ERR_REPLACE_IN_SERVICE',
      `${newName} is in service in slot ${slot}${old.labels[SLOT_LABEL] ? `, not ${old.labels[SLOT_LABEL]}` : ''}`,
    );
  }
}

/** What moves from `old` to `neu`, pure. */
export function planReplacement(input: {
  old: DeviceRecord;
  neu: DeviceRecord;
  fleet: readonly DeviceRecord[];
  handOvers: readonly HandOverRecord[];
  incidents: readonly { id: string }[];
  awaiting: readonly Decision[];
}): ReplacementPlan {
  const { old, neu } = input;
  const relabelled = input.fleet
    .filter((d) => d.name !== old.name && d.name !== neu.name && d.lifecycle !== 'retired')
    .flatMap((d) =>
      Object.entries(d.labels)
        .filter(([, v]) => v === old.name)
        .map(([key]) => ({ device: d.name, key })),
    );
  return {
    old: old.name,
    new: neu.name,
    labels: { ...neu.labels, ...old.labels },
    desiredKeys: Object.keys(old.desired.state)
      .filter((k) => !NOT_INHERITED.has(k))
      .sort(),
    relabelled,
    handOvers: input.handOvers
      .filter((h) => h.state === 'active')
      .map((h) => ({
        id: h.id,
        from: h.from === old.name ? neu.name : h.from,
        to: h.to === old.name ? neu.name : h.to,
      })),
    incidents: input.incidents.map((i) => i.id),
    approvals: input.awaiting
      .filter((d) => d.state === 'awaiting-approval' && d.actions.some((a) => a.device === old.name))
      .map((d) => ({ id: d.id, change: aboutIdentity(d) ? ('hold' as const) : ('retarget' as const) })),
  };
}

/** A decision about the old device's own identity (its credentials, its conduct) has nothing left to act on. */
function aboutIdentity(d: Decision): boolean {
  return d.trigger.kind === 'security' || d.actions.some((a) => DESTRUCTIVE_ACTIONS.includes(a.action as never));
}

/** The recorded decision of a replacement, before it is carried out (state `proposed`). */
export function replacementDecision(input: {
  id: string;
  now: number;
  plan: ReplacementPlan;
  trigger: { kind: 'request' | 'enrollment'; summary: string; evidence: Record<string, unknown> };
  degree: Degree;
  degreeSource: string;
}): Decision {
  const { plan, now } = input;
  const moved = [
    `labels ${Object.keys(plan.labels).length}`,
    `desired keys ${plan.desiredKeys.join(', ') || 'none'}`,
    `${plan.handOvers.length} hand-over(s)`,
    `${plan.incidents.length} open incident(s)`,
    `${plan.approvals.length} waiting decision(s)`,
  ].join('; ');
  return hubDecision({
    id: input.id,
    policy: HUB_POLICIES.replacement,
    property: 'self-configuration',
    devices: [plan.old, plan.new],
    createdAt: now,
    trigger: { ...input.trigger, device: plan.old, at: now },
    analysis: {
      symptom: 'device-replaced',
      summary: `${plan.new} takes the place of ${plan.old} (${moved}); ${plan.old} is retired with its history kept`,
    },
    degree: input.degree,
    degreeSource: input.degreeSource,
    actions: [plannedAction('replace-device', plan.new, { from: plan.old, plan })],
  });
}

/** The `replace-device` executor: the plan carried out, the old device retired last. */
export async function replaceDevice(
  deps: ActionDeps,
  decision: Decision,
  action: DecisionAction,
): Promise<ActionOutcome> {
  const plan = action.params.plan as ReplacementPlan;
  const [old, neu] = await Promise.all([deps.store.getDevice(plan.old), deps.store.getDevice(plan.new)]);
  checkReplacement(plan.old, plan.new, old, neu, true);
  const now = deps.clock.now();
  const desired = Object.fromEntries(
    plan.desiredKeys.flatMap((k) => (k in old.desired.state ? [[k, old.desired.state[k]]] : [])),
  );
  await deps.devices.put(plan.new, { labels: plan.labels, desired: { ...neu?.desired.state, ...desired } });
  for (const { device, key } of plan.relabelled) {
    const d = await deps.store.getDevice(device);
    if (d?.labels[key] === plan.old) await deps.devices.put(device, { labels: { ...d.labels, [key]: plan.new } });
  }
  const handOvers = await deps.store.listHandOvers({ device: plan.old, state: 'active' });
  for (const h of handOvers) {
    await deps.store.saveHandOver({
      ...h,
      from: h.from === plan.old ? plan.new : h.from,
      to: h.to === plan.old ? plan.new : h.to,
    });
  }
  const note = `${plan.old} replaced by ${plan.new} (decision ${decision.id})`;
  for (const id of plan.incidents) await deps.incidents.join(id, plan.new, note);
  for (const { id, change } of plan.approvals) {
    const d = await deps.store.getDecision(id);
    if (d?.state === 'awaiting-approval') await deps.store.saveDecision(retarget(d, plan, change, now, note));
  }
  // Retired last: a failure above leaves the old device as it was, able to serve.
  await deps.store.retireDevice(plan.old, hashToken(newToken('hsd_')), plan.new);
  await deps.channel.disconnect(plan.old, false);
  deps.events.record({
    device: plan.old,
    type: 'lifecycle',
    code: null,
    severity: 'info',
    message: `${plan.old}: lifecycle ${old.lifecycle} -> retired, replaced by ${plan.new}`,
    data: { from: old.lifecycle, to: 'retired', replacedBy: plan.new, decision: decision.id },
  });
  return {
    state: 'done',
    result: `${plan.new} took over ${plan.old}: labels and desired state (${plan.desiredKeys.join(', ') || 'no keys'}), ${handOvers.length} hand-over(s), ${plan.incidents.length} incident(s), ${plan.approvals.length} waiting decision(s); ${plan.old} retired, its token revoked and its connection closed`,
  };
}

/** A waiting decision that acted on the old device: its actions go to the new one, or it is held for good. */
function retarget(
  d: Decision,
  plan: ReplacementPlan,
  change: 'retarget' | 'hold',
  now: number,
  note: string,
): Decision {
  if (change === 'hold') {
    const reason = `${note}: this decision was about ${plan.old} itself, which can no longer connect; nothing left to act on`;
    return transition({ ...d, hold: { reason, until: null } }, 'held', now, reason);
  }
  const actions = d.actions.map((a) => (a.device === plan.old ? { ...a, device: plan.new } : a));
  const devices = [...new Set(d.devices.map((x) => (x === plan.old ? plan.new : x)).concat(plan.old))];
  return transition({ ...d, actions, devices }, d.state, now, `${note}: its actions now apply to ${plan.new}`);
}
