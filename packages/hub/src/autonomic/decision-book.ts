// The autonomic manager's bookkeeping of decisions: every step is stored as it happens and written
// to the event log, and the decisions the tick looks at (awaiting approval, held until a time,
// verifying) are kept in memory, loaded again at start so they survive a restart. Carrying out a
// decision runs its planned actions in order (execute.ts), then sets up its verification or escalates.

import type { Decision } from '@homeostat/protocol';
import type { PolicyRecord } from '../store/store.js';
import { type ActionDeps, runAction } from './execute.js';
import { isOpenDecision, OPEN_STATES, transition } from './plan.js';

export class DecisionBook {
  readonly #deps: ActionDeps;
  readonly #policies: () => readonly PolicyRecord[];
  /** Decisions the tick looks at: awaiting approval, held until a time, verifying. */
  readonly #open = new Map<string, Decision>();

  constructor(deps: ActionDeps, policies: () => readonly PolicyRecord[]) {
    this.#deps = deps;
    this.#policies = policies;
  }

  /** Reads the open decisions from the store. */
  async load(): Promise<void> {
    const open = await this.#deps.store.listDecisions({ states: [...OPEN_STATES, 'succeeded'], limit: 10_000 });
    for (const d of open) if (isOpenDecision(d)) this.#open.set(d.id, d);
  }

  /** The open decision, else the stored one. */
  async get(id: string): Promise<Decision | undefined> {
    return this.#open.get(id) ?? (await this.#deps.store.getDecision(id));
  }

  /** The open decisions now (a copy: looking at one may change the others). */
  open(): Decision[] {
    return [...this.#open.values()];
  }

  /** Whether a decision of this policy about this device is open. */
  hasOpen(policy: string, device: string): boolean {
    for (const d of this.#open.values()) if (d.policy === policy && d.trigger.device === device) return true;
    return false;
  }

  /** Stores the decision, keeps the tick's view in step, and writes it to the event log. */
  async save(d: Decision): Promise<Decision> {
    await this.#deps.store.saveDecision(d);
    if (isOpenDecision(d)) this.#open.set(d.id, d);
    else this.#open.delete(d.id);
    const last = d.history[d.history.length - 1];
    this.#deps.events.record({
      device: d.trigger.device,
      type: 'autonomic',
      code: null,
      severity: d.state === 'escalated' || d.state === 'failed' ? 'critical' : d.state === 'held' ? 'warning' : 'info',
      message: `decision ${d.id} (${d.policy}) ${d.state}${last ? `: ${last.note}` : ''}`,
      data: { decision: d.id, policy: d.policy, state: d.state, degree: d.degree },
    });
    return d;
  }

  /** Stores the decision and, when it acts now, carries it out; a replacement moves other decisions, read again. */
  async carryOut(d: Decision): Promise<Decision> {
    const stored = await this.save(d);
    if (stored.state !== 'executing') return stored;
    const saved = await this.execute(stored);
    const plan = saved.actions[0]?.params.plan as { approvals?: { id: string }[] } | undefined;
    for (const { id } of plan?.approvals ?? []) {
      const moved = await this.#deps.store.getDecision(id);
      if (moved && isOpenDecision(moved)) this.#open.set(id, moved);
      else this.#open.delete(id);
    }
    return saved;
  }

  /** Carries out the planned actions in order, then verifies or escalates. */
  async execute(start: Decision): Promise<Decision> {
    let d =
      start.state === 'executing'
        ? start
        : transition(start, 'executing', this.#deps.clock.now(), 'carrying out the plan');
    for (let i = 0; i < d.actions.length; i++) {
      const action = d.actions[i];
      if (action?.state !== 'planned') continue;
      const ran = await runAction(this.#deps, d, action);
      const actions = d.actions.map((a, j) => (j === i ? ran.action : a));
      d = await this.save({
        ...d,
        actions,
        incident: d.incident ?? ran.incident ?? null,
        updatedAt: this.#deps.clock.now(),
      });
    }
    const now = this.#deps.clock.now();
    if (d.actions.some((a) => a.state === 'failed')) {
      d = await this.save(transition(d, 'failed', now, 'an action failed'));
      return this.escalate(d, 'an action failed');
    }
    d = transition(d, 'succeeded', now, 'every action carried out');
    const verify = this.#policies().find((p) => p.name === d.policy)?.spec.verify;
    if (verify)
      d = {
        ...d,
        verification: {
          check: verify.check,
          deadline: now + verify.withinMs,
          outcome: 'pending',
          at: null,
          detail: null,
        },
      };
    return this.save(
      transition(
        d,
        d.state,
        now,
        verify ? `verifying: ${verify.check} within ${verify.withinMs} ms` : 'nothing to verify',
      ),
    );
  }

  async escalate(d: Decision, why: string): Promise<Decision> {
    const incident = await this.#deps.incidents.escalate(d, why);
    const now = this.#deps.clock.now();
    const verification = d.verification && { ...d.verification, outcome: 'escalated' as const, at: now, detail: why };
    return this.save(
      transition(
        { ...d, verification, incident: incident.id },
        'escalated',
        now,
        `${why}; incident ${incident.id} is critical`,
      ),
    );
  }
}
