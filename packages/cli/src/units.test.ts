// The pure helpers: table layout, durations, argument parsers.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAssignments, parseDuration, parseInteger, parseLabelArgs } from './args.js';
import { UsageError } from './errors.js';
import { formatAgo, formatDuration, formatLabels, formatTable } from './format.js';

test('formatTable aligns columns and leaves no trailing spaces', () => {
  assert.equal(
    formatTable(
      ['A', 'BB'],
      [
        ['long-cell', ''],
        ['x', 'y'],
      ],
    ),
    'A           BB\nlong-cell\nx           y\n',
  );
});

test('formatDuration and formatAgo use the largest whole unit', () => {
  assert.equal(formatDuration(999), '0s');
  assert.equal(formatDuration(59_000), '59s');
  assert.equal(formatDuration(5 * 60_000 + 10_000), '5m');
  assert.equal(formatDuration(47 * 3_600_000), '47h');
  assert.equal(formatDuration(3 * 86_400_000), '3d');
  assert.equal(formatDuration(-5000), '0s');
  assert.equal(formatAgo(null, 0), 'never');
  assert.equal(formatAgo(1000, 4000), '3s ago');
});

test('formatLabels sorts keys and shows <none> when empty', () => {
  assert.equal(formatLabels({ site: 'paris', model: 'x' }), 'model=x,site=paris');
  assert.equal(formatLabels({}), '<none>');
});

test('parseDuration reads units and their sums', () => {
  assert.equal(parseDuration('--since', '500ms'), 500);
  assert.equal(parseDuration('--since', '90s'), 90_000);
  assert.equal(parseDuration('--since', '1h30m'), 5_400_000);
  assert.equal(parseDuration('--since', '2d'), 172_800_000);
  for (const bad of ['', '10', 'm', '10x', '0s', '1h 30m']) {
    assert.throws(() => parseDuration('--since', bad), UsageError, bad);
  }
});

test('parseInteger enforces bounds', () => {
  assert.equal(parseInteger('--limit', '10', 1, 100), 10);
  assert.throws(() => parseInteger('--limit', '0', 1, 100), /from 1 to 100/);
  assert.throws(() => parseInteger('--limit', '1.5', 1), /at least 1/);
});

test('parseLabelArgs accepts repeats and commas, and lists every bad label', () => {
  assert.deepEqual(parseLabelArgs(['a=1,b=2', 'c=']), { a: '1', b: '2', c: '' });
  assert.throws(
    () => parseLabelArgs(['=x', 'ok=fine,bad key=1']),
    (err) => err instanceof UsageError && err.details.length === 2,
  );
});

test('parseAssignments reads JSON values, nests dotted keys, and keeps strings', () => {
  assert.deepEqual(
    parseAssignments(['a=1', 'b=true', 'c=null', 'd=hello', 'e="7"', 'f.g=[1,2]', 'f.h={"x":1}', 'u=a=b']),
    {
      a: 1,
      b: true,
      c: null,
      d: 'hello',
      e: '7',
      f: { g: [1, 2], h: { x: 1 } },
      u: 'a=b',
    },
  );
  assert.throws(
    () => parseAssignments(['=1', 'a..b=1']),
    (err) => err instanceof UsageError && err.details.length === 2,
  );
});
