// The function kind with real worker threads, on the real clock: a handler's output goes through
// the context; a runaway handler is killed at its time limit and a memory hog at its heap limit,
// each reported as a crash and restarted in a fresh worker, while this thread keeps running.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemClock } from '@homeostat/kit';
import type { FunctionConfig, ModuleSpec } from '@homeostat/protocol';
import { waitFor } from '@homeostat/testing';
import { functionKind } from './function.js';
import { desiredModule, supervisorFixture } from './test-support.js';

function fn(config: FunctionConfig, extra: Partial<ModuleSpec> = {}): ModuleSpec {
  return { name: 'fn', kind: 'function', config, ...extra } as ModuleSpec;
}

test('a handler derives metrics, raises events and drives actuators through its permissions', async (t) => {
  const f = supervisorFixture([functionKind()], systemClock);
  t.after(() => f.supervisor.stop());
  const source = `
    function handle(sample, state) {
      state.n = (state.n ?? 0) + 1;
      log('sample', state.n);
      return {
        metrics: { 'temperature.f': sample.metrics.temperature * 9 / 5 + 32, calls: state.n },
        events: sample.metrics.temperature > 30 ? [{ type: 'alarm', code: 'HOT', message: 'hot' }] : [],
        actuate: { fan: sample.metrics.temperature > 30, door: 'open' },
      };
    }`;
  await f.supervisor.apply(
    desiredModule(fn({ source, metrics: ['temperature'] }, { permissions: { actuators: ['fan'], events: ['HOT'] } })),
  );
  await f.until('fn', 'running');
  f.supervisor.publish({ ts: 1000, metrics: { temperature: 20, other: 1 } });
  f.supervisor.publish({ ts: 2000, metrics: { temperature: 35 } });
  f.supervisor.publish({ ts: 3000, metrics: { other: 2 } }); // no metric it reads: not called
  await waitFor(() => f.upstream.length === 2, { message: 'two derived samples' });
  assert.deepEqual(
    f.upstream.map((s) => s.metrics),
    [
      { 'temperature.f': 68, calls: 1 },
      { 'temperature.f': 95, calls: 2 },
    ],
  );
  assert.equal(f.upstream[0]?.source, 'fn');
  assert.equal(f.streams.latest('temperature.f')?.value, 95);
  assert.deepEqual(f.actuated, [
    ['fan', false],
    ['fan', true],
  ]);
  const codes = f.events.map((e) => e.code);
  assert.ok(codes.includes('HOT'));
  assert.ok(codes.includes('MODULE_PERMISSION_DENIED'), 'the door is not its to open');
  assert.equal(f.supervisor.get('fn')?.state, 'running');
});

test('a runaway handler is killed at its time limit and restarted; this thread keeps running', async (t) => {
  const f = supervisorFixture([functionKind()], systemClock);
  t.after(() => f.supervisor.stop());
  const source =
    'function handle(sample) { if (sample.metrics.loop) { while (true) {} } return { metrics: { ok: 1 } }; }';
  await f.supervisor.apply(desiredModule(fn({ source, timeoutMs: 50 }, { restart: { initialBackoffMs: 10 } })));
  await f.until('fn', 'running');
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 5);
  t.after(() => clearInterval(ticker));
  const started = Date.now();
  f.supervisor.publish({ ts: 1, metrics: { loop: 1 } });
  await f.until('fn', 'backoff');
  const killedAfter = Date.now() - started;
  assert.ok(killedAfter >= 50 && killedAfter < 2000, `killed after ${killedAfter} ms`);
  assert.ok(ticks > 0, 'the agent thread was never blocked');
  assert.match(f.supervisor.get('fn')?.lastError?.message ?? '', /time limit \(timeoutMs 50\)/);
  assert.equal(f.events.find((e) => e.code === 'MODULE_CRASHED')?.type, 'alarm');
  await f.until('fn', 'running');
  assert.equal(f.supervisor.get('fn')?.restarts, 1);
  f.supervisor.publish({ ts: 2, metrics: { loop: 0 } });
  await waitFor(() => f.upstream.length === 1, { message: 'the fresh worker answers' });
});

test('a memory hog is killed at its heap limit; a handler that throws is a crash; bad sources are refused', async (t) => {
  const f = supervisorFixture([functionKind()], systemClock);
  t.after(() => f.supervisor.stop());
  const hog = 'function handle() { const keep = []; for (;;) keep.push(new Array(100000).fill(Math.random())); }';
  const thrower = 'function handle() { throw new Error("no"); }';
  await f.supervisor.apply({
    ...desiredModule(fn({ source: hog, memoryMb: 8, timeoutMs: 30_000 }, { name: 'hog' }), '11111111'),
    ...desiredModule(fn({ source: thrower }, { name: 'thrower' }), '22222222'),
    ...desiredModule(fn({ source: 'function handle( {' }, { name: 'syntax' }), '33333333'),
    ...desiredModule(fn({ source: 'const x = 1;' }, { name: 'nohandler' }), '44444444'),
  });
  await Promise.all([f.until('hog', 'running'), f.until('thrower', 'running')]);
  f.supervisor.publish({ ts: 1, metrics: { x: 1 } });
  await waitFor(() => f.supervisor.get('hog')?.lastError !== null, { message: 'the hog dies', timeoutMs: 20_000 });
  assert.match(f.supervisor.get('hog')?.lastError?.message ?? '', /out of memory \(memoryMb 8\)/);
  await waitFor(() => f.supervisor.get('thrower')?.lastError !== null);
  assert.equal(f.supervisor.get('thrower')?.lastError?.message, 'the handler threw: no');
  assert.equal(f.supervisor.get('syntax')?.state, 'refused');
  assert.match(f.supervisor.get('syntax')?.lastError?.message ?? '', /fails to load/);
  assert.match(f.supervisor.get('nohandler')?.lastError?.message ?? '', /defines no function handle/);
});
