// The fleet's MAPE-K loop: Monitor (signals), Analyze (which policies fire, the partition guard),
// Plan (pure, plan.ts), Execute (execute.ts), over the Knowledge in the store. Every step of
// every decision is stored as it happens; approvals, holds and verifications are looked at on a
// tick of the injected clock, so they survive a restart (open decisions are loaded at start).
// All work runs one item at a time, so two signals never race on the same decision.

import type { Logger, Timer } from '@homeostat/kit';
import {
  type AutonomySpec,
  type Decision,
  HomeostatError,
  type Incident,
  type ReplaceDeviceResponse,
  SITE_LABEL,
} from '@homeostat/protocol';
import type { LivenessTracker } from '../controllers/liveness.js';
import type { LivenessEntry } from '../model/liveness.js';
import type { DeviceRecord, PolicyRecord, Reading } from '../store/store.js';
import {
  DEFAULT_PARTITION_RULE,
  type DeviceFacts,
  firesTrigger,
  guardPartition,
  inScope,
  judgePartition,
  type PartitionRule,
  type PartitionVerdict,
} from './analyze.js';
import { type ActionDeps, runAction } from './execute.js';
import { fillSlot, type HubLoop, handBackDue, requestReplacement, settleHandBack } from './hub-decisions.js';
import { newId } from './incidents.js';
import { MetricWatch } from './metric-watch.js';
import {
  DEFAULT_COOLDOWN_MS,
  draftDecision,
  gate,
  isOpenDecision,
  type LocalAction,
  OPEN_STATES,
  type PlanInput,
  partitionDecision,
  transition,
} from './plan.js';
import { SelfLoop } from './self-loop.js';
import type { DeviceSignal, Monitor, Signal } from './signals.js';

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
/** New silences at a site join its held partition decision for this long, ms. */
const PARTITION_EPISODE_MS = 10 * 60_000;

export class AutonomicManager {
  readonly #deps: ManagerDeps;
  #policies: PolicyRecord[] = [];
  #autonomy: AutonomySpec | undefined;
  /** Decisions the tick looks at: awaiting approval, held until a time, verifying. */
  readonly #open = new Map<string, Decision>();
  /** Last time each (policy, device) fired, and last decision made for it. */
  readonly #fired = new Map<string, number>();
  readonly #decided = new Map<string, number>();
  /** (policy, device) pairs with a signal queued and not yet considered: a flood queues one. */
  readonly #pending = new Set<string>();
  /** The held partition decision of each site. */
  readonly #partitions = new Map<string, string>();
  readonly #timers = new Set<Timer>();
  #tick: Timer | undefined;
  #queue: Promise<void> = Promise.resolve();
  #unsubscribe: (() => void) | undefined;
  /** The policies of scope hub: the hub's loop on itself. */
  readonly #self: SelfLoop;
  /** The windows of the policies' metric triggers. */
  readonly #metrics: MetricWatch;

