// The DurableRecord contract on both implementations, then what only a file can get wrong.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type DurableRecord, FileRecord, MemoryRecord } from './record.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'homeostat-record-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Value {
  n: number;
  tags: string[];
}

const implementations: [string, (t: { after(fn: () => void): void }) => DurableRecord<Value>][] = [
  ['FileRecord', (t) => new FileRecord(join(tempDir(t), 'value.json'))],
  ['MemoryRecord', () => new MemoryRecord()],
];

for (const [name, open] of implementations) {
  test(`${name}: nothing at first, then the value written last, then nothing once cleared`, (t) => {
    const record = open(t);
    assert.equal(record.read(), null);
    record.write({ n: 1, tags: ['a'] });
    record.write({ n: 2, tags: ['b', 'c'] });
    assert.deepEqual(record.read(), { n: 2, tags: ['b', 'c'] });
    record.clear();
    assert.equal(record.read(), null);
    record.clear();
    assert.equal(record.read(), null);
  });
}

test('FileRecord: a restart reads what was written, from a directory it created', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'nested', 'value.json');
  new FileRecord<Value>(file).write({ n: 7, tags: [] });
  assert.deepEqual(new FileRecord<Value>(file).read(), { n: 7, tags: [] });
  // The temp file was renamed over the record: nothing else is left in the directory.
  assert.deepEqual(readdirSync(join(dir, 'nested')), ['value.json']);
});

test('FileRecord: a damaged file is an error naming the file, not an empty record', (t) => {
  const file = join(tempDir(t), 'value.json');
  writeFileSync(file, '{"n": 1, "ta');
  const record = new FileRecord<Value>(file);
  assert.throws(
    () => record.read(),
    (err: Error) => err.message.startsWith(`${file} is damaged: `) && err.cause instanceof SyntaxError,
  );
});
