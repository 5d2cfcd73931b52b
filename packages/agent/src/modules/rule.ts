// The `rule` module kind: a declarative decision taken on the device, so it keeps working when
// the hub is unreachable (a thermostat driving its heater, a mower going home on a low battery, a
// pump raising an alarm before its bearing fails).
//
// `RuleEngine` is the pure core: a latch with hysteresis over the compiled conditions
// (condition.ts), evaluated with the streams and the time passed in. It starts undecided:
// - undecided: `when` holds → active (onActivate runs: "runs again at start when the latch starts
//   active"); else `until` holds → inactive (onDeactivate runs). With the default `until` (not
//   `when`) the rule is level-like and always decides at once; with an explicit `until` a start
//   between the two thresholds touches nothing, since the rule does not know what drove the
//   actuators before it (another run of itself, a person) and must not override it blindly.
// - inactive → active when `when` holds and the latch has been inactive for minInactiveMs;
// - active → inactive when `until` holds and the latch has been active for minActiveMs.
// A missing or stale input makes its comparison false, so write `when` and `until` so that false
// is the safe side: a plain comparison never fires on data that is not there, and a rule without
// an explicit `until` lets go when its inputs go silent (a heater stops heating).
//
// `ruleKind` runs the engine as a module: it evaluates at start and on each sample (time-based
// transitions, forMs and minimum times, happen at the first sample after they are due), carries
// out the actions of each transition once, and records each transition as a decision event (type
// `action`, code RULE_ACTIVATED or RULE_DEACTIVATED) with the inputs that decided it and their
// values: every decision is recorded with its reason.

import type { Action, ModuleSpec, RuleConfig } from '@homeostat/protocol';
import {
  type ConditionNode,
  conditionProblems,
  describeRead,
  type InputStatus,
  type Leaf,
  RuleInputs,
} from './condition.js';
import {
  type HealthResult,
  type LocalStreams,
  type ModuleContext,
  type ModuleKindRunner,
  ModuleRefused,
  type RunningModule,
  type Sample,
} from './module.js';

export type RuleSpec = Extract<ModuleSpec, { kind: 'rule' }>;
export type LatchState = 'active' | 'inactive';

/** One comparison of the deciding condition, as it stood at the decision. */
export interface DecisionInput {
  /** What it read: `temperature`, or `p95(vibration, 600 s)`. */
  read: string;
  /** The value compared; null when there was none (see status). */
  value: number | null;
  /** The stream's state: ok, missing (never seen) or stale. */
  status: InputStatus;
  /** The bounds as resolved (null: its operand stream was missing or stale). */
  above?: number | null;
  below?: number | null;
  holds: boolean;
  /** With forMs: how long it had held. */
  heldMs?: number;
}

export interface RuleDecision {
  /** null: the first decision after start. */
  from: LatchState | null;
  to: LatchState;
  at: number;
  /** The condition that decided: `when` activates, `until` (or not `when`) deactivates. */
  by: 'when' | 'until';
  actions: readonly Action[];
  inputs: DecisionInput[];
}

export class RuleEngine {
  readonly #config: RuleConfig;
  readonly #inputs: RuleInputs;
  readonly #when: ConditionNode;
  readonly #until: ConditionNode | null;
  readonly #whenLeaves: Leaf[] = [];
  readonly #untilLeaves: Leaf[] = [];
  #state: LatchState | null = null;
  #since = Number.NaN;

