// Loop detection, pure, checked when a policy is applied: what each action produces that a
// trigger can watch (its effects), and whether a policy feeds its own trigger (a self-loop) or
// closes a cycle with policies already stored (ping-pong: A's actions fire B, B's fire A, on
// devices both scopes cover). The effects are the hub's own: what its executors do for certain,
// not what a device might do in answer (that is the device's code, unknown here), and only what
// can recur: a loop needs its trigger to fire again and again. No action produces a reading for
// certain (a `patch-desired` of telemetry settings changes how a device reports, not a value), so
// a `metric` trigger is watched by no effect here.

import {
  matchesSelector,
  type Peer,
  type PolicyAction,
  type PolicySpec,
  parseSelector,
  type SelectorTerm,
} from '@homeostat/protocol';
import type { DeviceFacts } from './analyze.js';

/** A signal a trigger can watch. */
type Watched = { kind: 'security'; signal: 'auth-failures' } | { kind: 'command-result' };

interface Effect {
  watched: Watched;
  /** Where it shows: the device the decision is about, or the peers it acts on. */
  on: 'device' | Peer;
  /** The action, by its path in the plan, and why it produces this, for the refusal. */
  path: string;
  action: PolicyAction['action'];
  why: string;
}

/** What the plan produces that a trigger could watch. */
export function effectsOf(plan: readonly PolicyAction[]): Effect[] {
  const quarantines = plan.some((a) => a.action === 'quarantine');
  const out: Effect[] = [];
  plan.forEach((a, i) => {
    const at = { path: `/spec/plan/${i}`, action: a.action };
    switch (a.action) {
      // A quarantine, or a rotation, also silences the device, but once: it cannot come back
      // online on its own, so going silent again (a liveness trigger firing again) never follows.
      case 'rotate-credentials':
        // Quarantined in the same plan, its refusals carry its lifecycle and are no signal.
        if (!quarantines) {
          out.push({
            watched: { kind: 'security', signal: 'auth-failures' },
            on: 'device',
            ...at,
            why: 'the device keeps connecting with its old token, each time refused as a bad credential',
          });
        }
        break;
      case 'send-command':
        out.push({
          watched: { kind: 'command-result' },
          on: a.target ?? 'device',
          ...at,
          why: `the device answers the command ${a.command} on command-results, with an error code when it fails`,
        });
        break;
      default:
        break;
    }
  });
  return out;
}

function watches(trigger: PolicySpec['trigger'], w: Watched): boolean {
  switch (trigger.kind) {
    case 'security':
      return w.kind === 'security' && w.signal === trigger.signal;
    case 'event':
      return w.kind === 'command-result' && trigger.type === 'command-result';
    default:
      return false;
  }
}

function describeTrigger(t: PolicySpec['trigger']): string {
  switch (t.kind) {
    case 'liveness':
      return `a device turning ${t.state}`;
    case 'security':
      return `${t.signal} (at least ${t.atLeast})`;
    case 'event':
      return `an event${t.type ? ` of type ${t.type}` : ''} with code ${t.code}`;
    case 'module-crash-loop':
      return 'a module crash-looping';
    case 'hub':
      return `the hub's ${t.metric}`;
    case 'metric':
      return `${t.metric} ${t.above !== undefined ? `over ${t.above}` : `under ${t.below}`}`;
  }
}

// ---- where effects land, against scopes --------------------------------------------------

/** A set of devices as the constraints they all meet: scopes, peer selectors, named devices. */
type Range = { terms: SelectorTerm[]; names: string[] | null; hub: boolean };

function rangeOfScope(scope: PolicySpec['scope']): Range {
  if (scope === 'hub') return { terms: [], names: null, hub: true };
  if (scope === 'fleet') return { terms: [], names: null, hub: false };
  if ('devices' in scope) return { terms: [], names: [...scope.devices], hub: false };
  const parsed = parseSelector(scope.selector);
  return { terms: 'terms' in parsed ? parsed.terms : [], names: null, hub: false };
}

