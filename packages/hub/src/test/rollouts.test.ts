// Rollouts on a fake clock against a real hub, with plain MQTT clients as devices that commit,
// refuse, roll back or never answer: waves within maxUnavailable, a silent device timed out,
// the abort halting with its evidence and starting nothing more, a new revision after a halt,
// pause, resume, undo and history, a dry run, and a hub restarted mid-rollout carrying on.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FakeClock } from '@homeostat/kit';
import { openSqliteStore } from '../store/sql-store.js';
import { startTestHub, type TestHub } from './harness.js';
import { type Behaviour, devicesSettled, FakeDevice, pushArtifact } from './rollout-fixture.js';

const strategy = { canary: 1, waves: [0.5, 1], maxUnavailable: 2, soakMs: 2000, deviceTimeoutMs: 30_000 };
const spec = (version: string, extra: Record<string, unknown> = {}) => ({
  selector: 'model=m1',
  artifact: { name: 'fw', version },
  strategy,
  abort: { failureRate: 0.5, minDevices: 3 },
  ...extra,
});

async function fleet(t: TestHub, n: number, behaviour: (i: number, version: string) => Behaviour) {
  const devices = Array.from(
    { length: n },
    (_, i) => new FakeDevice(`d${String(i).padStart(2, '0')}`, (v) => behaviour(i, v)),
  );
  for (const d of devices) await d.connect(t, true);
  return devices;
}

function stepper(t: TestHub, clock: FakeClock, devices: readonly FakeDevice[]) {
  return async (ms = 1000) => {
    await clock.advance(ms);
    await t.hub.services.rolloutController.idle();
    await devicesSettled(t, devices);
  };
}

