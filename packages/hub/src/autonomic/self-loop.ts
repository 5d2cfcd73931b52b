// The hub's loop on itself, inside the autonomic manager: for each policy of scope hub, follows
// its metric through the samples (past the threshold for `forMs` fires it once; back past
// `clearAt` clears it: hysteresis, so a metric hovering at the threshold does not flap), makes
// the decision like any other (degree, rate limit, cooldown, approval), and when the symptom
// clears, undoes what the decision holds (retention, backpressure, shed work) and verifies it.

import type { AutonomySpec, Decision, PolicySpec } from '@homeostat/protocol';
import type { Store } from '../store/store.js';
import { type ActionDeps, runAction } from './execute.js';
import { newId } from './incidents.js';
import { isCleared, isPast } from './metric-watch.js';
import { draftHubDecision, gate, heldHubActions, transition } from './plan.js';
import type { Signal } from './signals.js';

type HubSignal = Extract<Signal, { kind: 'hub' }>;
type HubTrigger = Extract<PolicySpec['trigger'], { kind: 'hub' }>;

/** What the loop needs of the manager around it. */
export interface SelfLoopHost {
  deps: ActionDeps & { store: Store };
  policies(): readonly { name: string; spec: PolicySpec }[];
  autonomy(): AutonomySpec | undefined;
  /** Runs work in the manager's turn, one item at a time. */
  enqueue(fn: () => Promise<void>): void;
  save(d: Decision): Promise<Decision>;
  execute(d: Decision): Promise<Decision>;
  recent(policy: string): Promise<Decision[]>;
  log(obj: Record<string, unknown>, msg: string): void;
}

interface Episode {
  /** Since when the metric is past the threshold (null: it is not). */
  since: number | null;
  firing: boolean;
  last: HubSignal | null;
}

export class SelfLoop {
  readonly #host: SelfLoopHost;
  readonly #episodes = new Map<string, Episode>();

  constructor(host: SelfLoopHost) {
    this.#host = host;
  }

  /** Whether the policy's symptom is on now (fired and not cleared). */
  firing(policy: string): boolean {
    return this.#episodes.get(policy)?.firing === true;
  }

  lastSignal(policy: string): HubSignal | null {
    return this.#episodes.get(policy)?.last ?? null;
  }

  /**
   * At start: the hub's modes live in memory, so a decision recorded as holding one holds
   * nothing after a restart. Its record says so (an undo), and a new decision may act.
   */
  async reset(): Promise<void> {
    const { clock } = this.#host.deps;
    for (const policy of this.#host.policies()) {
      if (policy.spec.scope !== 'hub') continue;
      for (const d of await this.#host.recent(policy.name)) {
        const held = heldHubActions(d);
        if (held.length === 0) continue;
        const now = clock.now();
        const undone = held.map((a) => ({
          ...a,
          params: { ...a.params, undo: true },
          state: 'done' as const,
          result: 'the hub restarted: it starts as configured',
          startedAt: now,
          finishedAt: now,
        }));
        const note = `the hub restarted: ${held.map((a) => a.action).join(', ')} no longer held`;
        await this.#host.save(transition({ ...d, actions: [...d.actions, ...undone] }, d.state, now, note));
      }
    }
  }

  /**
   * Whether the symptom showed cleared in a sample since `since` (a restarted hub has not seen it
   * fire, so it cannot see it clear: it judges the samples).
   */
  clearedSince(policy: { spec: PolicySpec }, name: string, since: number): boolean {
    const last = this.lastSignal(name);
    const trigger = policy.spec.trigger;
    return last !== null && last.at > since && trigger.kind === 'hub' && isCleared(trigger, last.value);
  }

  onSignal(signal: HubSignal): void {
    for (const policy of this.#host.policies()) {
      const trigger = policy.spec.trigger;
      if (policy.spec.scope !== 'hub' || trigger.kind !== 'hub' || trigger.metric !== signal.metric) continue;
      const e = this.#episodes.get(policy.name) ?? { since: null, firing: false, last: null };
      this.#episodes.set(policy.name, e);
      e.last = signal;
      if (!e.firing) {
        if (!isPast(trigger, signal.value)) {
          e.since = null;
          continue;
        }
        e.since ??= signal.at;
        if (signal.at - e.since < (trigger.forMs ?? 0)) continue;
        e.firing = true;
        this.#host.enqueue(() => this.#fire(policy, signal));
      } else if (isCleared(trigger, signal.value)) {
        e.firing = false;
        e.since = null;
        this.#host.enqueue(() => this.#clear(policy, signal));
      }
    }
  }

  async #fire(policy: { name: string; spec: PolicySpec }, signal: HubSignal): Promise<void> {
    const { clock } = this.#host.deps;
    const now = clock.now();
    const recent = await this.#host.recent(policy.name);
    const draft = draftHubDecision({ id: newId('dec'), now, policy, signal, autonomy: this.#host.autonomy(), recent });
    if (draft.kind === 'skip') {
      this.#host.log({ policy: policy.name, reason: draft.reason }, 'hub policy skipped');
      // Level-based: while the symptom lasts, the next sample asks again (after the hold time).
      const e = this.#episodes.get(policy.name);
      if (e && !recent.some((d) => heldHubActions(d).length > 0 || d.state === 'awaiting-approval')) {
        e.firing = false;
        e.since = null;
      }
      return;
    }
    const gated = gate(draft.decision, {
      now,
      policy,
      recent,
      localActions: [],
      autonomy: this.#host.autonomy(),
      triggerRule: null,
    });
    const saved = await this.#host.save(gated);
    if (saved.state === 'executing') await this.#host.execute(saved);
  }

  /** The symptom cleared: the policy's decision undoes what it holds, and is verified if it was to clear. */
  async #clear(policy: { name: string; spec: PolicySpec }, signal: HubSignal): Promise<void> {
    const { clock } = this.#host.deps;
    const trigger = policy.spec.trigger as HubTrigger;
    const note = `the symptom cleared: ${signal.metric} is ${signal.value}, back past ${trigger.clearAt ?? trigger.above ?? trigger.below}`;
    for (let d of await this.#host.recent(policy.name)) {
      if (d.state === 'awaiting-approval') {
        const reason = `${note} before anyone answered: nothing to do`;
        await this.#host.save(transition({ ...d, hold: { reason, until: null } }, 'held', clock.now(), reason));
        continue;
      }
      const held = heldHubActions(d);
      if (held.length === 0) continue;
      const undone = [];
      for (const a of held) {
        const undo = { ...a, params: { ...a.params, undo: true }, state: 'planned' as const, result: null };
        undone.push((await runAction(this.#host.deps, d, undo)).action);
      }
      d = { ...d, actions: [...d.actions, ...undone] };
      const now = clock.now();
      const v = d.verification;
      if (v?.check === 'cleared' && v.outcome === 'pending') {
        const verification = { ...v, outcome: 'verified' as const, at: now, detail: note };
        d = transition(
          { ...d, verification },
          'verified',
          now,
          `${note}; undone: ${undone.map((a) => a.action).join(', ')}`,
        );
      } else {
        d = transition(d, d.state, now, `${note}; undone: ${undone.map((a) => a.action).join(', ')}`);
      }
      await this.#host.save(d);
    }
  }
}
