// Runs the Outbox contract on both implementations, plus what only the SQLite file can show:
// a process killed without closing the outbox neither loses readings nor reuses a seq.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { outboxContract } from './contract.js';
import { MemoryOutbox } from './memory-outbox.js';
import { SqliteOutbox } from './sqlite-outbox.js';

outboxContract('MemoryOutbox', () => ({ open: (limits) => new MemoryOutbox(limits) }));

outboxContract(
  'SqliteOutbox',
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'homeostat-outbox-'));
    return {
      open: (limits) => SqliteOutbox.open(join(dir, 'outbox.db'), limits),
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  },
  { durable: true },
);

test('SqliteOutbox: a killed process loses no entry and the next start never reuses a seq', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'homeostat-outbox-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'outbox.db');
  const moduleUrl = new URL('./sqlite-outbox.js', import.meta.url).href;
  // The child enqueues, prints its last seq, and exits without close(): what a crash leaves.
  const script = `
    const { SqliteOutbox } = await import(${JSON.stringify(moduleUrl)});
    const outbox = SqliteOutbox.open(${JSON.stringify(file)});
    let seq = 0;
    for (let i = 0; i < 700; i++) {
      outbox.transaction(() => {
        seq = outbox.nextSeq();
        outbox.enqueue({ topic: 't', payload: String(seq), qos: 1, priority: 1, createdAt: 0 });
      });
    }
    process.stdout.write(String(seq));
    process.exit(0);
  `;
  const lastSeq = Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }));
  assert.ok(lastSeq >= 700);

  const outbox = SqliteOutbox.open(file);
  t.after(() => outbox.close());
  assert.equal(outbox.size(), 700);
  assert.equal(outbox.peek(1000).at(-1)?.payload, String(lastSeq));
  assert.ok(outbox.nextSeq() > lastSeq);
});