async function status(t: TestHub, name: string) {
  const r = await t.api('GET', `/api/v1/rollouts/${name}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.status;
}

test('waves advance within maxUnavailable, soak between them, and the rollout completes', async (c) => {
  const clock = new FakeClock();
  const t = await startTestHub({}, { clock });
  c.after(() => t.close());
  await pushArtifact(t, '1.1.0');
  const devices = await fleet(t, 10, () => 'commit');
  const step = stepper(t, clock, devices);

  const dry = await t.api('PUT', '/api/v1/rollouts/fw?dryRun=true', { spec: spec('1.1.0') });
  assert.equal(dry.status, 200, JSON.stringify(dry.body));
  assert.deepEqual(
    dry.body.waves.map((w: { devices: string[] }) => w.devices.length),
    [1, 4, 5],
  );
  assert.equal((await t.api('GET', '/api/v1/rollouts/fw')).body.error.code, 'ERR_ROLLOUT_NOT_FOUND', 'nothing stored');

  const created = await t.api('PUT', '/api/v1/rollouts/fw', { spec: spec('1.1.0') });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.status.revision, 1);
  let asked = 0;
  for (let i = 0; i < 40 && (await status(t, 'fw')).phase !== 'complete'; i++) {
    await step();
    const now = devices.reduce((n, d) => n + d.asked.length, 0);
    assert.ok(now - asked <= 2, 'never more than maxUnavailable started at once');
    assert.ok((await status(t, 'fw')).counts.updating <= 2);
    asked = now;
  }
  const s = await status(t, 'fw');
  assert.equal(s.phase, 'complete');
  assert.deepEqual(
    s.waves.map((w: { targeted: number; succeeded: number }) => [w.targeted, w.succeeded]),
    [
      [1, 1],
      [4, 4],
      [5, 5],
    ],
  );
  assert.equal(s.counts.succeeded, 10);
  assert.ok(devices.every((d) => d.firmware === '1.1.0'));
  await t.hub.services.events.drain();
  const events = (await t.api('GET', '/api/v1/events?type=rollout')).body.items.map(
    (e: { message: string }) => e.message,
  );
  assert.ok(
    events.some((m: string) => m.includes('complete')),
    events.join('\n'),
  );
});

test('the abort halts the rollout with its evidence; a silent device times out; a new revision is not blocked', async (c) => {
  const clock = new FakeClock();
  const t = await startTestHub({}, { clock });
  c.after(() => t.close());
  await pushArtifact(t, '1.1.0');
  await pushArtifact(t, '1.2.0');
  // 1.1.0 is bad on d01 (refused), d02 (silent) and d03 (fails its probe); 1.2.0 is good everywhere.
  const bad: Behaviour[] = ['commit', 'refuse', 'silent', 'roll-back'];
  const devices = await fleet(t, 12, (i, v) => (v === '1.1.0' ? (bad[i] ?? 'commit') : 'commit'));
  const step = stepper(t, clock, devices);

  const strat = { ...strategy, canary: 4, maxUnavailable: 4 };
  assert.equal((await t.api('PUT', '/api/v1/rollouts/fw', { spec: spec('1.1.0', { strategy: strat }) })).status, 201);
  // Another rollout on the same devices is refused while this one progresses.
  const other = await t.api('PUT', '/api/v1/rollouts/other', { spec: spec('1.2.0') });
  assert.equal(other.status, 409);
  assert.equal(other.body.error.code, 'ERR_ROLLOUT_CONFLICT');

  await step();
  await step();
  let s = await status(t, 'fw');
  // 3 of 4 finished, 2 failed: 67 % is over the abort rate; the silent one has not timed out yet.
  assert.equal(s.phase, 'halted');
  assert.equal(s.halt.reason, '2 of 3 finished devices failed (abort at 50 %)');
  assert.deepEqual(s.halt.evidence, { failed: 2, finished: 3, failureRate: 0.67 });
  assert.deepEqual([s.counts.succeeded, s.counts.failed, s.counts.rolledBack], [1, 2, 1]);
  assert.equal(s.counts.stranded, 1, 'd00 committed 1.1.0 and cannot go back');
  assert.equal(s.counts.rollbackRequested, 1, 'd02 was still updating');
  const desired = async (name: string) => (await t.hub.services.store.getDevice(name))?.desired.state.update;
  assert.equal(await desired('d01'), undefined, 'the update is withdrawn from devices that did not take it');
  assert.equal(await desired('d02'), undefined);
  assert.notEqual(await desired('d00'), undefined, 'a device keeps the update it runs');
  for (let i = 0; i < 40; i++) await step();
  assert.ok(
    devices.slice(4).every((d) => d.asked.length === 0),
    'no device after the canary was started',
  );
  await t.hub.services.events.drain();
  const halted = (await t.api('GET', '/api/v1/events?type=rollout')).body.items.find(
    (e: { severity: string }) => e.severity === 'warning',
  );
  assert.match(halted.message, /halted: 2 of 3 finished devices failed/);
  assert.deepEqual(halted.data.evidence, { failed: 2, finished: 3, failureRate: 0.67 });

  // A new version supersedes the halted revision, and reaches every device.
  const next = await t.api('PUT', '/api/v1/rollouts/fw', {
    spec: spec('1.2.0', { strategy: { ...strat, soakMs: 0 } }),
  });
  assert.equal(next.status, 200, JSON.stringify(next.body));
  assert.equal(next.body.status.revision, 2);
  for (let i = 0; i < 20 && (await status(t, 'fw')).phase !== 'complete'; i++) await step();
  s = await status(t, 'fw');
  assert.equal(s.phase, 'complete');
  assert.equal(s.counts.succeeded, 12);
  assert.ok(devices.every((d) => d.firmware === '1.2.0'));
  const history = (await t.api('GET', '/api/v1/rollouts/fw/history')).body.items;
  assert.deepEqual(
    history.map((r: { revision: number; phase: string }) => [r.revision, r.phase]),
    [
      [1, 'halted'],
      [2, 'complete'],
    ],
  );
  assert.equal(history[0].counts.stranded, 1);

  // A silent device of a later revision times out and counts as failed.
  await pushArtifact(t, '1.3.0');
  const quiet = new FakeDevice('q0', () => 'silent', '1.2.0');
  await quiet.connect(t, true, { model: 'm1', tier: 'quiet' });
  const q = await t.api('PUT', '/api/v1/rollouts/quiet', {
    spec: { ...spec('1.3.0'), selector: 'tier=quiet', gates: { minSuccessRate: 0 } },
  });
  assert.equal(q.status, 201, JSON.stringify(q.body));
  const stepQ = stepper(t, clock, [quiet]);
  await stepQ();
  assert.equal((await status(t, 'quiet')).counts.updating, 1);
  await stepQ(30_000);
  await stepQ();
  const sq = await status(t, 'quiet');
  assert.equal(sq.counts.failed, 1);
  assert.equal(sq.phase, 'complete', 'the gate let it through, but the device failed');
  const rows = await t.hub.services.store.listRolloutDevices('quiet', 1);
  assert.equal(rows[0]?.code, 'timeout');
});

test('pause, resume, undo to a revision, and refusals', async (c) => {
  const clock = new FakeClock();
  const t = await startTestHub({}, { clock });
  c.after(() => t.close());
  await pushArtifact(t, '1.1.0');
  await pushArtifact(t, '1.2.0');
  const devices = await fleet(t, 6, () => 'commit');
  const step = stepper(t, clock, devices);

  const missing = await t.api('PUT', '/api/v1/rollouts/fw', { spec: spec('9.9.9') });
  assert.deepEqual([missing.status, missing.body.error.code], [404, 'ERR_ARTIFACT_NOT_FOUND']);
  const invalid = await t.api('PUT', '/api/v1/rollouts/fw', {
    spec: spec('1.1.0', { strategy: { waves: [0.5, 0.4] } }),
  });
  assert.equal(invalid.status, 400);
  assert.deepEqual(invalid.body.error.details, [
    'body/spec/strategy/waves/1: must be above the wave before it',
    'body/spec/strategy/waves/1: the last wave must be 1 (every device)',
  ]);

  await t.api('PUT', '/api/v1/rollouts/fw', { spec: spec('1.1.0', { strategy: { ...strategy, soakMs: 0 } }) });
  await step();
  const paused = await t.api('POST', '/api/v1/rollouts/fw/pause');
  assert.equal(paused.body.status.phase, 'paused');
  assert.equal((await t.api('POST', '/api/v1/rollouts/fw/pause')).body.error.code, 'ERR_ROLLOUT_PHASE');
  const startedAtPause = devices.filter((d) => d.asked.length > 0).length;
  assert.ok(startedAtPause < 6);
  for (let i = 0; i < 5; i++) await step();
  assert.equal(devices.filter((d) => d.asked.length > 0).length, startedAtPause, 'nothing started while paused');
  assert.equal((await status(t, 'fw')).waiting, 'paused');
  assert.equal((await t.api('POST', '/api/v1/rollouts/fw/resume')).body.status.phase, 'progressing');
  for (let i = 0; i < 10; i++) await step();
  assert.equal((await status(t, 'fw')).phase, 'complete');

  await t.api('PUT', '/api/v1/rollouts/fw', { spec: spec('1.2.0', { strategy: { ...strategy, soakMs: 0 } }) });
  await step();
  const undone = await t.api('POST', '/api/v1/rollouts/fw/undo', { toRevision: 1 });
  assert.equal(undone.status, 200, JSON.stringify(undone.body));
  assert.equal(undone.body.status.revision, 3);
  for (let i = 0; i < 5; i++) await step();
  const s = await status(t, 'fw');
  const moved = devices.filter((d) => d.firmware === '1.2.0').length;
  assert.ok(moved > 0 && moved < 6, `some devices took 1.2.0 before the undo (${moved})`);
  assert.equal(s.counts.ahead, moved, 'devices on 1.2.0 cannot go back to 1.1.0');
  assert.equal(s.phase, 'complete');
  assert.ok(devices.every((d) => d.asked.every((v) => v !== '1.1.0' || d.asked.indexOf(v) === 0)));
  const history = (await t.api('GET', '/api/v1/rollouts/fw/history')).body.items;
  assert.deepEqual(
    history.map((r: { revision: number; phase: string; undoOf: number | null }) => [r.revision, r.phase, r.undoOf]),
    [
      [1, 'complete', null],
      [2, 'undone', null],
      [3, 'complete', 1],
    ],
  );
  assert.equal(history[1].counts.stranded, moved);
  assert.equal(
    (await t.api('POST', '/api/v1/rollouts/fw/undo', { toRevision: 9 })).body.error.code,
    'ERR_ROLLOUT_REVISION_NOT_FOUND',
  );
  assert.equal((await t.api('POST', '/api/v1/rollouts/nope/pause')).body.error.code, 'ERR_ROLLOUT_NOT_FOUND');
});

test('a hub restarted mid-rollout carries on where it stopped', async (c) => {
  const clock = new FakeClock();
  const dataDir = mkdtempSync(join(tmpdir(), 'homeostat-rollout-'));
  c.after(() => rmSync(dataDir, { recursive: true, force: true }));
  let t = await startTestHub({}, { clock, dataDir });
  await pushArtifact(t, '1.1.0');
  const devices = await fleet(t, 6, () => 'commit');
  await t.api('PUT', '/api/v1/rollouts/fw', { spec: spec('1.1.0', { strategy: { ...strategy, soakMs: 0 } }) });
  await stepper(t, clock, devices)();
  await stepper(t, clock, devices)();
  const before = await status(t, 'fw');
  assert.ok(before.counts.succeeded >= 1 && before.counts.succeeded < 6, JSON.stringify(before.counts));
  await t.close();

  t = await startTestHub({}, { clock, dataDir });
  c.after(() => t.close());
  for (const d of devices) await d.connect(t, false);
  const step = stepper(t, clock, devices);
  const after = await status(t, 'fw');
  assert.equal(after.counts.succeeded, before.counts.succeeded, 'progress survived the restart');
  for (let i = 0; i < 20 && (await status(t, 'fw')).phase !== 'complete'; i++) await step();
  assert.equal((await status(t, 'fw')).phase, 'complete');
  assert.ok(
    devices.every((d) => d.asked.length === 1),
    'no device was started twice',
  );
});

test('a status read again reads only what changed, not every device', async (c) => {
  const clock = new FakeClock();
  const dir = mkdtempSync(join(tmpdir(), 'homeostat-rollout-views-'));
  const store = await openSqliteStore(join(dir, 'hub.db'));
  let fullReads = 0;
  const listDevices = store.listDevices.bind(store);
  store.listDevices = () => {
    fullReads++;
    return listDevices();
  };
  const t = await startTestHub({}, { clock, store, dataDir: dir });
  c.after(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await pushArtifact(t, '1.1.0');
  const devices = await fleet(t, 4, () => 'commit');
  const step = stepper(t, clock, devices);
  assert.equal((await t.api('PUT', '/api/v1/rollouts/fw', { spec: spec('1.1.0') })).status, 201);
  await step();
  await status(t, 'fw');
  const before = fullReads;
  for (let i = 0; i < 10; i++) await status(t, 'fw');
  assert.equal(fullReads, before, 'ten status reads, no read of every device');
  // A device created since shows at the next read, read on its own.
  const targeted = (await status(t, 'fw')).counts.targeted;
  await t.createDevice('d99', { model: 'm1' });
  assert.equal((await status(t, 'fw')).counts.targeted, targeted + 1);
  assert.equal(fullReads, before);
  // A device deleted since is gone at the next read.
  assert.equal((await t.api('DELETE', '/api/v1/devices/d99')).status, 204);
  assert.equal((await status(t, 'fw')).counts.targeted, targeted);
});
