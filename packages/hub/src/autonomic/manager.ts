// The fleet's MAPE-K loop: Monitor (signals; triggers.ts), Analyze (which policies fire, the
// partition guard; silence.ts), Plan (pure, plan.ts), Execute (execute.ts, decision-book.ts) and
// verify (verify.ts), over the Knowledge in the store. Every step of every decision is stored as it
// happens; approvals, holds and verifications are looked at on a tick of the injected clock, so
// they survive a restart (open decisions are loaded at start). All work runs one item at a time
// (turn.ts), so two signals never race on the same decision.

import type { Logger, Timer } from '@homeostat/kit';
import {
  type AutonomySpec,
  type Decision,
  HomeostatError,
  type Incident,
  type ReplaceDeviceResponse,
} from '@homeostat/protocol';
import type { LivenessTracker } from '../controllers/liveness.js';
import type { DeviceRecord, PolicyRecord, Reading, Store } from '../store/store.js';
import { type DeviceFacts, inScope, type PartitionRule } from './analyze.js';
import { DecisionBook } from './decision-book.js';
import type { ActionDeps } from './execute.js';
import { fillSlot, type HubLoop, handBackDue, requestReplacement, settleHandBack } from './hub-decisions.js';
import { newId } from './incidents.js';
import { MetricWatch } from './metric-watch.js';
import { draftDecision, gate, type LocalAction, type PlanInput, transition } from './plan.js';
import { SelfLoop } from './self-loop.js';
import type { DeviceSignal, Monitor, Signal } from './signals.js';
import { SilenceGuard } from './silence.js';
import { Triggers } from './triggers.js';
import { Turn } from './turn.js';
import { verifyDecision } from './verify.js';

export interface ManagerDeps extends ActionDeps {
  logger: Logger;
  liveness: LivenessTracker;
  monitor: Monitor;
  /** How often approvals, holds and verifications are looked at, ms. Default 1000. */
  tickMs?: number;
  partition?: PartitionRule;
  /**
   * How long a silent device of a site may wait before it is judged, in heartbeat intervals: long
   * enough for the rest of a site cut off at the same moment to be seen silent too (a device
   * turns suspect 1.5 intervals after its last heartbeat, offline after 1.8). The guard decides
   * sooner, often at once, when enough of the site was heard since (analyze.ts). Default 0.8.
   */
  settleIntervals?: number;
  /** Heartbeat intervals a returned device stays online before its duties go back. Default 2. */
  stableIntervals?: number;
}

/** Recent decisions of a policy read to apply its cooldown and rate limit. */
const RECENT_DECISIONS = 500;
/** Local decisions of a device read to know whether its own loop is acting. */
const RECENT_LOCAL_ACTIONS = 20;
export class AutonomicManager {
  readonly #deps: ManagerDeps;
  #policies: PolicyRecord[] = [];
  #autonomy: AutonomySpec | undefined;
  readonly #turn: Turn;
  readonly #book: DecisionBook;
  readonly #triggers: Triggers;
  readonly #silence: SilenceGuard;
  #tick: Timer | undefined;
  #unsubscribe: (() => void) | undefined;
  /** The policies of scope hub: the hub's loop on itself. */
  readonly #self: SelfLoop;
  /** The windows of the policies' metric triggers. */
  readonly #metrics: MetricWatch;

