// The conditions of a rule, compiled once into a tree of nodes that evaluate in place: a rule runs
// on every sample of every device, so an evaluation reads the streams and compares numbers
// without allocating. Each stream the rule reads is one `Input`, refreshed once per evaluation
// and shared by every comparison and operand that names it.
//
// Semantics, in the order the code applies them:
// - A comparison reads its stream's latest value, or a statistic over a window of it.
// - A missing input (never seen) or a stale one (see `staleLimitMs`) makes the comparison false,
//   and so does a missing or stale operand. `not` of such a comparison is therefore true: write
//   conditions so that false is the safe side (see rule.ts).
// - `above` and `below` are strict bounds; with both, the value must lie strictly between them.
// - `forMs`: the comparison counts as true once it has held at every evaluation for that long.
//   Every node is evaluated every time (no short-circuit), so that a comparison under an `any`
//   whose sibling already holds still sees its own interruptions.

import type { Comparison, Condition, Operand, WindowStat } from '@homeostat/protocol';
import type { LocalStreams } from './module.js';

/**
 * Without `staleAfterMs`, an input is stale once it is silent for this many of its own intervals
 * (the last interval seen between two of its readings), but never sooner than STALE_FLOOR_MS, so
 * a loaded machine's timer jitter on a 1 Hz sensor is not an outage. Until a second reading shows
 * the interval, FIRST_READING_STALE_MS. Learning the interval lets one default serve a 1 Hz
 * sensor and a model that publishes every minute alike.
 */
export const STALE_INTERVALS = 3;
export const STALE_FLOOR_MS = 5_000;
export const FIRST_READING_STALE_MS = 60_000;

export type InputStatus = 'ok' | 'missing' | 'stale';

/** One stream the rule reads. `value` is NaN unless the latest reading is fresh. */
export class Input {
  readonly metric: string;
  value = Number.NaN;
  status: InputStatus = 'missing';
  #ts = Number.NaN;
  #intervalMs = 0;

  constructor(metric: string) {
    this.metric = metric;
  }

  refresh(streams: LocalStreams, now: number, staleAfterMs: number | undefined): void {
    const latest = streams.latest(this.metric);
    if (latest === undefined) {
      this.value = Number.NaN;
      this.status = 'missing';
      return;
    }
    if (latest.ts !== this.#ts) {
      // The first reading (this.#ts still NaN) shows no interval yet.
      if (latest.ts > this.#ts) this.#intervalMs = latest.ts - this.#ts;
      this.#ts = latest.ts;
    }
    const fresh = now - latest.ts <= (staleAfterMs ?? this.staleLimitMs());
    this.value = fresh ? latest.value : Number.NaN;
    this.status = fresh ? 'ok' : 'stale';
  }

  /** How long this input may stay silent before it is stale, by default. */
  staleLimitMs(): number {
    const interval = this.#intervalMs;
    return interval > 0 ? Math.max(STALE_FLOOR_MS, STALE_INTERVALS * interval) : FIRST_READING_STALE_MS;
  }
}

/** A bound: a constant, or an input's fresh value plus an offset (NaN when the input is not fresh). */
class Bound {
  readonly #input: Input | null;
  readonly #offset: number;

  constructor(input: Input | null, offset: number) {
    this.#input = input;
    this.#offset = offset;
  }

  get value(): number {
    return this.#input === null ? this.#offset : this.#input.value + this.#offset;
  }
}

export interface ConditionNode {
  evaluate(streams: LocalStreams, now: number): boolean;
  /** Appends the comparisons under this node, in the order they are written. */
  leaves(out: Leaf[]): void;
}

/** A comparison, with what it saw at its last evaluation (for the decision record). */
export class Leaf implements ConditionNode {
  readonly spec: Comparison;
  readonly input: Input;
  readonly #above: Bound | null;
  readonly #below: Bound | null;
  readonly #forMs: number;
  /** What was compared (NaN: missing or stale), and the bounds it was compared with. */
  value = Number.NaN;
  above = Number.NaN;
  below = Number.NaN;
  /** Since when the comparison has held without interruption; NaN while it does not. */
  heldSince = Number.NaN;
  holds = false;

  constructor(spec: Comparison, input: Input, above: Bound | null, below: Bound | null) {
    this.spec = spec;
    this.input = input;
    this.#above = above;
    this.#below = below;
    this.#forMs = spec.forMs ?? 0;
  }

  evaluate(streams: LocalStreams, now: number): boolean {
    const v = this.#read(streams, now);
    const lo = this.#above === null ? Number.NEGATIVE_INFINITY : this.#above.value;
    const hi = this.#below === null ? Number.POSITIVE_INFINITY : this.#below.value;
    this.value = v;
    this.above = lo;
    this.below = hi;
    // Comparisons with NaN are false, so a missing value or bound fails here.
    if (v > lo && v < hi) {
      if (Number.isNaN(this.heldSince)) this.heldSince = now;
    } else {
      this.heldSince = Number.NaN;
    }
    this.holds = now - this.heldSince >= this.#forMs;
    return this.holds;
  }

  leaves(out: Leaf[]): void {
    out.push(this);
  }

