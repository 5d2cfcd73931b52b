// Modules on a real agent, against a real broker: desired `modules` start them, their state,
// restarts and removal are reported in the twin, derived metrics go upstream with a seq, an
// aggregate module takes over the telemetry stage while it runs, a runaway function is killed
// while the agent keeps working, and after a restart the modules run again from the stored
// desired state before (and without) any hub connection.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ReportedModule } from '@homeostat/protocol';
import { waitFor } from '@homeostat/testing';
import { advanceUntil, type Harness, harness } from './test-support.js';

const fn = (name: string, source: string, rev = 'aaaaaaaa', extra: object = {}) => ({
  [name]: { rev, deployment: 'edge', spec: { name, kind: 'function', config: { source, ...extra } } },
});
const DOUBLE = 'function handle(s) { return { metrics: { double: s.metrics.temperature * 2 } }; }';

/** The reported state as the hub would hold it: the merge of every patch since the last full report. */
function reportedModules(h: Harness): Record<string, ReportedModule | null> {
  let modules: Record<string, ReportedModule | null> = {};
  for (const m of h.hub.of('dev-1', 'twin/reported')) {
    const { state, full } = m.json as { state: { modules?: Record<string, ReportedModule | null> }; full?: boolean };
    if (full) modules = {};
    for (const [k, v] of Object.entries(state.modules ?? {})) {
      if (v === null) delete modules[k];
      else modules[k] = { ...(modules[k] ?? {}), ...v } as ReportedModule;
    }
  }
  return modules;
}

test('desired modules run; state and removal are reported; derived metrics go upstream with a seq', async (t) => {
  const h = await harness(t);
  const { agent } = h.agent({ sampleMs: 3_600_000 });
  await agent.start();
  await waitFor(() => agent.connected);
  await h.hub.publishDesired('dev-1', { version: 1, state: { setpoint: 20, modules: fn('double', DOUBLE) } });
  await advanceUntil(h.clock, 20, () => reportedModules(h).double?.state === 'running', 'reported running');
  assert.deepEqual(Object.keys(agent.modules), ['double']);
  assert.equal(reportedModules(h).double?.rev, 'aaaaaaaa');
  assert.equal(reportedModules(h).double?.kind, 'function');

  agent.sampleNow();
  await waitFor(() => h.hub.readings('dev-1').length === 2, { message: 'the reading and the derived one' });
  const readings = h.hub.readings('dev-1');
  assert.deepEqual(
    readings.map((r) => r.metrics),
    [{ temperature: 20.1 }, { double: 40.2 }],
  );
  assert.deepEqual(
    readings.map((r) => r.seq),
    [1, 2],
  );

  await h.hub.publishDesired('dev-1', { version: 2, state: { setpoint: 20 } });
  await advanceUntil(h.clock, 20, () => !('double' in reportedModules(h)), 'removed');
  const last = h.hub.of('dev-1', 'twin/reported').at(-1)?.json as { state: { modules?: unknown } };
  assert.deepEqual(last.state.modules, { double: null }, 'the merge patch deletes the module');
});

test('an aggregate module runs the telemetry stage while it runs, then the desired telemetry key again', async (t) => {
  const h = await harness(t);
  const { agent } = h.agent({ sampleMs: 3_600_000 });
  await agent.start();
  await waitFor(() => agent.connected);
  const agg = {
    rev: 'bbbbbbbb',
    deployment: 'edge',
    spec: {
      name: 'summaries',
      kind: 'aggregate',
      config: { mode: 'aggregate', window: { kind: 'tumbling', sizeMs: 10_000 }, stats: ['avg', 'count'] },
    },
  };
  await h.hub.publishDesired('dev-1', {
    version: 1,
    state: { telemetry: { mode: 'raw' }, modules: { summaries: agg } },
  });
  await advanceUntil(h.clock, 20, () => agent.modules.summaries?.state === 'running', 'aggregate running');
  for (let i = 0; i < 11; i++) {
    await h.clock.advance(1000);
    agent.sampleNow();
  }
  await waitFor(() => h.hub.readings('dev-1').some((r) => 'temperature.avg' in r.metrics));
  assert.ok(
    h.hub.readings('dev-1').every((r) => !('temperature' in r.metrics)),
    'no raw reading while it aggregates',
  );

  await h.hub.publishDesired('dev-1', { version: 2, state: { telemetry: { mode: 'raw' } } });
  await advanceUntil(h.clock, 20, () => agent.modules.summaries === undefined, 'aggregate removed');
  agent.sampleNow();
  await waitFor(() => h.hub.readings('dev-1').some((r) => 'temperature' in r.metrics), { message: 'raw again' });
});

test('a runaway function is killed at its time limit and restarted; the agent keeps sampling and sending', async (t) => {
  const h = await harness(t);
  const { agent } = h.agent({ sampleMs: 3_600_000 });
  await agent.start();
  await waitFor(() => agent.connected);
  const loop = 'function handle(s) { if (s.metrics.temperature > 20.15) { while (true) {} } }';
  await h.hub.publishDesired('dev-1', {
    version: 1,
    state: { modules: fn('loop', loop, 'cccccccc', { timeoutMs: 50 }) },
  });
  await advanceUntil(h.clock, 10, () => agent.modules.loop?.state === 'running', 'running');
  agent.sampleNow(); // 20.1: fine
  agent.sampleNow(); // 20.2: loops
  // The worker answers the first sample on its own thread: on a loaded machine that takes real
  // time, so the clock moves on until the time limit has struck.
  await advanceUntil(
    h.clock,
    10,
    () => (agent.modules.loop?.restarts ?? 0) >= 1 || agent.modules.loop?.state === 'backoff',
    'killed at its time limit',
  );
  agent.sampleNow();
  await waitFor(() => h.hub.readings('dev-1').length === 3, { message: 'readings keep flowing' });
  await advanceUntil(h.clock, 10, () => reportedModules(h).loop?.restarts === 1, 'restart reported');
  assert.match(reportedModules(h).loop?.lastError?.message ?? '', /time limit/);
  const crash = h.hub.of('dev-1', 'events').find((m) => (m.json as { code?: string }).code === 'MODULE_CRASHED');
  assert.ok(crash, 'a MODULE_CRASHED alarm went up');
});

test('after a restart, modules run from the stored desired state without a hub', async (t) => {
  const h = await harness(t);
  const first = h.agent({ sampleMs: 3_600_000 });
  await first.agent.start();
  await waitFor(() => first.agent.connected);
  await h.hub.publishDesired('dev-1', { version: 1, state: { modules: fn('double', DOUBLE) } });
  await advanceUntil(h.clock, 20, () => first.agent.modules.double?.state === 'running', 'running');
  await first.agent.stop();

  // Nothing listens on port 1: the agent never connects.
  const second = h.agent({ sampleMs: 3_600_000, hubUrl: 'mqtt://127.0.0.1:1' });
  await second.agent.start();
  await advanceUntil(h.clock, 20, () => second.agent.modules.double?.state === 'running', 'running offline');
  const before = second.agent.outboxSize;
  second.agent.sampleNow();
  await waitFor(() => second.agent.outboxSize === before + 2, { message: 'reading and derived reading queued' });
  assert.equal(second.agent.connected, false);
});
