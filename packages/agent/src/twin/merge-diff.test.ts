// diffMergePatch is the inverse of applyMergePatch: checked on hand-written cases.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyMergePatch, type JsonObject } from '@homeostat/protocol';
import { diffMergePatch } from './merge-diff.js';

const cases: [JsonObject, JsonObject, JsonObject][] = [
  [{}, {}, {}],
  [{}, { a: 1 }, { a: 1 }],
  [{ a: 1 }, { a: 1 }, {}],
  [{ a: 1, b: 2 }, { a: 3 }, { a: 3, b: null }],
  [{ a: { x: 1, y: 2 } }, { a: { x: 1, y: 3 } }, { a: { y: 3 } }],
  [{ a: { x: 1 } }, { a: 5 }, { a: 5 }],
  [{ a: 5 }, { a: { x: 1 } }, { a: { x: 1 } }],
  [{ a: [1, 2] }, { a: [1, 2] }, {}],
  [{ a: [1, 2] }, { a: [2, 1] }, { a: [2, 1] }],
  [{ a: { b: { c: true } } }, { a: { b: {} } }, { a: { b: { c: null } } }],
];

test('diffMergePatch gives the smallest patch from one state to the other', () => {
  for (const [from, to, expected] of cases) {
    const patch = diffMergePatch(from, to);
    assert.deepEqual(patch, expected, `${JSON.stringify(from)} -> ${JSON.stringify(to)}`);
    assert.deepEqual(applyMergePatch(from, patch), to);
  }
});
