// Parsing at the boundary: `unknown` in, a typed value or every problem as `path: message` out.

import type { Static, TSchema } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler, type ValueError, ValueErrorType } from '@sinclair/typebox/compiler';

export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: string[] };

/** Most problems reported for one value; the rest are summarised in one line. */
const MAX_PROBLEMS = 20;

export interface Parser<S extends TSchema> {
  readonly schema: S;
  parse(value: unknown): Parsed<Static<S>>;
}

/** Compiles a schema once; `parse` is then cheap enough for the ingest path. */
export function parser<S extends TSchema>(schema: S): Parser<S> {
  const check: TypeCheck<S> = TypeCompiler.Compile(schema);
  return {
    schema,
    parse(value) {
      if (check.Check(value)) return { ok: true, value };
      const errors: string[] = [];
      let more = 0;
      for (const e of explain(check.Errors(value))) {
        if (errors.length >= MAX_PROBLEMS) {
          more++;
          continue;
        }
        errors.push(`${e.path === '' ? '/' : e.path}: ${e.message}`);
      }
      if (more > 0) errors.push(`…: ${more} more problems`);
      return { ok: false, errors: dedupe(errors) };
    },
  };
}

/**
 * The errors to show. A union's own error says only "Expected union value": it is replaced by the
 * errors of the member the value was most likely meant to be (recursively), so a rule condition
 * with a misspelt field reports that field, not the union.
 */
function explain(errors: Iterable<ValueError>): ValueError[] {
  const out: ValueError[] = [];
  for (const e of errors) {
    if (e.type !== ValueErrorType.Union || e.errors.length === 0) {
      out.push(e);
      continue;
    }
    let best: ValueError[] | null = null;
    let bestScore = Number.POSITIVE_INFINITY;
    for (const member of e.errors) {
      const list = explain(member);
      const score = list.reduce((n, m) => n + misfit(m, e.path), 0);
      if (score < bestScore) {
        best = list;
        bestScore = score;
      }
    }
    out.push(...(best !== null && best.length > 0 ? best : [e]));
  }
  return out;
}

/**
 * How badly one error says the value is not this member: wrong JSON type at the union's own
 * place, or a wrong discriminating literal (`kind: rule` against the `process` member), weigh
 * far more than a mistake inside a member of the right shape.
 */
function misfit(e: ValueError, unionPath: string): number {
  if (e.path === unionPath) return 1000;
  if (e.type === ValueErrorType.Literal) return 100;
  return 1;
}

function dedupe(lines: string[]): string[] {
  return [...new Set(lines)];
}

/** JSON.parse that reports instead of throwing, and refuses non-finite numbers such as 1e999. */
export function parseJson(text: string): Parsed<unknown> {
  try {
    const value: unknown = JSON.parse(text);
    const bad = findNonFinite(value, '');
    return bad === null ? { ok: true, value } : { ok: false, errors: [`${bad}: number is not finite`] };
  } catch (err) {
    return { ok: false, errors: [`/: ${(err as Error).message}`] };
  }
}

function findNonFinite(value: unknown, path: string): string | null {
  if (typeof value === 'number') return Number.isFinite(value) ? null : path || '/';
  if (typeof value !== 'object' || value === null) return null;
  // The path is built only on the way back from a bad number: this runs on every message.
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNonFinite(value[i], '');
      if (found !== null) return `${path}/${i}${found === '/' ? '' : found}`;
    }
    return null;
  }
  for (const key in value) {
    const found = findNonFinite((value as Record<string, unknown>)[key], '');
    if (found !== null) return `${path}/${key}${found === '/' ? '' : found}`;
  }
  return null;
}
