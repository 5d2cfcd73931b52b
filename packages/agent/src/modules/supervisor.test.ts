// The supervisor on a fake clock, with a scripted module kind: the backoff sequence, crash-loop
// entry, restarts after failed health probes, refusals, the stop deadline, what counts as a crash,
// restart policies, permissions (enforce and audit) and the debounced report.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '@homeostat/kit';
import type { ModuleSpec } from '@homeostat/protocol';
import {
  type HealthResult,
  type ModuleContext,
  ModuleExited,
  type ModuleKindRunner,
  ModuleRefused,
  type RunningModule,
  type Sample,
} from './module.js';
import { desiredModule, supervisorFixture } from './test-support.js';

/** What the scripted kind does; each field may be changed while the test runs. */
interface Script {
  /** Rejects the next `failStarts` starts. */
  failStarts: number;
  refuse?: string;
  healthy: boolean;
  healthHangs?: boolean;
  stopHangs: boolean;
  onSample?: (sample: Sample, ctx: ModuleContext) => void;
}

function scriptedKind(script: Script) {
  const starts: number[] = [];
  const contexts: ModuleContext[] = [];
  let stops = 0;
  const kind: ModuleKindRunner<'function'> = {
    kind: 'function',
    async start(_spec, ctx) {
      starts.push(ctx.clock.now());
      contexts.push(ctx);
      if (script.refuse) throw new ModuleRefused(script.refuse);
      if (script.failStarts > 0) {
        script.failStarts--;
        throw new Error('boom at start');
      }
      const running: RunningModule = {
        onSample: (s) => script.onSample?.(s, ctx),
        health: () =>
          script.healthHangs ? new Promise<HealthResult>(() => {}) : { healthy: script.healthy, detail: 'scripted' },
        stop: () => {
          stops++;
          return script.stopHangs ? new Promise(() => {}) : Promise.resolve();
        },
      };
      return running;
    },
  };
  return { kind, starts, contexts, stops: () => stops };
}

function setup(partial: Partial<Script> = {}) {
  const script: Script = { failStarts: 0, healthy: true, stopHangs: false, ...partial };
  const clock = new FakeClock();
  const scripted = scriptedKind(script);
  return { script, clock, ...scripted, ...supervisorFixture([scripted.kind], clock) };
}

const T0 = 1_700_000_000_000;

function desired(name: string, spec: Partial<ModuleSpec> = {}, rev = 'aaaaaaaa') {
  return desiredModule(
    { name, kind: 'function', config: { source: 'function handle() {}' }, ...spec } as ModuleSpec,
    rev,
  );
}

test('a module that keeps crashing at start: backoff doubles up to the maximum', async () => {
  const s = setup({ failStarts: 100 });
  const restart = { initialBackoffMs: 100, maxBackoffMs: 1000, crashLoopThreshold: 100 };
  await s.supervisor.apply(desired('m', { restart }));
  await s.clock.advance(10_000);
  const gaps = s.starts.slice(1, 9).map((t, i) => t - (s.starts[i] ?? 0));
  assert.deepEqual(gaps, [100, 200, 400, 800, 1000, 1000, 1000, 1000]);
  const r = s.supervisor.get('m');
  assert.equal(r?.state, 'backoff');
  assert.equal(r?.restarts, s.starts.length - 1);
  assert.deepEqual(r?.lastError?.message, 'boom at start');
});

test('crashLoopThreshold crashes in the window: crash-loop, one alarm, restarts at the longest delay', async () => {
  const s = setup({ failStarts: 100 });
  await s.supervisor.apply(desired('m')); // defaults: 100 ms doubling, 3 crashes in 60 s, 30 s max
  await s.clock.advance(500);
  assert.deepEqual(
    s.starts.map((t) => t - T0),
    [0, 100, 300],
  );
  assert.equal(s.supervisor.get('m')?.state, 'crash-loop');
  await s.clock.advance(30_000);
  assert.deepEqual(
    s.starts.map((t) => t - T0),
    [0, 100, 300, 30_300],
  );
  assert.equal(s.supervisor.get('m')?.state, 'crash-loop');
  assert.equal(s.events.filter((e) => e.code === 'MODULE_CRASH_LOOP').length, 1);
  const crashes = s.events.filter((e) => e.code === 'MODULE_CRASHED');
  assert.ok(crashes.length >= 2, 'crash alarms go up (rate-limited)');
  assert.equal(crashes[0]?.type, 'alarm');

  // It starts working: running again, restarts counted, the last error kept.
  s.script.failStarts = 0;
  await s.clock.advance(30_000);
  const r = s.supervisor.get('m');
  assert.equal(r?.state, 'running');
  assert.equal(r?.restarts, 4);
  assert.equal(r?.lastError?.message, 'boom at start');
});