/** Where an effect of a policy of this scope lands: its own scope, or any device its peer selector allows. */
function rangeOfEffect(effect: Effect, scope: PolicySpec['scope']): Range {
  if (effect.on === 'device') return rangeOfScope(scope);
  const parsed = effect.on.selector !== undefined ? parseSelector(effect.on.selector) : { terms: [] };
  return { terms: 'terms' in parsed ? parsed.terms : [], names: null, hub: false };
}

/**
 * Whether some device could be in both ranges. Named devices are judged by their labels today;
 * selectors by their terms alone (a device that matches both may be added later).
 */
function mayOverlap(a: Range, b: Range, fleet: readonly DeviceFacts[]): boolean {
  if (a.hub !== b.hub) return false;
  const terms = [...a.terms, ...b.terms];
  let names: string[] | null = a.names;
  if (b.names !== null) names = names === null ? b.names : names.filter((n) => b.names?.includes(n));
  if (names !== null) {
    const labels = new Map(fleet.map((d) => [d.name, d.labels]));
    return names.some((n) => matchesSelector(labels.get(n) ?? {}, terms));
  }
  return consistent(terms);
}

/** Whether some label set meets every term. */
function consistent(terms: readonly SelectorTerm[]): boolean {
  const byKey = new Map<string, SelectorTerm[]>();
  for (const t of terms) byKey.set(t.key, [...(byKey.get(t.key) ?? []), t]);
  for (const list of byKey.values()) {
    const eq = new Set(list.flatMap((t) => (t.op === 'eq' ? [t.value] : [])));
    const neq = new Set(list.flatMap((t) => (t.op === 'neq' ? [t.value] : [])));
    const absent = list.some((t) => t.op === 'absent');
    const present = eq.size > 0 || list.some((t) => t.op === 'exists');
    if (eq.size > 1 || (absent && present) || [...eq].some((v) => neq.has(v))) return false;
  }
  return true;
}

// ---- the checks --------------------------------------------------------------------------

export interface NamedPolicy {
  name: string;
  spec: PolicySpec;
}

/** The edges from `from` to `to`: an effect of from's plan that fires to's trigger, on devices to's scope covers. */
function feeds(from: NamedPolicy, to: NamedPolicy, fleet: readonly DeviceFacts[]): string[] {
  return effectsOf(from.spec.plan)
    .filter(
      (e) =>
        watches(to.spec.trigger, e.watched) &&
        mayOverlap(rangeOfEffect(e, from.spec.scope), rangeOfScope(to.spec.scope), fleet),
    )
    .map(
      (e) =>
        `${from.name} ${e.path} (${e.action}): ${e.why}; ${to.name} triggers on ${describeTrigger(to.spec.trigger)}`,
    );
}

/** How the policy feeds its own trigger, one line per action that does; none when it does not. */
export function selfLoops(policy: NamedPolicy, fleet: readonly DeviceFacts[]): string[] {
  return feeds(policy, policy, fleet);
}

/**
 * A cycle through the policy and stored ones (other than itself), as the edges along it: the
 * shortest found first, each edge as `feeds` writes it; empty when there is none.
 */
export function pingPong(policy: NamedPolicy, others: readonly NamedPolicy[], fleet: readonly DeviceFacts[]): string[] {
  const all = [policy, ...others.filter((o) => o.name !== policy.name)];
  // Breadth first from the policy, so the shortest way back is reported.
  const seen = new Map<string, { via: string; edge: string } | null>([[policy.name, null]]);
  let frontier = [policy];
  while (frontier.length > 0) {
    const next: NamedPolicy[] = [];
    for (const from of frontier) {
      for (const to of all) {
        const edge = feeds(from, to, fleet)[0];
        if (edge === undefined) continue;
        if (to.name === policy.name && from.name !== policy.name) return [...pathTo(seen, from.name), edge];
        if (seen.has(to.name)) continue;
        seen.set(to.name, { via: from.name, edge });
        next.push(to);
      }
    }
    frontier = next;
  }
  return [];
}

function pathTo(seen: Map<string, { via: string; edge: string } | null>, name: string): string[] {
  const edges: string[] = [];
  for (let at = seen.get(name); at; at = seen.get(at.via)) edges.unshift(at.edge);
  return edges;
}