  /** `config` must be valid (see `ruleProblems`). */
  constructor(config: RuleConfig) {
    this.#config = config;
    this.#inputs = new RuleInputs(config.staleAfterMs);
    this.#when = this.#inputs.compile(config.when);
    this.#until = config.until === undefined ? null : this.#inputs.compile(config.until);
    this.#when.leaves(this.#whenLeaves);
    (this.#until ?? this.#when).leaves(this.#untilLeaves);
  }

  /** null until the first decision. */
  get state(): LatchState | null {
    return this.#state;
  }

  /** When the latch last changed state, ms; NaN before the first decision. */
  get since(): number {
    return this.#since;
  }

  /** The streams the rule reads. */
  get metrics(): ReadonlySet<string> {
    return this.#inputs.metrics;
  }

  /** The streams now missing or stale, as of the last evaluation. */
  unavailable(): string[] {
    return this.#inputs.unavailable().map((i) => `${i.metric} (${i.status})`);
  }

  /** Evaluates at `now`; returns the transition it makes, if any (the caller carries out its actions). */
  evaluate(streams: LocalStreams, now: number): RuleDecision | null {
    this.#inputs.refresh(streams, now);
    // Both conditions are evaluated every time, so each comparison's forMs sees every interruption.
    const when = this.#when.evaluate(streams, now);
    const until = this.#until === null ? !when : this.#until.evaluate(streams, now);
    const { minActiveMs = 0, minInactiveMs = 0 } = this.#config;
    switch (this.#state) {
      case null:
        if (when) return this.#change('active', now);
        return until ? this.#change('inactive', now) : null;
      case 'inactive':
        return when && now - this.#since >= minInactiveMs ? this.#change('active', now) : null;
      case 'active':
        return until && now - this.#since >= minActiveMs ? this.#change('inactive', now) : null;
    }
  }

  #change(to: LatchState, now: number): RuleDecision {
    const from = this.#state;
    this.#state = to;
    this.#since = now;
    const activate = to === 'active';
    const leaves = activate ? this.#whenLeaves : this.#untilLeaves;
    return {
      from,
      to,
      at: now,
      by: activate || this.#until === null ? 'when' : 'until',
      actions: (activate ? this.#config.onActivate : this.#config.onDeactivate) ?? [],
      inputs: leaves.map((leaf) => decisionInput(leaf, now)),
    };
  }
}

function decisionInput(leaf: Leaf, now: number): DecisionInput {
  const { spec, input } = leaf;
  const out: DecisionInput = {
    read: describeRead(input.metric, spec.window),
    value: finiteOrNull(leaf.value),
    status: input.status,
    holds: leaf.holds,
  };
  if (spec.above !== undefined) out.above = finiteOrNull(leaf.above);
  if (spec.below !== undefined) out.below = finiteOrNull(leaf.below);
  if (spec.forMs !== undefined) out.heldMs = Number.isNaN(leaf.heldSince) ? 0 : now - leaf.heldSince;
  return out;
}

function finiteOrNull(n: number): number | null {
  return Number.isFinite(n) ? n : null;
}

/**
 * What the parser cannot catch, each as `path: problem`: comparisons that can never hold, and
 * actions or inputs outside the module's permissions (refused now, rather than denied at the
 * first transition, which for an alarm may come months later). Audit mode refuses nothing.
 */
export function ruleProblems(spec: RuleSpec): string[] {
  const { config, permissions } = spec;
  const problems = conditionProblems(config.when, '/config/when');
  if (config.until !== undefined) problems.push(...conditionProblems(config.until, '/config/until'));
  if (config.staleAfterMs === 0)
    problems.push('/config/staleAfterMs: 0 makes every input stale; omit it for the default');
  if (permissions?.mode === 'audit') return problems;
  const actuators = new Set(permissions?.actuators ?? []);
  const events = permissions?.events === undefined ? null : new Set(permissions.events);
  const check = (actions: readonly Action[] | undefined, path: string) =>
    actions?.forEach((action, i) => {
      if ('actuate' in action && !actuators.has(action.actuate.actuator)) {
        problems.push(`${path}/${i}/actuate/actuator: '${action.actuate.actuator}' is not in permissions.actuators`);
      }
      if ('raise' in action && events !== null && !events.has(action.raise.code)) {
        problems.push(`${path}/${i}/raise/code: '${action.raise.code}' is not in permissions.events`);
      }
    });
  check(config.onActivate, '/config/onActivate');
  check(config.onDeactivate, '/config/onDeactivate');
  if (permissions?.metrics !== undefined) {
    const readable = new Set(permissions.metrics);
    for (const metric of new RuleEngine(config).metrics) {
      if (!readable.has(metric)) problems.push(`/config: reads '${metric}', which is not in permissions.metrics`);
    }
  }
  return problems;
}

export const ruleKind: ModuleKindRunner<'rule'> = {
  kind: 'rule',
  async start(spec, ctx) {
    const problems = ruleProblems(spec);
    if (problems.length > 0) throw new ModuleRefused(`rule ${spec.name}: ${problems.join('; ')}`);
    const rule = new RunningRule(spec, ctx);
    // A rule whose condition already holds acts now, not at the next sample.
    rule.evaluate();
    return rule;
  },
};

class RunningRule implements RunningModule {
  readonly #ctx: ModuleContext;
  readonly #engine: RuleEngine;
  readonly #reads: ReadonlySet<string>;
  /** Actions of the last transition that failed; the rule is unhealthy while there are any. */
  #failed: string[] = [];
  #stopped = false;

