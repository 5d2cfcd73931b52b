// Parsing at the boundary: `unknown` in, a typed value or every problem as `path: message` out.

import type { Static, TSchema } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';

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
  // A union's own error says only "Expected union value": explain with the member whose JSON
  // type (array or object) matches the value instead.
  const members = Array.isArray(schema.anyOf)
    ? (schema.anyOf as TSchema[]).map((m) => ({ type: m.type as unknown, check: TypeCompiler.Compile(m) }))
    : [];
  return {
    schema,
    parse(value) {
      if (check.Check(value)) return { ok: true, value };
      const jsonType = Array.isArray(value) ? 'array' : typeof value === 'object' && value !== null ? 'object' : '';
      const explain = members.find((m) => m.type === jsonType)?.check ?? check;
      const errors: string[] = [];
      let more = 0;
      for (const e of explain.Errors(value)) {
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
  for (const [key, child] of Object.entries(value)) {
    const found = findNonFinite(child, `${path}/${key}`);
    if (found !== null) return found;
  }
  return null;
}
