// What every benchmark shares: its shape, progress on stderr, flags, deadlines, and clean-ups
// that run however the benchmark ends. Figures go to stdout as one JSON line, printed by run.ts.

import { parseArgs } from 'node:util';

/** Figures of one run: flat, JSON-serialisable, units in the key names. */
export type Figures = Record<string, string | number | boolean | null>;

export interface Benchmark {
  /** One line for the list printed on an unknown name. */
  summary: string;
  /** Flags understood, for the usage line. */
  usage: string;
  run(argv: readonly string[], cleanups: Cleanups): Promise<Figures>;
}

/** Human-readable progress, on stderr so stdout stays one JSON line. */
export function progress(message: string): void {
  const t = new Date().toISOString().slice(11, 19);
  process.stderr.write(`[${t}] ${message}\n`);
}

/** A run that failed after measuring something: the runner prints these figures, then exits 1. */
export class BenchFailure extends Error {
  readonly figures: Figures;

  constructor(message: string, figures: Figures) {
    super(message);
    this.figures = figures;
  }
}

/** Thrown for bad flags: the runner prints it with the usage line and exits 2. */
export class UsageError extends Error {}

/**
 * Parses `--name value` flags and `--name` switches; an unknown or malformed flag is a UsageError.
 * Returns the string values by name, and the switches that were given.
 */
export function parseFlagValues(
  argv: readonly string[],
  strings: readonly string[],
  switches: readonly string[] = [],
): Record<string, string | undefined> & { switches: ReadonlySet<string> } {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const name of strings) options[name] = { type: 'string' };
  for (const name of switches) options[name] = { type: 'boolean' };
  try {
    const { values } = parseArgs({ args: [...argv], strict: true, options });
    const out: Record<string, string | undefined> = {};
    const given = new Set<string>();
    for (const [name, value] of Object.entries(values)) {
      if (value === true) given.add(name);
      else if (typeof value === 'string') out[name] = value;
    }
    return Object.assign(out, { switches: given });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function intFlag(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/**
 * Clean-up steps, run last-registered first. `run()` awaits each (with its own time bound); the
 * process 'exit' hook runs only the synchronous fallbacks (e.g. SIGKILL of a child process), for
 * when the benchmark dies without reaching `run()`.
 */
export class Cleanups {
  readonly #steps: { name: string; run: () => Promise<void>; onExit?: () => void }[] = [];

  add(name: string, run: () => Promise<void>, onExit?: () => void): void {
    this.#steps.push(onExit ? { name, run, onExit } : { name, run });
  }

  async run(): Promise<void> {
    while (this.#steps.length > 0) {
      const step = this.#steps.pop()!;
      try {
        await step.run();
      } catch (err) {
        progress(`clean-up "${step.name}" failed: ${(err as Error).message}`);
        step.onExit?.();
      }
    }
  }

  /** Synchronous last resort, for process 'exit'. */
  runSync(): void {
    while (this.#steps.length > 0) this.#steps.pop()!.onExit?.();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `p`, or a rejection naming `what` after `ms`. */
export async function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: gave up after ${(ms / 1000).toFixed(0)} s`)), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `worker` over `items` with at most `concurrency` at once. */
export async function forEachLimited<T>(
  items: readonly T[],
  concurrency: number,
  worker: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) await worker(items[i]!, i);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, lane));
}

export const round = (x: number, digits = 1): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

export const MiB = 1024 * 1024;