  #read(streams: LocalStreams, now: number): number {
    const window = this.spec.window;
    if (window === undefined) return this.input.value;
    // A count is fresh by nature: no readings in the window is a count of 0 (a silent sensor).
    if (window.stat === 'count') return streams.stat(this.input.metric, window.sizeMs, 'count', now) ?? 0;
    if (Number.isNaN(this.input.value)) return Number.NaN;
    return streams.stat(this.input.metric, window.sizeMs, window.stat, now) ?? Number.NaN;
  }
}

class All implements ConditionNode {
  constructor(readonly children: readonly ConditionNode[]) {}

  evaluate(streams: LocalStreams, now: number): boolean {
    let result = true;
    for (const child of this.children) if (!child.evaluate(streams, now)) result = false;
    return result;
  }

  leaves(out: Leaf[]): void {
    for (const child of this.children) child.leaves(out);
  }
}

class Any implements ConditionNode {
  constructor(readonly children: readonly ConditionNode[]) {}

  evaluate(streams: LocalStreams, now: number): boolean {
    let result = false;
    for (const child of this.children) if (child.evaluate(streams, now)) result = true;
    return result;
  }

  leaves(out: Leaf[]): void {
    for (const child of this.children) child.leaves(out);
  }
}

class Not implements ConditionNode {
  constructor(readonly child: ConditionNode) {}

  evaluate(streams: LocalStreams, now: number): boolean {
    return !this.child.evaluate(streams, now);
  }

  leaves(out: Leaf[]): void {
    this.child.leaves(out);
  }
}

/** The streams of one rule: compiles its conditions and refreshes their inputs. */
export class RuleInputs {
  readonly #inputs = new Map<string, Input>();
  /** The same inputs, as an array: iterating it allocates nothing. */
  readonly #list: Input[] = [];
  readonly #staleAfterMs: number | undefined;

  constructor(staleAfterMs: number | undefined) {
    this.#staleAfterMs = staleAfterMs;
  }

  /** The metrics the compiled conditions read. */
  get metrics(): ReadonlySet<string> {
    return new Set(this.#inputs.keys());
  }

  /** The inputs now missing or stale. */
  unavailable(): Input[] {
    return this.#list.filter((i) => i.status !== 'ok');
  }

  refresh(streams: LocalStreams, now: number): void {
    for (const input of this.#list) input.refresh(streams, now, this.#staleAfterMs);
  }

  compile(condition: Condition): ConditionNode {
    if ('all' in condition) return new All(condition.all.map((c) => this.compile(c)));
    if ('any' in condition) return new Any(condition.any.map((c) => this.compile(c)));
    if ('not' in condition) return new Not(this.compile(condition.not));
    return new Leaf(
      condition,
      this.#input(condition.metric),
      this.#bound(condition.above),
      this.#bound(condition.below),
    );
  }

  #bound(operand: Operand | undefined): Bound | null {
    if (operand === undefined) return null;
    if (typeof operand === 'number') return new Bound(null, operand);
    return new Bound(this.#input(operand.metric), operand.offset ?? 0);
  }

  #input(metric: string): Input {
    let input = this.#inputs.get(metric);
    if (input === undefined) {
      input = new Input(metric);
      this.#inputs.set(metric, input);
      this.#list.push(input);
    }
    return input;
  }
}

/** What the parser cannot see: comparisons that can never hold. `path` as the parser's, e.g. `/config/when`. */
export function conditionProblems(condition: Condition, path: string): string[] {
  if ('all' in condition) return condition.all.flatMap((c, i) => conditionProblems(c, `${path}/all/${i}`));
  if ('any' in condition) return condition.any.flatMap((c, i) => conditionProblems(c, `${path}/any/${i}`));
  if ('not' in condition) return conditionProblems(condition.not, `${path}/not`);
  const { above, below } = condition;
  if (above === undefined && below === undefined) return [`${path}: a comparison needs above, below or both`];
  if (above === undefined || below === undefined) return [];
  const lo = constantPart(above);
  const hi = constantPart(below);
  if (lo.metric === hi.metric && lo.offset >= hi.offset) {
    return [`${path}: above ${describeOperand(above)} and below ${describeOperand(below)} can never both hold`];
  }
  return [];
}

/** Splits an operand into the stream it follows (null for a constant) and its constant part. */
function constantPart(operand: Operand): { metric: string | null; offset: number } {
  return typeof operand === 'number'
    ? { metric: null, offset: operand }
    : { metric: operand.metric, offset: operand.offset ?? 0 };
}

function describeOperand(operand: Operand): string {
  if (typeof operand === 'number') return String(operand);
  const offset = operand.offset ?? 0;
  if (offset === 0) return operand.metric;
  return `${operand.metric} ${offset < 0 ? '−' : '+'} ${Math.abs(offset)}`;
}

/** The label of what a comparison reads: `temperature`, or `p95(vibration, 600 s)`. */
export function describeRead(metric: string, window: { sizeMs: number; stat: WindowStat } | undefined): string {
  return window === undefined ? metric : `${window.stat}(${metric}, ${window.sizeMs / 1000} s)`;
}
