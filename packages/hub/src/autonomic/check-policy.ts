// What a policy must satisfy beyond its schema, pure, checked when it is applied: it names only
// devices that exist and selectors that parse, it does not contradict another policy on the
// same trigger and scope, and it cannot act on the whole fleet at once without a rate limit.
// Every problem is `path: message`.

import {
  jsonEqual,
  matchesSelector,
  ON_HUB_ACTIONS,
  type PolicyAction,
  type PolicySpec,
  parseSelector,
} from '@homeostat/protocol';
import type { DeviceFacts } from './analyze.js';

export function checkPolicy(
  name: string,
  spec: PolicySpec,
  others: readonly { name: string; spec: PolicySpec }[],
  fleet: readonly DeviceFacts[],
): string[] {
  const problems: string[] = [];
  const selectorProblems = (at: string, selector: string) => {
    const parsed = parseSelector(selector);
    if ('errors' in parsed) problems.push(...parsed.errors.map((e) => `${at}: ${e}`));
    return 'terms' in parsed ? parsed.terms : null;
  };

  const scope = spec.scope;
  if (scope === 'hub' || spec.trigger.kind === 'hub') {
    problems.push(...checkHubPolicy(spec));
    return problems;
  }
  spec.plan.forEach((a, i) => {
    if (ON_HUB_ACTIONS.includes(a.action))
      problems.push(`/spec/plan/${i}/action: ${a.action} acts on the hub: only in a policy of scope hub`);
  });
  if (spec.verify?.check === 'cleared') problems.push('/spec/verify/check: cleared is for policies of scope hub');
  if (spec.trigger.kind === 'metric') problems.push(...checkThreshold(spec.trigger));
  let wholeFleet = scope === 'fleet';
  if (scope !== 'fleet' && 'selector' in scope) {
    const terms = selectorProblems('/spec/scope/selector', scope.selector);
    // A selector that every device matches today is the whole fleet too.
    wholeFleet = terms !== null && fleet.length > 1 && fleet.every((d) => matchesSelector(d.labels, terms));
  }
  if (scope !== 'fleet' && 'devices' in scope) {
    const known = new Set(fleet.map((d) => d.name));
    scope.devices.forEach((d, i) => {
      if (!known.has(d)) problems.push(`/spec/scope/devices/${i}: no device named ${d}`);
    });
  }
  if (wholeFleet && spec.rateLimit === undefined) {
    problems.push(
      `/spec/rateLimit: the scope covers the whole fleet, so the policy could act on every device at once: give it a rate limit (e.g. {max: 5, perMs: 60000})`,
    );
  }

  spec.plan.forEach((a, i) => {
    const peer = a.action === 'hand-over' ? a.to : 'target' in a && typeof a.target === 'object' ? a.target : null;
    const at = `/spec/plan/${i}/${a.action === 'hand-over' ? 'to' : 'target'}`;
    if (peer === null) return;
    if (peer.labelledFor === undefined && peer.sameLabel === undefined) {
      problems.push(`${at}: name the peer by labelledFor or sameLabel (a selector alone would pick any device)`);
    }
    if (peer.selector !== undefined) selectorProblems(`${at}/selector`, peer.selector);
  });

  if (
    spec.verify?.check === 'desired-applied' &&
    !spec.plan.some((a) => a.action === 'patch-desired' || a.action === 'hand-over')
  ) {
    problems.push('/spec/verify/check: desired-applied needs a patch-desired or hand-over action in the plan');
  }

  for (const other of others) {
    if (other.name === name) continue;
    if (!jsonEqual(other.spec.trigger, spec.trigger) || !jsonEqual(other.spec.scope, spec.scope)) continue;
    spec.plan.forEach((a, i) => {
      if (a.action !== 'patch-desired') return;
      for (const b of other.spec.plan) {
        if (b.action !== 'patch-desired' || !jsonEqual(a.target ?? 'device', b.target ?? 'device')) continue;
        for (const [key, value] of Object.entries(a.patch)) {
          if (key in b.patch && !jsonEqual(b.patch[key], value)) {
            problems.push(
              `/spec/plan/${i}/patch/${key}: contradicts policy ${other.name}, which sets ${key} to ${JSON.stringify(b.patch[key])} on the same trigger and scope`,
            );
          }
        }
      }
    });
    if (opposes(spec.plan, other.spec.plan)) {
      problems.push(
        `/spec/plan: contradicts policy ${other.name} on the same trigger and scope: one quarantines the device, the other sends it commands`,
      );
    }
  }
  return problems;
}

/** A threshold on a number (triggers hub and metric): exactly one side, and hysteresis on its safe side. */
function checkThreshold(t: { above?: number; below?: number; clearAt?: number }): string[] {
  if ((t.above === undefined) === (t.below === undefined))
    return ['/spec/trigger: give exactly one of above and below'];
  if (t.above !== undefined && t.clearAt !== undefined && t.clearAt > t.above) {
    return [`/spec/trigger/clearAt: ${t.clearAt} is over the threshold ${t.above}: it must be at or under it`];
  }
  if (t.below !== undefined && t.clearAt !== undefined && t.clearAt < t.below) {
    return [`/spec/trigger/clearAt: ${t.clearAt} is under the threshold ${t.below}: it must be at or over it`];
  }
  return [];
}

/** A quarantine against a plan that keeps the same device working. */
function opposes(a: readonly PolicyAction[], b: readonly PolicyAction[]): boolean {
  const quarantines = (p: readonly PolicyAction[]) => p.some((x) => x.action === 'quarantine');
  const keepsWorking = (p: readonly PolicyAction[]) =>
    p.some((x) => x.action === 'send-command' && (x.target === undefined || x.target === 'device'));
  return (quarantines(a) && keepsWorking(b)) || (quarantines(b) && keepsWorking(a));
}

/** Actions a policy of scope hub may take: on the hub, and an incident to tell people. */
const HUB_SCOPE_ACTIONS = new Set<PolicyAction['action']>([...ON_HUB_ACTIONS, 'open-incident']);

/** A policy of scope hub watches a hub metric, acts on the hub only, and its thresholds make sense. */
function checkHubPolicy(spec: PolicySpec): string[] {
  const problems: string[] = [];
  if (spec.scope !== 'hub') problems.push('/spec/scope: a trigger of kind hub is about the hub: use scope hub');
  const t = spec.trigger;
  if (t.kind !== 'hub') {
    problems.push(`/spec/trigger/kind: a policy of scope hub watches the hub: use kind hub, not ${t.kind}`);
  } else {
    problems.push(...checkThreshold(t));
  }
  spec.plan.forEach((a, i) => {
    if (!HUB_SCOPE_ACTIONS.has(a.action)) {
      problems.push(
        `/spec/plan/${i}/action: ${a.action} acts on a device: a policy of scope hub acts on the hub (${[...HUB_SCOPE_ACTIONS].join(', ')})`,
      );
    }
  });
  if (spec.verify !== undefined && spec.verify.check !== 'cleared') {
    problems.push(
      `/spec/verify/check: ${spec.verify.check} is about devices: a policy of scope hub verifies with cleared`,
    );
  }
  return problems;
}
