// Placement, window features and the model cache: the pure and small parts of the package.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { inputNames, inputRow } from './features.js';
import { DirModelStore, MemoryModelStore, type ModelStore } from './model-store.js';
import { placement } from './placement.js';
import { sha256Hex } from './runner.js';

const MIB = 1024 * 1024;

test('placement: the edge when the device meets every requirement, else the hub with the reasons', () => {
  const pump = { executionProviders: ['cpu'], memoryBytes: 1024 * MIB, cpus: 2 };
  assert.deepEqual(placement({ executionProviders: ['cpu'], memoryMb: 64 }, pump), { placement: 'edge', reasons: [] });
  assert.deepEqual(placement({}, pump), { placement: 'edge', reasons: [] }, 'cpu by default');
  assert.equal(placement({ executionProviders: ['cuda', 'cpu'] }, pump).placement, 'edge', 'any one of them');

  const gpuOnly = placement({ executionProviders: ['cuda'] }, pump);
  assert.equal(gpuOnly.placement, 'hub');
  assert.match(gpuOnly.reasons[0]!, /cuda.*offers \[cpu\]/);
  const small = placement({ memoryMb: 2048, cpus: 4 }, pump);
  assert.equal(small.placement, 'hub');
  assert.equal(small.reasons.length, 2);
  assert.equal(placement({}, {}).placement, 'hub', 'a device that reports no provider runs no model');
  assert.equal(placement({}, undefined).placement, 'hub');
  assert.equal(placement({ memoryMb: 1 }, { executionProviders: ['cpu'] }).placement, 'hub', 'unknown memory');
});

test('input row: for each metric, each feature over its window; null when a metric has no value', () => {
  const windows: Record<string, number[]> = { v: [1, 3, 2], t: [10, 20] };
  const spec = { metrics: ['v', 't'], features: ['mean', 'max', 'min', 'std', 'rms', 'last'] as const };
  assert.deepEqual(inputNames(spec).slice(0, 3), ['v.mean', 'v.max', 'v.min']);
  const row = inputRow(spec, (m) => windows[m] ?? [])!;
  const want = [2, 3, 1, Math.sqrt(2 / 3), Math.sqrt(14 / 3), 2, 15, 20, 10, 5, Math.sqrt(250), 20];
  assert.equal(row.length, want.length);
  for (const [i, w] of want.entries()) assert.ok(Math.abs(row[i]! - w) < 1e-5, `input ${i}: ${row[i]} vs ${w}`);
  assert.equal(
    inputRow({ metrics: ['v', 'gone'], features: ['mean'] }, (m) => windows[m] ?? []),
    null,
  );
});

function storeContract(name: string, open: () => { store: ModelStore; dir?: string }) {
  test(`${name}: keeps models by hash, verifies what it is given and what it reads back`, async (t) => {
    const { store, dir } = open();
    if (dir) t.after(() => rmSync(dir, { recursive: true, force: true }));
    const bytes = new TextEncoder().encode('model one');
    const sha256 = sha256Hex(bytes);
    assert.equal(await store.get(sha256), null);
    await assert.rejects(store.put({ bytes, sha256: sha256Hex(new Uint8Array(1)) }), {
      code: 'ERR_MODEL_HASH_MISMATCH',
    });
    await assert.rejects(store.get('../../etc/passwd'), { code: 'ERR_MODEL_HASH_MISMATCH' });
    await store.put({ bytes, sha256 });
    await store.put({ bytes, sha256: sha256.toUpperCase() });
    assert.deepEqual(await store.get(sha256), bytes);
    assert.equal(await store.has(sha256), true);
    if (dir) {
      // A file damaged on disk is not loaded: it is removed and reads as absent.
      writeFileSync(join(dir, `${sha256}.onnx`), 'model 0ne');
      assert.equal(await store.get(sha256), null);
      assert.deepEqual(readdirSync(dir), []);
      await store.put({ bytes, sha256 });
    }
    await store.delete(sha256);
    assert.equal(await store.has(sha256), false);
  });
}

storeContract('MemoryModelStore', () => ({ store: new MemoryModelStore() }));
storeContract('DirModelStore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'homeostat-models-'));
  return { store: new DirModelStore(dir), dir };
});