test('failed health probes: unhealthy, then restarted at the failure threshold', async () => {
  const s = setup();
  const health = { periodMs: 1000, timeoutMs: 100, failureThreshold: 2 };
  await s.supervisor.apply(desired('m', { health }));
  await s.clock.advance(0);
  assert.equal(s.supervisor.get('m')?.state, 'running');
  s.script.healthy = false;
  await s.clock.advance(1000);
  assert.equal(s.supervisor.get('m')?.state, 'unhealthy');
  await s.clock.advance(1000);
  assert.equal(s.supervisor.get('m')?.state, 'backoff');
  assert.match(s.supervisor.get('m')?.lastError?.message ?? '', /health check failed 2 times: scripted/);
  assert.equal(s.stops(), 1, 'the unhealthy incarnation was stopped');
  s.script.healthy = true;
  await s.clock.advance(100);
  assert.equal(s.supervisor.get('m')?.state, 'running');
  assert.equal(s.supervisor.get('m')?.restarts, 1);
});

test('a health check that does not answer in time counts as a failure', async () => {
  const s = setup();
  await s.supervisor.apply(desired('m', { health: { periodMs: 1000, timeoutMs: 50, failureThreshold: 1 } }));
  await s.clock.advance(0);
  assert.equal(s.supervisor.get('m')?.state, 'running');
  s.script.healthHangs = true;
  await s.clock.advance(1049);
  assert.equal(s.supervisor.get('m')?.state, 'running', 'still waiting for the answer');
  await s.clock.advance(1);
  assert.equal(s.supervisor.get('m')?.state, 'backoff');
  assert.match(s.supervisor.get('m')?.lastError?.message ?? '', /health check took more than 50 ms/);
});

test('refused: by the kind, for an unknown kind, for an invalid spec; never restarted', async () => {
  const s = setup({ refuse: 'command not allowed' });
  await s.supervisor.apply({
    ...desired('a'),
    ...desired('b', {
      kind: 'model',
      config: {
        artifact: { sha256: 'a'.repeat(64), size: 10 },
        inputs: { metrics: ['t'], features: ['mean'], windowMs: 1000 },
        output: { metric: 'score' },
      },
    } as Partial<ModuleSpec>),
    c: { rev: 'cccccccc', deployment: 'edge', spec: { name: 'c', kind: 'function', config: {} } },
  });
  await s.clock.advance(60_000);
  assert.equal(s.starts.length, 1, 'refused once, not retried');
  const r = s.supervisor.reported();
  assert.deepEqual(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, [v.state, v.lastError?.message]])), {
    a: ['refused', 'command not allowed'],
    b: ['refused', 'module kind model is not available on this agent'],
    c: [
      'refused',
      'invalid module: /spec/config/source: Expected required property; /spec/config/source: Expected string',
    ],
  });
  assert.equal(s.events.filter((e) => e.code === 'MODULE_REFUSED').length, 3);
  // The same desired state again: nothing new.
  await s.supervisor.apply({ ...desired('a') });
  assert.equal(s.events.filter((e) => e.code === 'MODULE_REFUSED').length, 3);
});

test('a module that does not stop is abandoned after the deadline', async () => {
  const s = setup({ stopHangs: true });
  await s.supervisor.apply(desired('m'));
  await s.clock.advance(0);
  let removed = false;
  const applied = s.supervisor.apply({}).then(() => {
    removed = true;
  });
  await s.clock.advance(9_999);
  assert.equal(removed, false, 'waits for the stop');
  await s.clock.advance(1);
  await applied;
  assert.equal(s.supervisor.get('m'), undefined);
});

test('what counts as a crash: onSample throwing, ctx.crashed; policies never and on-failure', async () => {
  const s = setup();
  await s.supervisor.apply({
    ...desired('thrower', {}, '11111111'),
    ...desired('never', { restart: { policy: 'never' } }, '22222222'),
    ...desired('clean', { restart: { policy: 'on-failure' } }, '33333333'),
  });
  await s.clock.advance(0);
  s.script.onSample = (_s, ctx) => {
    if (ctx.name === 'thrower') throw new Error('bad sample');
  };
  s.supervisor.publish({ ts: s.clock.now(), metrics: { t: 1 } });
  s.contexts.find((c) => c.name === 'never')?.crashed(new Error('worker died'));
  s.contexts.find((c) => c.name === 'clean')?.crashed(new ModuleExited('exited with code 0'));
  const states = () => Object.fromEntries(Object.entries(s.supervisor.reported()).map(([k, v]) => [k, v.state]));
  assert.deepEqual(states(), { thrower: 'backoff', never: 'stopped', clean: 'stopped' });
  assert.equal(s.supervisor.get('clean')?.lastError, null, 'a clean exit is not an error');
  assert.equal(s.supervisor.get('never')?.lastError?.message, 'worker died');
  await s.clock.advance(1000);
  assert.deepEqual(states(), { thrower: 'running', never: 'stopped', clean: 'stopped' });
  // A late call from the crashed incarnation changes nothing.
  s.contexts[0]?.crashed(new Error('late'));
  assert.equal(s.supervisor.get('thrower')?.state, 'running');
});