  constructor(deps: ManagerDeps) {
    this.#deps = deps;
    this.#self = new SelfLoop({
      deps,
      policies: () => this.#policies,
      autonomy: () => this.#autonomy,
      enqueue: (fn) => this.#enqueue(fn),
      save: (d) => this.#save(d),
      execute: (d) => this.#execute(d),
      recent: (policy) => deps.store.listDecisions({ policy, limit: RECENT_DECISIONS }),
      log: (obj, msg) => deps.logger.debug(obj, msg),
    });
    this.#metrics = new MetricWatch({ clock: deps.clock, emit: (s) => this.#onSignal(s) });
  }

  async start(): Promise<void> {
    await this.reload();
    await this.#self.reset();
    const open = await this.#deps.store.listDecisions({ states: [...OPEN_STATES, 'succeeded'], limit: 10_000 });
    for (const d of open) if (isOpenDecision(d)) this.#open.set(d.id, d);
    this.#unsubscribe = this.#deps.monitor.signals.on('signal', (s) => this.#onSignal(s));
    this.#tick = this.#deps.clock.setInterval(() => this.#enqueue(() => this.#onTick()), this.#deps.tickMs ?? 1000);
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#metrics.stop();
    this.#tick?.cancel();
    for (const t of this.#timers) t.cancel();
    this.#timers.clear();
    await this.#queue;
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
  async idle(): Promise<void> {
    let last: Promise<void> | undefined;
    while (last !== this.#queue) {
      last = this.#queue;
      await last;
    }
  }

  approve(id: string, by: string, reason: string | null): Promise<Decision> {
    return this.#decide(id, by, reason, 'approved');
  }

  /** A person resolves an incident; in turn with the loop, which may be writing to it. */
  resolveIncident(id: string, by: string, note: string): Promise<Incident> {
    return this.#run(() => this.#deps.incidents.resolve(id, by, note));
  }

  /** A person's request to replace `old` with `neu`: checked, planned, and (unless a dry run) carried out. */
  replace(old: string, neu: string, by: string, dryRun: boolean): Promise<ReplaceDeviceResponse> {
    return this.#run(() => requestReplacement(this.#loop(), old, neu, by, dryRun));
  }

  /** A device claimed through a group: when it names a slot held by a retired or offline device, it replaces it. */
  enrolled(name: string, group: string): void {
    this.#enqueue(() => fillSlot(this.#loop(), name, group));
  }

  /** What the hub's own decisions (hand-back, replacement) need of the loop. */
  #loop(): HubLoop {
    return {
      deps: this.#deps,
      autonomy: this.#autonomy,
      policies: this.#policies,
      carryOut: (d) => this.#carryOut(d),
    };
  }

  /** Stores the decision and, when it acts now, carries it out; a replacement moves other decisions, read again. */
  async #carryOut(d: Decision): Promise<Decision> {
    const stored = await this.#save(d);
    if (stored.state !== 'executing') return stored;
    const saved = await this.#execute(stored);
    const plan = saved.actions[0]?.params.plan as { approvals?: { id: string }[] } | undefined;
    for (const { id } of plan?.approvals ?? []) {
      const moved = await this.#deps.store.getDecision(id);
      if (moved && isOpenDecision(moved)) this.#open.set(id, moved);
      else this.#open.delete(id);
    }
    return saved;
  }

  reject(id: string, by: string, reason: string | null): Promise<Decision> {
    return this.#decide(id, by, reason, 'rejected');
  }

  #decide(id: string, by: string, reason: string | null, outcome: 'approved' | 'rejected'): Promise<Decision> {
    return this.#run(async () => {
      const d = this.#open.get(id) ?? (await this.#deps.store.getDecision(id));
      if (!d) throw new HomeostatError('ERR_DECISION_NOT_FOUND', `no decision ${id}`);
      if (d.state !== 'awaiting-approval' || d.approval === null) {
        throw new HomeostatError('ERR_DECISION_STATE', `decision ${id} is ${d.state}, not awaiting approval`);
      }
      const now = this.#deps.clock.now();
      const approval = { ...d.approval, by, at: now, reason };
      const note = `${outcome} by ${by}${reason ? `: ${reason}` : ''}`;
      const decided = await this.#save(transition({ ...d, approval }, outcome, now, note));
      if (outcome === 'rejected') return decided;
      const done = await this.#execute(decided);
      await settleHandBack(this.#deps, done);
      return done;
    });
  }

  /** Runs work in turn; the caller gets its result or its error. */
  #run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(fn);
    this.#queue = result.then(
      () => {},
      () => {},
    );
    return result;
  }

  #enqueue(fn: () => Promise<void>): void {
    this.#run(fn).catch((err: unknown) => this.#deps.logger.error({ err }, 'autonomic loop step failed'));
  }

  #onSignal(signal: Signal): void {
    if (signal.kind === 'hub') {
      this.#self.onSignal(signal);
      return;
    }
    // Cheap checks first: a flood of refusals must not queue a store read per message.
    for (const policy of this.#policies) {
      if (!firesTrigger(policy.spec.trigger, signal)) continue;
      if (signal.kind === 'metric' && signal.policy !== policy.name) continue;
      const key = keyOf(policy.name, signal.device);
      this.#fired.set(key, signal.at);
      if (this.#pending.has(key) || this.#busy(policy, signal.device)) continue;
      this.#pending.add(key);
      this.#enqueue(() => this.#consider(policy, signal).finally(() => this.#pending.delete(key)));
    }
  }

  /** An open decision, or one within the cooldown, for this policy and device. */
  #busy(policy: PolicyRecord, device: string): boolean {
    const decided = this.#decided.get(keyOf(policy.name, device));
    if (decided !== undefined && this.#deps.clock.now() - decided < (policy.spec.cooldownMs ?? DEFAULT_COOLDOWN_MS)) {
      return true;
    }
    for (const d of this.#open.values()) if (d.policy === policy.name && d.trigger.device === device) return true;
    return false;
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
    await this.#after(hold - (this.#deps.clock.now() - signal.since), () => this.#evaluateSilence(policy, signal));
  }

  /** Runs `fn` in turn now, or after `ms` on the clock. */
  #after(ms: number, fn: () => Promise<void>): Promise<void> | undefined {
    if (ms <= 0) return fn();
    const timer = this.#deps.clock.setTimeout(() => {
      this.#timers.delete(timer);
      this.#enqueue(fn);
    }, ms);
    this.#timers.add(timer);
    return undefined;
  }

  async #evaluateSilence(policy: PolicyRecord, signal: Extract<Signal, { kind: 'liveness' }>): Promise<void> {
    const now = this.#deps.liveness.get(signal.device);
    // Level-based: the device must still be in the state, since the same moment.
    if (now.state !== signal.state || now.since !== signal.since) return;
    const device = await this.#deps.store.getDevice(signal.device);
    if (!device) return;
    const site = device.labels[SITE_LABEL];
    if (site === undefined) {
      await this.#evaluate(policy, signal, device);
      return;
    }
    const siteDevices = (await this.#deps.store.listDevices())
      .filter((d) => d.labels[SITE_LABEL] === site && d.lifecycle !== 'retired')
      .map((d) => ({ name: d.name, ...pick(this.#deps.liveness.get(d.name)) }));
    const silent = {
      name: device.name,
      labels: device.labels,
      lastSeen: signal.lastSeen,
      heartbeatMs: signal.heartbeatMs,
    };
    const rule = this.#deps.partition ?? DEFAULT_PARTITION_RULE;
    const settleUntil = signal.since + (this.#deps.settleIntervals ?? 0.8) * signal.heartbeatMs;
    const clock = this.#deps.clock.now();
    const step = guardPartition(silent, siteDevices, clock, settleUntil, rule);
    if (step.kind === 'wait') {
      await this.#after(step.until - clock, () => this.#evaluateSilence(policy, signal));
      return;
    }
    if (step.kind === 'judge') {
      const verdict = judgePartition(silent, siteDevices, rule);
      if (verdict.partition) {
        await this.#holdPartition(policy, signal, verdict);
        return;
      }
    }
    const guard =
      step.kind === 'device'
        ? `partition guard: at most ${step.possible} of the ${step.total} devices of site ${site} went silent with it (${step.heard.length} heard since): not a partition`
        : `partition guard: site ${site} did not go silent with it`;
    const evidence = { ...signal.evidence, detail: `${signal.evidence.detail}; ${guard}` };
    await this.#evaluate(policy, { ...signal, evidence }, device);
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
    input.localActions = await this.#localActions(draft.decision);
    const triggerRule = signal.kind === 'event' && typeof signal.data.rule === 'string' ? signal.data.rule : null;
    const decision = await this.#save(gate(draft.decision, { ...input, triggerRule }));
    this.#decided.set(keyOf(policy.name, device.name), decision.createdAt);
    if (decision.state === 'executing') await this.#execute(decision);
  }

  /** What the devices the decision acts on decided themselves lately (their `action` events). */
  async #localActions(d: Decision): Promise<LocalAction[]> {
    const targets = new Set(d.actions.flatMap((a) => (a.device === null ? [] : [a.device])));
    const out: LocalAction[] = [];
    for (const device of targets) {
      const events = await this.#deps.store.listEvents({ device, type: 'action', limit: RECENT_LOCAL_ACTIONS });
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

  /** One held decision per site while it is cut off; devices that go silent later join it. */
  async #holdPartition(
    policy: PolicyRecord,
    signal: Extract<Signal, { kind: 'liveness' }>,
    verdict: Extract<PartitionVerdict, { partition: true }>,
  ): Promise<void> {
    const now = this.#deps.clock.now();
    const summary = `${verdict.silent.length} of the ${verdict.total} devices of site ${verdict.site} went silent within ${verdict.windowMs} ms of each other`;
    const reason = `partition guard: ${summary}; the network (or the site's power), not the devices: no device is acted on`;
    const knownId = this.#partitions.get(verdict.site);
    const known = knownId ? (this.#open.get(knownId) ?? (await this.#deps.store.getDecision(knownId))) : undefined;
    if (known && known.state === 'held' && now - known.createdAt < PARTITION_EPISODE_MS) {
      const devices = [...new Set([...known.devices, ...verdict.silent])].sort();
      if (devices.length === known.devices.length) return;
      const joined = devices.filter((d) => !known.devices.includes(d));
      await this.#save(
        transition(
          {
            ...known,
            devices,
            hold: { reason, until: null },
            trigger: {
              ...known.trigger,
              evidence: { ...known.trigger.evidence, silent: devices, total: verdict.total },
            },
          },
          'held',
          now,
          `also silent: ${joined.join(', ')}`,
        ),
      );
      return;
    }
    const decision = partitionDecision({
      id: newId('dec'),
      now,
      policy,
      signal,
      verdict,
      autonomy: this.#autonomy,
      summary,
      reason,
    });
    const saved = await this.#save(decision);
    this.#partitions.set(verdict.site, saved.id);
  }

  /** Carries out the planned actions in order, then verifies or escalates. */
  async #execute(start: Decision): Promise<Decision> {
    let d =
      start.state === 'executing'
        ? start
        : transition(start, 'executing', this.#deps.clock.now(), 'carrying out the plan');
    for (let i = 0; i < d.actions.length; i++) {
      const action = d.actions[i];
      if (action?.state !== 'planned') continue;
      const ran = await runAction(this.#deps, d, action);
      const actions = d.actions.map((a, j) => (j === i ? ran.action : a));
      d = await this.#save({
        ...d,
        actions,
        incident: d.incident ?? ran.incident ?? null,
        updatedAt: this.#deps.clock.now(),
      });
    }
    const now = this.#deps.clock.now();
    if (d.actions.some((a) => a.state === 'failed')) {
      d = await this.#save(transition(d, 'failed', now, 'an action failed'));
      return this.#escalate(d, 'an action failed');
    }
    d = transition(d, 'succeeded', now, 'every action carried out');
    const verify = this.#policies.find((p) => p.name === d.policy)?.spec.verify;
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
    return this.#save(
      transition(
        d,
        d.state,
        now,
        verify ? `verifying: ${verify.check} within ${verify.withinMs} ms` : 'nothing to verify',
      ),
    );
  }

  async #escalate(d: Decision, why: string): Promise<Decision> {
    const incident = await this.#deps.incidents.escalate(d, why);
    const now = this.#deps.clock.now();
    const verification = d.verification && { ...d.verification, outcome: 'escalated' as const, at: now, detail: why };
    return this.#save(
      transition(
        { ...d, verification, incident: incident.id },
        'escalated',
        now,
        `${why}; incident ${incident.id} is critical`,
      ),
    );
  }

  async #onTick(): Promise<void> {
    const now = this.#deps.clock.now();
    for (const d of [...this.#open.values()]) {
      if (d.state === 'awaiting-approval' && d.approval && now >= d.approval.deadline) {
        const fallback = d.approval.default;
        const note = `no answer by the deadline: the stated default, ${fallback}, applies`;
        const decided = await this.#save(transition(d, fallback === 'approve' ? 'approved' : 'expired', now, note));
        if (fallback === 'approve') await settleHandBack(this.#deps, await this.#execute(decided));
      } else if (d.state === 'held' && d.hold?.until != null && now >= d.hold.until) {
        await this.#resume(d);
      } else if (d.verification?.outcome === 'pending') {
        await this.#verify(d, now);
      }
    }
    await handBackDue(this.#loop(), now);
  }

  /** A decision held for a device's own loop: gated again, as if new. */
  async #resume(d: Decision): Promise<void> {
    const policy = this.#policies.find((p) => p.name === d.policy);
    if (!policy) {
      await this.#save(
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
      localActions: await this.#localActions(d),
      triggerRule: typeof rule === 'string' ? rule : null,
    });
    const saved = await this.#save(gated);
    if (saved.state === 'executing') await this.#execute(saved);
  }

  async #verify(d: Decision, now: number): Promise<void> {
    const v = d.verification;
    if (!v) return;
    const device = d.trigger.device;
    let ok = false;
    let detail = '';
    if (v.check === 'desired-applied') {
      const written = d.actions.filter((a) => a.device !== null && typeof a.params.version === 'number');
      const pending: string[] = [];
      for (const a of written) {
        const r = await this.#deps.store.getDevice(a.device as string);
        if ((r?.reported.desiredVersion ?? -1) < (a.params.version as number))
          pending.push(`${a.device} (version ${a.params.version as number})`);
      }
      ok = pending.length === 0;
      detail = ok
        ? `applied by ${written.map((a) => a.device).join(', ') || 'no device'}`
        : `not applied by ${pending.join(', ')}`;
    } else if (v.check === 'cleared') {
      // Verified when the symptom clears (self-loop.ts), or here from the samples after a restart.
      const policy = this.#policies.find((p) => p.name === d.policy);
      const since = d.history.find((h) => h.state === 'succeeded')?.at ?? d.updatedAt;
      ok = !this.#self.firing(d.policy) && policy !== undefined && this.#self.clearedSince(policy, d.policy, since);
      const last = this.#self.lastSignal(d.policy);
      const value = last ? `: ${last.metric} is ${last.value}` : '';
      detail = ok ? `the symptom cleared${value}` : `the symptom has not cleared${value}`;
    } else if (v.check === 'online') {
      ok = device !== null && this.#deps.liveness.get(device).state === 'online';
      detail = ok
        ? `${device} is online`
        : `${device} is still ${device === null ? '?' : this.#deps.liveness.get(device).state}`;
    } else {
      const fired = device === null ? undefined : this.#fired.get(keyOf(d.policy, device));
      const since = d.history.find((h) => h.state === 'succeeded')?.at ?? d.updatedAt;
      if (fired !== undefined && fired > since) {
        await this.#escalate(d, `the trigger fired again at ${new Date(fired).toISOString()}`);
        return;
      }
      ok = now >= v.deadline;
      detail = 'the trigger did not fire again';
    }
    if (ok) {
      const verification = { ...v, outcome: 'verified' as const, at: now, detail };
      await this.#save(transition({ ...d, verification }, 'verified', now, detail));
    } else if (now >= v.deadline) {
      await this.#escalate(d, `expected effect not seen by the deadline: ${detail}`);
    }
  }

  /** Stores the decision, keeps the tick's view in step, and writes it to the event log. */
  async #save(d: Decision): Promise<Decision> {
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
}

function keyOf(policy: string, device: string): string {
  return `${policy}\u0000${device}`;
}

function facts(d: DeviceRecord): DeviceFacts {
  return { name: d.name, labels: d.labels };
}

function pick(l: LivenessEntry): { state: LivenessEntry['state']; lastSeen: number | null; heartbeatMs: number } {
  return { state: l.state, lastSeen: l.lastSeen, heartbeatMs: l.heartbeatMs };
}
