// Keeps docs/protocol.md and docs/errors.md in step with the contract: the error catalogue, the
// MQTT topic table and the HTTP routes. The docs are read relative to the compiled file
// (packages/protocol/dist/docs.test.js).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERRORS } from './errors.js';
import { routes } from './resources.js';
import { DEVICE_TOPICS } from './topics.js';

const protocolDoc = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');
const errorsDoc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

/** The cells of a markdown table row, trimmed; `null` for a line that is not a row. */
function cells(line: string): string[] | null {
  const t = line.trim();
  if (!t.startsWith('|') || !t.endsWith('|')) return null;
  return t
    .slice(1, -1)
    .split('|')
    .map((c) => c.trim());
}

/** The body rows of the first table whose header is exactly `header` (case-insensitive). */
function table(doc: string, header: readonly string[]): string[][] {
  const lines = doc.split('\n');
  const want = header.map((h) => h.toLowerCase());
  const start = lines.findIndex((l) => {
    const c = cells(l);
    return c !== null && c.length === want.length && c.every((x, i) => x.toLowerCase() === want[i]);
  });
  assert.notEqual(start, -1, `no table with the header | ${header.join(' | ')} |`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    const c = cells(line);
    if (c === null) break;
    rows.push(c);
  }
  return rows;
}

const unquote = (cell: string) => cell.replace(/^`|`$/g, '');

test('every error code is in docs/errors.md with its HTTP status in the same row', () => {
  const rows = table(errorsDoc, ['Code', 'HTTP', 'Meaning', 'Where', 'What the client should do']);
  const byCode = new Map(rows.map((r) => [unquote(r[0] ?? ''), r]));
  for (const [code, { status }] of Object.entries(ERRORS)) {
    const row = byCode.get(code);
    assert.ok(row, `${code} is missing from the table in docs/errors.md`);
    assert.equal(row[1], String(status), `${code}: docs/errors.md says ${row[1]}, errors.ts says ${status}`);
  }
  for (const code of byCode.keys()) assert.ok(code in ERRORS, `docs/errors.md lists ${code}, unknown to ERRORS`);
});

test('every ERR_ code the docs mention exists in ERRORS', () => {
  for (const [name, doc] of [
    ['docs/protocol.md', protocolDoc],
    ['docs/errors.md', errorsDoc],
  ] as const) {
    const mentioned = new Set(doc.match(/\bERR_[A-Z0-9_]+/g) ?? []);
    assert.ok(mentioned.size > 0, `${name} mentions no error code`);
    for (const code of mentioned) assert.ok(code in ERRORS, `${name} mentions ${code}, unknown to ERRORS`);
  }
});

test('the topic table of docs/protocol.md lists exactly DEVICE_TOPICS', () => {
  const rows = table(protocolDoc, ['Topic suffix', 'Direction', 'QoS', 'Retained', 'Payload']);
  const documented = rows.map((r) => {
    const retained = r[3];
    assert.ok(retained === 'yes' || retained === 'no', `Retained must be yes or no, got ${retained}`);
    return `${unquote(r[0] ?? '')} ${r[1]} qos=${r[2]} retained=${retained === 'yes'}`;
  });
  const expected = Object.values(DEVICE_TOPICS).map(
    (t) => `${t.suffix} ${t.direction} qos=${t.qos} retained=${t.retained}`,
  );
  assert.deepEqual([...documented].sort(), [...expected].sort());
});

test('every HTTP route appears in docs/protocol.md', () => {
  const sentinel = 'route-param-sentinel';
  for (const [key, route] of Object.entries(routes)) {
    // A parameter is documented under any placeholder: `{name}`, `{sha256}`…
    const path = typeof route === 'string' ? route : route(sentinel);
    const pattern = new RegExp(`\`${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(sentinel, '\\{[a-z0-9]+\\}')}\``);
    assert.match(protocolDoc, pattern, `routes.${key} (${path}) is not in docs/protocol.md`);
  }
  for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
    assert.ok(protocolDoc.includes(`\`${path}\``), `${path} is not in docs/protocol.md`);
  }
});
