// Output: aligned tables for people, JSON and YAML for scripts. Tables go to stdout with no
// trailing spaces; ages are short (`3s`, `5m`, `2h`, `4d`) like kubectl's.

import { stringify } from 'yaml';
import { UsageError } from './errors.js';
import type { CliIo } from './io.js';

export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function parseOutputFormat(value: unknown): OutputFormat {
  if (typeof value === 'string' && (OUTPUT_FORMATS as readonly string[]).includes(value)) return value as OutputFormat;
  throw new UsageError(`invalid output format ${JSON.stringify(value)}: expected one of ${OUTPUT_FORMATS.join(', ')}`);
}

/** Columns separated by three spaces, each as wide as its widest cell; the last is not padded. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  const lines = all.map((row) =>
    header
      .map((_, i) => (i === header.length - 1 ? (row[i] ?? '') : (row[i] ?? '').padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd(),
  );
  return `${lines.join('\n')}\n`;
}

/** A duration in its largest whole unit: `42s`, `5m`, `3h`, `12d`; negative (clock skew) counts as 0. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

/** `3s ago`, or `never` when the time is unknown. */
export function formatAgo(at: number | null | undefined, now: number): string {
  return at === null || at === undefined ? 'never' : `${formatDuration(now - at)} ago`;
}

/** An instant as ISO 8601 followed by its age, e.g. `2025-01-02T10:00:00.000Z (3m ago)`. */
export function formatInstant(at: number | null | undefined, now: number): string {
  return at === null || at === undefined ? '<never>' : `${new Date(at).toISOString()} (${formatAgo(at, now)})`;
}

/** `k=v,k2=v2` sorted by key, or `<none>`. */
export function formatLabels(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? '<none>' : entries.map(([k, v]) => `${k}=${v}`).join(',');
}

export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

export function toYaml(value: unknown): string {
  return stringify(value);
}

/** Prints `value` as JSON or YAML, or calls `table` for the human form. */
export function printOutput(io: CliIo, format: OutputFormat, value: unknown, table: () => string): void {
  if (format === 'json') io.stdout(toJson(value));
  else if (format === 'yaml') io.stdout(toYaml(value));
  else io.stdout(table());
}

/** Indents every line of a block of text (for YAML nested under a heading). */
export function indent(text: string, by = 2): string {
  const pad = ' '.repeat(by);
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((line) => (line === '' ? line : pad + line))
    .join('\n');
}
