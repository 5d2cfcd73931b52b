// The process kind with real child processes (node -e …, allow-listed), on the real clock: a
// command off the allow-list is refused; a crash is restarted; a clean exit under on-failure
// stays stopped; a child that ignores SIGTERM is killed after stopTimeoutMs.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { systemClock } from '@homeostat/kit';
import type { ModuleSpec, ProcessConfig } from '@homeostat/protocol';
import { waitFor } from '@homeostat/testing';
import { processKind } from './process.js';
import { desiredModule, supervisorFixture } from './test-support.js';

const NODE = process.execPath;

function proc(name: string, config: Partial<ProcessConfig>, extra: Partial<ModuleSpec> = {}): ModuleSpec {
  return { name, kind: 'process', config: { command: NODE, ...config }, ...extra } as ModuleSpec;
}

test('only allow-listed commands run; the rest are refused with the reason', async (t) => {
  const none = supervisorFixture([processKind({ allowCommands: [] })], systemClock);
  t.after(() => none.supervisor.stop());
  await none.supervisor.apply(desiredModule(proc('p', { args: ['-e', '0'] })));
  assert.equal(none.supervisor.get('p')?.state, 'refused');
  assert.match(none.supervisor.get('p')?.lastError?.message ?? '', /allows no process modules/);
  const other = supervisorFixture([processKind({ allowCommands: ['/bin/true'] })], systemClock);
  t.after(() => other.supervisor.stop());
  await other.supervisor.apply(desiredModule(proc('p', { args: ['-e', '0'] })));
  assert.match(other.supervisor.get('p')?.lastError?.message ?? '', /not on this agent's allow-list/);
});

test('a process that crashes is restarted; env and working directory are its own', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'homeostat-proc-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const f = supervisorFixture([processKind({ allowCommands: [NODE] })], systemClock, dataDir);
  t.after(() => f.supervisor.stop());
  const script = `
    const fs = require('node:fs');
    const runs = fs.existsSync('runs') ? Number(fs.readFileSync('runs', 'utf8')) + 1 : 1;
    // env first: the test reads it as soon as runs says 2.
    fs.writeFileSync('env', JSON.stringify({ greeting: process.env.GREETING, token: process.env.HOMEOSTAT_DEVICE_TOKEN ?? null }));
    fs.writeFileSync('runs', String(runs));
    console.log('run', runs);
    if (runs === 1) setTimeout(() => process.exit(3), 50); else setInterval(() => {}, 1000);`;
  process.env.HOMEOSTAT_DEVICE_TOKEN = 'must-not-leak';
  t.after(() => delete process.env.HOMEOSTAT_DEVICE_TOKEN);
  const spec = proc('worker', { args: ['-e', script], env: { GREETING: 'hi' } }, { restart: { initialBackoffMs: 10 } });
  await f.supervisor.apply(desiredModule(spec));
  await waitFor(() => f.supervisor.get('worker')?.restarts === 1 && f.supervisor.get('worker')?.state === 'running', {
    message: 'restarted once',
    timeoutMs: 10_000,
  });
  assert.equal(f.supervisor.get('worker')?.lastError?.message, 'the process exited with code 3');
  const dir = join(dataDir, 'modules', 'worker');
  await waitFor(() => existsSync(join(dir, 'runs')) && readFileSync(join(dir, 'runs'), 'utf8') === '2');
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'env'), 'utf8')), { greeting: 'hi', token: null });
});

test('a clean exit under on-failure stays stopped; a child ignoring SIGTERM is killed after stopTimeoutMs', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'homeostat-proc-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const f = supervisorFixture([processKind({ allowCommands: [NODE] })], systemClock, dataDir);
  t.after(() => f.supervisor.stop());
  // It says when its SIGTERM handler is in place (a busy machine may take a while to get there).
  const stubborn =
    "process.on('SIGTERM', () => console.log('ignored')); require('node:fs').writeFileSync('ready', ''); setInterval(() => {}, 1000);";
  await f.supervisor.apply({
    ...desiredModule(proc('once', { args: ['-e', '0'] }, { restart: { policy: 'on-failure' } }), '11111111'),
    ...desiredModule(proc('stubborn', { args: ['-e', stubborn], stopTimeoutMs: 300 }), '22222222'),
  });
  await f.until('once', 'stopped');
  assert.equal(f.supervisor.get('once')?.lastError, null);
  await f.until('stubborn', 'running');
  await waitFor(() => existsSync(join(dataDir, 'modules', 'stubborn', 'ready')), { timeoutMs: 10_000 });
  const started = Date.now();
  await f.supervisor.apply({});
  const took = Date.now() - started;
  assert.ok(took >= 300 && took < 3000, `stopped by SIGKILL after ${took} ms`);
  assert.equal(f.supervisor.get('stubborn'), undefined);
});