  constructor(deps: ManagerDeps) {
    this.#deps = deps;
    this.#turn = new Turn(deps.clock, deps.logger);
    this.#book = new DecisionBook(deps, () => this.#policies);
    this.#triggers = new Triggers({
      clock: deps.clock,
      hasOpen: (policy, device) => this.#book.hasOpen(policy, device),
    });
    this.#silence = new SilenceGuard({
      deps,
      autonomy: () => this.#autonomy,
      decision: (id) => this.#book.get(id),
      save: (d) => this.#book.save(d),
      after: (ms, fn) => this.#turn.after(ms, fn),
      evaluate: (policy, signal, device) => this.#evaluate(policy, signal, device),
    });
    this.#self = new SelfLoop({
      deps,
      policies: () => this.#policies,
      autonomy: () => this.#autonomy,
      enqueue: (fn) => this.#turn.enqueue(fn),
      save: (d) => this.#book.save(d),
      execute: (d) => this.#book.execute(d),
      recent: (policy) => deps.store.listDecisions({ policy, limit: RECENT_DECISIONS }),
      log: (obj, msg) => deps.logger.debug(obj, msg),
    });
    this.#metrics = new MetricWatch({ clock: deps.clock, emit: (s) => this.#onSignal(s) });
  }

  async start(): Promise<void> {
    await this.reload();
    await this.#self.reset();
    await this.#book.load();
    this.#unsubscribe = this.#deps.monitor.signals.on('signal', (s) => this.#onSignal(s));
    this.#tick = this.#deps.clock.setInterval(
      () => this.#turn.enqueue(() => this.#onTick()),
      this.#deps.tickMs ?? 1000,
    );
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#metrics.stop();
    this.#tick?.cancel();
    await this.#turn.stop();
  }

  /** Reads the policies and autonomy settings again (after a change through the API). */
  async reload(): Promise<void> {
    this.#policies = await this.#deps.store.listPolicies();
    this.#autonomy = await this.#deps.store.getAutonomy();
    this.#metrics.index(this.#policies);
  }

  /** Readings the ingest writer committed: what the policies' metric triggers watch. */
  readingsStored(readings: readonly Reading[]): void {
    this.#metrics.onStored(readings);
  }

  /** Resolves once every signal received so far has been handled. */
  idle(): Promise<void> {
    return this.#turn.idle();
  }

  approve(id: string, by: string, reason: string | null): Promise<Decision> {
    return this.#decide(id, by, reason, 'approved');
  }

  /** A person resolves an incident; in turn with the loop, which may be writing to it. */
  resolveIncident(id: string, by: string, note: string): Promise<Incident> {
    return this.#turn.run(() => this.#deps.incidents.resolve(id, by, note));
  }

  /** A person's request to replace `old` with `neu`: checked, planned, and (unless a dry run) carried out. */
  replace(old: string, neu: string, by: string, dryRun: boolean): Promise<ReplaceDeviceResponse> {
    return this.#turn.run(() => requestReplacement(this.#loop(), old, neu, by, dryRun));
  }

  /** A device claimed through a group: when it names a slot held by a retired or offline device, it replaces it. */
  enrolled(name: string, group: string): void {
    this.#turn.enqueue(() => fillSlot(this.#loop(), name, group));
  }

  /** What the hub's own decisions (hand-back, replacement) need of the loop. */
  #loop(): HubLoop {
    return {
      deps: this.#deps,
      autonomy: this.#autonomy,
      policies: this.#policies,
      carryOut: (d) => this.#book.carryOut(d),
    };
  }

  reject(id: string, by: string, reason: string | null): Promise<Decision> {
    return this.#decide(id, by, reason, 'rejected');
  }

  #decide(id: string, by: string, reason: string | null, outcome: 'approved' | 'rejected'): Promise<Decision> {
    return this.#turn.run(async () => {
      const d = await this.#book.get(id);
      if (!d) throw new HomeostatError('ERR_DECISION_NOT_FOUND', `no decision ${id}`);
      if (d.state !== 'awaiting-approval' || d.approval === null) {
        throw new HomeostatError('ERR_DECISION_STATE', `decision ${id} is ${d.state}, not awaiting approval`);
      }
      const now = this.#deps.clock.now();
      const approval = { ...d.approval, by, at: now, reason };
      const note = `${outcome} by ${by}${reason ? `: ${reason}` : ''}`;
      const decided = await this.#book.save(transition({ ...d, approval }, outcome, now, note));
      if (outcome === 'rejected') return decided;
      const done = await this.#book.execute(decided);
      await settleHandBack(this.#deps, done);
      return done;
    });
  }

  #onSignal(signal: Signal): void {
    if (signal.kind === 'hub') {
      this.#self.onSignal(signal);
      return;
    }
    // Cheap checks first: a flood of refusals must not queue a store read per message.
    for (const policy of this.#triggers.fire(this.#policies, signal)) {
      this.#turn.enqueue(() =>
        this.#consider(policy, signal).finally(() => this.#triggers.considered(policy.name, signal.device)),
      );
    }
  }

  async #consider(policy: PolicyRecord, signal: DeviceSignal): Promise<void> {
    const device = await this.#deps.store.getDevice(signal.device);
    if (!device || device.lifecycle === 'retired' || !inScope(policy.spec.scope, device)) return;
    if (signal.kind !== 'liveness') {
      await this.#evaluate(policy, signal, device);
      return;
    }
    // Held for the policy's intervals first; then the partition guard, which may wait too.
    const trigger = policy.spec.trigger;
    const hold = (trigger.kind === 'liveness' ? (trigger.forIntervals ?? 0) : 0) * signal.heartbeatMs;
    await this.#turn.after(hold - (this.#deps.clock.now() - signal.since), () =>
      this.#silence.evaluate(policy, signal),
    );
  }

  async #evaluate(policy: PolicyRecord, signal: DeviceSignal, device: DeviceRecord): Promise<void> {
    const { store, clock } = this.#deps;
    const fleet = (await store.listDevices()).filter((d) => d.lifecycle !== 'retired').map(facts);
    const input: PlanInput = {
      id: newId('dec'),
      now: clock.now(),
      policy,
      signal,
      device: facts(device),
      fleet,
      autonomy: this.#autonomy,
      recent: await store.listDecisions({ policy: policy.name, limit: RECENT_DECISIONS }),
      localActions: [],
    };
    const draft = draftDecision(input);
    if (draft.kind === 'skip') {
      this.#deps.logger.debug({ policy: policy.name, device: device.name, reason: draft.reason }, 'policy skipped');
      return;
    }
    input.localActions = await localActions(store, draft.decision);
    const triggerRule = signal.kind === 'event' && typeof signal.data.rule === 'string' ? signal.data.rule : null;
    const decision = await this.#book.save(gate(draft.decision, { ...input, triggerRule }));
    this.#triggers.decided(policy.name, device.name, decision.createdAt);
    if (decision.state === 'executing') await this.#book.execute(decision);
  }

  async #onTick(): Promise<void> {
    const now = this.#deps.clock.now();
    for (const d of this.#book.open()) {
      if (d.state === 'awaiting-approval' && d.approval && now >= d.approval.deadline) {
        const fallback = d.approval.default;
        const note = `no answer by the deadline: the stated default, ${fallback}, applies`;
        const decided = await this.#book.save(
          transition(d, fallback === 'approve' ? 'approved' : 'expired', now, note),
        );
        if (fallback === 'approve') await settleHandBack(this.#deps, await this.#book.execute(decided));
      } else if (d.state === 'held' && d.hold?.until != null && now >= d.hold.until) {
        await this.#resume(d);
      } else if (d.verification?.outcome === 'pending') {
        await verifyDecision(
          {
            store: this.#deps.store,
            liveness: this.#deps.liveness,
            self: this.#self,
            policies: this.#policies,
            firedAt: (policy, device) => this.#triggers.firedAt(policy, device),
            save: (v) => this.#book.save(v),
            escalate: (v, why) => this.#book.escalate(v, why),
          },
          d,
          now,
        );
      }
    }
    await handBackDue(this.#loop(), now);
  }

  /** A decision held for a device's own loop: gated again, as if new. */
  async #resume(d: Decision): Promise<void> {
    const policy = this.#policies.find((p) => p.name === d.policy);
    if (!policy) {
      await this.#book.save(
        transition(
          { ...d, hold: { reason: `policy ${d.policy} was deleted`, until: null } },
          'held',
          this.#deps.clock.now(),
          `policy ${d.policy} was deleted`,
        ),
      );
      return;
    }
    const data = d.trigger.evidence.data;
    const rule = typeof data === 'object' && data !== null ? (data as { rule?: unknown }).rule : undefined;
    const gated = gate(d, {
      now: this.#deps.clock.now(),
      policy,
      autonomy: this.#autonomy,
      recent: await this.#deps.store.listDecisions({ policy: d.policy, limit: RECENT_DECISIONS }),
      localActions: await localActions(this.#deps.store, d),
      triggerRule: typeof rule === 'string' ? rule : null,
    });
    const saved = await this.#book.save(gated);
    if (saved.state === 'executing') await this.#book.execute(saved);
  }
}

/** What the devices the decision acts on decided themselves lately (their `action` events). */
async function localActions(store: Store, d: Decision): Promise<LocalAction[]> {
  const targets = new Set(d.actions.flatMap((a) => (a.device === null ? [] : [a.device])));
  const out: LocalAction[] = [];
  for (const device of targets) {
    const events = await store.listEvents({ device, type: 'action', limit: RECENT_LOCAL_ACTIONS });
    for (const e of events) {
      if (e.source !== 'device') continue;
      // The device loop marks the decisions that change nothing a fleet action could fight
      // with (its sampling rate, a battery guard deferring to a module): no reason to wait.
      if (e.data.holdsFleet === false) continue;
      out.push({ device, at: e.ts, code: e.code, rule: typeof e.data.rule === 'string' ? e.data.rule : null });
    }
  }
  return out;
}

function facts(d: DeviceRecord): DeviceFacts {
  return { name: d.name, labels: d.labels };
}
