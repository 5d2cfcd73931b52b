// Parsers for command-line values: labels, durations, counts, `key=value` twin assignments.
// Each throws a UsageError (exit code 2) that names the flag and the bad value.

import { isLabelKey, isLabelValue, isName } from '@homeostat/protocol';
import { UsageError } from './errors.js';

/** Checks a resource name the way the hub will, so a typo fails before a request is sent. */
export function parseName(kind: string, value: string): string {
  if (!isName(value)) {
    throw new UsageError(
      `invalid ${kind} name ${JSON.stringify(value)}: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit`,
    );
  }
  return value;
}

/** Labels from repeated `-l k=v` flags, each of which may also hold `k=v,k2=v2`. */
export function parseLabelArgs(values: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  const problems: string[] = [];
  for (const value of values) {
    for (const part of value.split(',')) {
      if (part.trim() === '') continue;
      const eq = part.indexOf('=');
      if (eq <= 0) {
        problems.push(`${JSON.stringify(part)}: expected key=value`);
        continue;
      }
      const key = part.slice(0, eq).trim();
      const val = part.slice(eq + 1).trim();
      if (!isLabelKey(key)) problems.push(`${JSON.stringify(key)}: invalid label key`);
      else if (!isLabelValue(val)) problems.push(`${JSON.stringify(val)}: invalid label value for ${key}`);
      else labels[key] = val;
    }
  }
  if (problems.length > 0) throw new UsageError('invalid labels', problems);
  return labels;
}

/** Commander's collector for repeatable options. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `10m`, `1h30m`, `2d` or `500ms` to milliseconds. */
export function parseDuration(flag: string, text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let end = 0;
  for (let match = re.exec(text); match !== null; match = re.exec(text)) {
    total += Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? 0);
    end = re.lastIndex;
  }
  if (text === '' || end !== text.length || total <= 0) {
    throw new UsageError(`invalid ${flag} ${JSON.stringify(text)}: expected a duration such as 30s, 10m, 1h30m or 2d`);
  }
  return Math.round(total);
}

/** A whole number within bounds, for `--limit`, `--version` and the like. */
export function parseInteger(flag: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^-?\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`invalid ${flag} ${JSON.stringify(text)}: expected a whole number ${range}`);
  }
  return n;
}

/**
 * `key=value` assignments as a JSON merge patch. The value is read as JSON when it parses
 * (`21`, `true`, `null` to delete, `{"a":1}`, `"21"` for a string of digits), else taken as a
 * string. Dots nest (`setpoint.day=21`); keys that contain dots need `twin patch --json`.
 */
export function parseAssignments(values: readonly string[]): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const item of values) {
    const eq = item.indexOf('=');
    const path = eq > 0 ? item.slice(0, eq).split('.') : [];
    if (eq <= 0 || path.some((p) => p === '')) {
      problems.push(`${JSON.stringify(item)}: expected key=value (nested keys as a.b=value)`);
      continue;
    }
    const raw = item.slice(eq + 1);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    let node = patch;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (typeof next === 'object' && next !== null && !Array.isArray(next)) node = next as Record<string, unknown>;
      else {
        const fresh: Record<string, unknown> = {};
        node[key] = fresh;
        node = fresh;
      }
    }
    node[path[path.length - 1] as string] = value;
  }
  if (problems.length > 0) throw new UsageError('invalid assignments', problems);
  if (Object.keys(patch).length === 0) throw new UsageError('nothing to set: give at least one key=value');
  return patch;
}