test('permissions: reads, actuators and events are denied in enforce mode and recorded in audit mode', async () => {
  const s = setup();
  const permissions = { metrics: ['t'], actuators: ['heater'], events: ['HOT'] };
  await s.supervisor.apply({
    ...desired('strict', { permissions }, '11111111'),
    ...desired('audited', { permissions: { ...permissions, mode: 'audit' } }, '22222222'),
  });
  await s.clock.advance(0);
  const seen: Record<string, string[]> = { strict: [], audited: [] };
  s.script.onSample = (sample, ctx) => {
    seen[ctx.name]?.push(Object.keys(sample.metrics).join(','));
  };
  s.supervisor.publish({ ts: s.clock.now(), metrics: { t: 20, secret: 1 } });
  s.supervisor.publish({ ts: s.clock.now(), metrics: { secret: 2 } });
  assert.deepEqual(seen, { strict: ['t'], audited: ['t,secret', 'secret'] });

  const [strict, audited] = ['strict', 'audited'].map((n) => s.contexts.find((c) => c.name === n)!);
  assert.equal(strict?.streams.latest('secret'), undefined);
  assert.equal(strict?.streams.latest('t')?.value, 20);
  assert.equal(audited?.streams.latest('secret')?.value, 2);
  strict?.actuate('heater', true);
  assert.throws(() => strict?.actuate('valve', 1), { name: 'ModuleDenied' });
  audited?.actuate('valve', 1);
  assert.throws(() => strict?.raise({ type: 'alarm', code: 'OTHER' }), { name: 'ModuleDenied' });
  strict?.raise({ type: 'alarm', code: 'HOT' });
  audited?.raise({ type: 'log', code: 'OTHER' });
  assert.deepEqual(s.actuated, [
    ['heater', true],
    ['valve', 1],
  ]);
  const codes = s.events.map((e) => `${e.code} ${(e.data as { module: string }).module}`);
  assert.deepEqual(codes, [
    'MODULE_PERMISSION_DENIED strict', // read secret
    'MODULE_PERMISSION_AUDIT audited', // read secret
    'MODULE_PERMISSION_DENIED strict', // valve
    'MODULE_PERMISSION_AUDIT audited', // valve
    'MODULE_PERMISSION_DENIED strict', // OTHER
    'HOT strict',
    'MODULE_PERMISSION_AUDIT audited', // OTHER
    'OTHER audited',
  ]);
  // The same violation again within the minute: not raised again.
  assert.throws(() => strict?.actuate('valve', 1), { name: 'ModuleDenied' });
  assert.equal(s.events.length, 8);
  // A denial escaping onSample is not a crash.
  s.script.onSample = (_s, ctx) => ctx.actuate('valve', 2);
  s.supervisor.publish({ ts: s.clock.now(), metrics: { t: 21 } });
  assert.equal(s.supervisor.get('strict')?.state, 'running');
});

test('emitted metrics reach the streams, the other modules and upstream; states are reported debounced', async () => {
  const s = setup();
  await s.supervisor.apply({ ...desired('a', {}, '11111111'), ...desired('b', {}, '22222222') });
  const received: string[] = [];
  s.script.onSample = (sample, ctx) => {
    received.push(`${ctx.name}<-${sample.source ?? 'hw'}`);
    if (ctx.name === 'a' && sample.source === undefined) ctx.emit({ 'derived.x': 1, 'bad name': 2 });
  };
  await s.clock.advance(0);
  s.supervisor.publish({ ts: s.clock.now(), metrics: { t: 1 } });
  assert.deepEqual(received, ['a<-hw', 'b<-hw', 'a<-a', 'b<-a']);
  assert.deepEqual(
    s.upstream.map((u) => u.metrics),
    [{ 'derived.x': 1 }],
  );
  assert.equal(s.streams.latest('derived.x')?.value, 1);

  await s.clock.advance(100);
  assert.equal(s.reports.length, 1, 'starting and running of two modules: one report');
  assert.deepEqual(Object.keys(s.reports[0] ?? {}), ['a', 'b']);
  assert.equal(s.reports[0]?.a?.state, 'running');
  await s.supervisor.apply(desired('a', {}, '11111111'));
  await s.clock.advance(100);
  assert.deepEqual(Object.keys(s.reports[1] ?? {}), ['a']);
  // A new rev restarts the module with fresh counters.
  await s.supervisor.apply(desired('a', {}, '1111ffff'));
  await s.clock.advance(100);
  assert.equal(s.reports.at(-1)?.a?.rev, '1111ffff');
  assert.equal(s.stops(), 2);
});
