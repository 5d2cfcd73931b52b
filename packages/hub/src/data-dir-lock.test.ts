import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DataDirLock, LOCK_FILE } from './data-dir-lock.js';

const dir = () => mkdtempSync(join(tmpdir(), 'homeostat-lock-'));

test('a data directory is held by one hub: another live process is refused, by pid', () => {
  const d = dir();
  // The lock as a hub in another, live process took it: the parent of this test.
  writeFileSync(join(d, LOCK_FILE), `${process.ppid}\n`);
  assert.throws(
    () => DataDirLock.acquire(d),
    new RegExp(`another hub \\(pid ${process.ppid}\\) uses the data directory`),
  );
  assert.equal(readFileSync(join(d, LOCK_FILE), 'utf8'), `${process.ppid}\n`, 'left as it was');
});

test('a lock whose process is gone (a hub killed) is taken over, and released on stop', () => {
  const d = dir();
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
  writeFileSync(join(d, LOCK_FILE), `${gone}\n`);
  const lock = DataDirLock.acquire(d);
  assert.equal(readFileSync(join(d, LOCK_FILE), 'utf8'), `${process.pid}\n`);
  lock.release();
  assert.equal(existsSync(join(d, LOCK_FILE)), false);
  // Free again: taken at once.
  DataDirLock.acquire(d).release();
});
