// A module crash-looping after a deployment change is rolled back on that device only, by the
// demo's policy at the demo's degrees, on a real hub with a device speaking real MQTT: the
// deployment controller keeps the rollback while the deployment names the failing rev, and lets
// it go once it names a fix; failing again at the earlier version escalates.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { FakeClock } from '@homeostat/kit';
import type { ModuleSpec } from '@homeostat/protocol';
import { DEMO_AUTONOMY, DEMO_POLICIES } from '../autonomic/demo-policies.js';
import { moduleRev } from '../model/deployments.js';
import { startTestHub, type TestHub } from './harness.js';

const flow = (source: string): ModuleSpec => ({
  name: 'flow-lpm',
  kind: 'function',
  config: { source, metrics: ['flow', 'speed'] },
  permissions: { metrics: ['flow', 'speed'] },
});
const V1 = flow('function handle(s) { return { metrics: { flowLpm: (s.metrics.flow * 1000) / 60 } }; }');
const V2 = flow('function handle(s) { return { metrics: { flowPerSpeed: s.metrics.flow / s.metrics.speed } }; }');
const V3 = flow('function handle(s) { return s.metrics.speed > 0 ? { metrics: { flowPerSpeed: 1 } } : {}; }');

describe('autonomic: a crash-looping module rolled back on its device', () => {
  let t: TestHub;
  let clock: FakeClock;
  const settled = () => t.hub.services.deploymentController.idle();

  beforeEach(async () => {
    clock = new FakeClock(1_800_000_000_000);
    t = await startTestHub({ heartbeatMs: 1000 }, { clock });
    for (const p of DEMO_POLICIES) await t.api('PUT', `/api/v1/policies/${p.name}`, { labels: p.labels, spec: p.spec });
    await t.api('PUT', '/api/v1/autonomy', DEMO_AUTONOMY);
  });
  afterEach(() => t.close());

  const deploy = async (spec: ModuleSpec) => {
    const r = await t.api('PUT', '/api/v1/deployments/pump-flow', {
      spec: { selector: 'model=pm-400', modules: [spec] },
    });
    assert.ok(r.status < 300, JSON.stringify(r.body));
    await settled();
  };
  const modules = async (name: string) =>
    (await t.api('GET', `/api/v1/devices/${name}`)).body.twin.desired.state.modules;

  /** The device reports the module crash-looping at `rev`; resolves once the hub's loop handled it. */
  async function crashLoop(name: string, token: string, rev: string) {
    const c = await t.mqtt({ clientId: name, username: name, password: token });
    const state = {
      modules: {
        'flow-lpm': { kind: 'function', rev, state: 'crash-loop', since: clock.now(), restarts: 2, lastError: null },
      },
    };
    await c.publishAsync(`homeostat/v1/${name}/twin/reported`, JSON.stringify({ version: clock.now(), state }), {
      qos: 1,
    });
    await c.endAsync();
    await t.hub.autonomic.idle();
  }

  test('back to the version before the change on that device; the others keep the change; a fix lets it go', async () => {
    const token = await t.createDevice('pump-01', { model: 'pm-400', site: 'plant' });
    await t.createDevice('pump-02', { model: 'pm-400', site: 'plant' });
    await deploy(V1);
    await clock.advance(1000);
    await deploy(V2);
    const [v1, v2, v3] = [moduleRev(V1), moduleRev(V2), moduleRev(V3)];
    assert.equal((await modules('pump-01'))['flow-lpm'].rev, v2);

    await crashLoop('pump-01', token, v2);
    const [d] = (await t.api('GET', '/api/v1/decisions?device=pump-01')).body.items;
    assert.equal(d.policy, 'module-crash-loop-rollback');
    assert.equal(d.degree, 'act');
    assert.equal(d.state, 'succeeded', d.explanation);
    assert.deepEqual(
      d.actions.map((a: { action: string; device: string; state: string }) => `${a.action} ${a.device} ${a.state}`),
      ['rollback-module pump-01 done', 'open-incident pump-01 done'],
    );
    assert.match(d.actions[0].result, new RegExp(`rolled back on pump-01 from rev ${v2} \\(pump-flow\\) to rev ${v1}`));
    const back = (await modules('pump-01'))['flow-lpm'];
    assert.equal(back.rev, v1);
    assert.deepEqual(back.spec, V1);
    assert.deepEqual(back.rolledBack, { from: v2, decision: d.id, at: clock.now() });
    assert.equal((await modules('pump-02'))['flow-lpm'].rev, v2, 'the other device keeps the change');
    assert.equal((await t.api('GET', '/api/v1/decisions?device=pump-02')).body.items.length, 0);

    // The controller, looking at every device again (as at a resync), keeps the rollback.
    await t.hub.services.deploymentController.reconcile('all');
    assert.equal((await modules('pump-01'))['flow-lpm'].rev, v1);

    // A fixed version: every device runs it, the rollback lapses.
    await deploy(V3);
    const fixed = (await modules('pump-01'))['flow-lpm'];
    assert.equal(fixed.rev, v3);
    assert.equal(fixed.rolledBack, undefined);
    assert.equal((await modules('pump-02'))['flow-lpm'].rev, v3);
  });

  test('failing again at the version it went back to: the decision fails and escalates', async () => {
    const token = await t.createDevice('pump-03', { model: 'pm-400' });
    await deploy(V1);
    await deploy(V2);
    await crashLoop('pump-03', token, moduleRev(V2));
    // After the policy's cooldown (an hour), it crash-loops again, at the version it went back to.
    await clock.advance(3_600_001);
    await crashLoop('pump-03', token, moduleRev(V1));
    const [latest] = (await t.api('GET', '/api/v1/decisions?device=pump-03')).body.items;
    assert.equal(latest.state, 'escalated', latest.explanation);
    assert.match(latest.actions[0].result, /was rolled back already .* and fails at rev/);
  });
});