  constructor(spec: RuleSpec, ctx: ModuleContext) {
    this.#ctx = ctx;
    this.#engine = new RuleEngine(spec.config);
    this.#reads = this.#engine.metrics;
  }

  evaluate(): void {
    if (this.#stopped) return;
    const decision = this.#engine.evaluate(this.#ctx.streams, this.#ctx.clock.now());
    if (decision !== null) this.#carryOut(decision);
  }

  onSample(sample: Sample): void {
    // Hardware samples come steadily and move time-based transitions along; a module's derived
    // sample matters only when it carries a stream this rule reads.
    if (sample.source === undefined || this.#carries(sample)) this.evaluate();
  }

  health(): HealthResult {
    const e = this.#engine;
    const parts = [e.state === null ? 'undecided' : `${e.state} since ${new Date(e.since).toISOString()}`];
    const unavailable = e.unavailable();
    if (unavailable.length > 0) parts.push(`inputs unavailable: ${unavailable.join(', ')}`);
    if (this.#failed.length > 0) parts.push(`failed: ${this.#failed.join('; ')}`);
    return { healthy: this.#failed.length === 0, detail: parts.join('; ') };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
  }

  #carries(sample: Sample): boolean {
    for (const metric in sample.metrics) if (this.#reads.has(metric)) return true;
    return false;
  }

  /**
   * Runs every action even when one fails (a denied actuator must not keep an alarm from being
   * raised), then records the decision with any failures. A failure makes the rule unhealthy, so
   * the supervisor restarts it and the restart tries again.
   */
  #carryOut(decision: RuleDecision): void {
    const ctx = this.#ctx;
    const failed: string[] = [];
    for (const action of decision.actions) {
      try {
        if ('actuate' in action) ctx.actuate(action.actuate.actuator, action.actuate.value);
        else ctx.raise({ ...action.raise, data: { rule: ctx.name, inputs: decision.inputs } });
      } catch (err) {
        failed.push(`${describeAction(action)}: ${(err as Error).message}`);
      }
    }
    this.#failed = failed;
    const record = {
      type: 'action' as const,
      code: decision.to === 'active' ? 'RULE_ACTIVATED' : 'RULE_DEACTIVATED',
      severity: failed.length > 0 ? ('warning' as const) : ('info' as const),
      message: decisionMessage(ctx.name, decision),
      data: {
        rule: ctx.name,
        from: decision.from,
        to: decision.to,
        by: decision.by,
        inputs: decision.inputs,
        actions: decision.actions.map(describeAction),
        ...(failed.length > 0 ? { failed } : {}),
        // Raising an alarm drives nothing a fleet action could fight with: the hub need not wait.
        ...(decision.actions.some((a) => 'actuate' in a) ? {} : { holdsFleet: false }),
      },
    };
    try {
      ctx.raise(record);
    } catch (err) {
      // The record must not be lost to a narrow events permission: the log keeps it.
      ctx.logger.warn({ err: (err as Error).message, decision: record.data }, `rule ${ctx.name}: ${record.message}`);
    }
  }
}

function describeAction(action: Action): string {
  if ('actuate' in action) return `actuate ${action.actuate.actuator} = ${JSON.stringify(action.actuate.value)}`;
  return `raise ${action.raise.type} ${action.raise.code}`;
}

/** E.g. `room-heating activated: temperature 19.71 (below 19.75)`. */
export function decisionMessage(name: string, decision: RuleDecision): string {
  const verb = decision.to === 'active' ? 'activated' : 'deactivated';
  const how = decision.by === 'when' && decision.to === 'inactive' ? ' (when no longer holds)' : '';
  return `${name} ${verb}${how}: ${decision.inputs.map(describeInput).join('; ')}`.slice(0, 1024);
}

function describeInput(input: DecisionInput): string {
  const value = input.value === null ? (input.status === 'ok' ? 'no readings' : input.status) : round(input.value);
  const bounds: string[] = [];
  if (input.above !== undefined) bounds.push(`above ${input.above === null ? 'unavailable' : round(input.above)}`);
  if (input.below !== undefined) bounds.push(`below ${input.below === null ? 'unavailable' : round(input.below)}`);
  if (input.heldMs !== undefined) bounds.push(`held ${Math.round(input.heldMs / 1000)} s`);
  return `${input.read} ${value} (${input.holds ? '' : 'not '}${bounds.join(', ')})`;
}

function round(n: number): string {
  return String(Number(n.toPrecision(4)));
}
