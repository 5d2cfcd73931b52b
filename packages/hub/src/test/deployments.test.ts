// Deployments over a real hub: layering of two overlapping deployments into the devices'
// desired `modules` (seen over the API and by an MQTT client acting as the device), devices that
// gain and lose modules as labels change or as they are created, the dry run, validation, the
// applied and failing counts following what devices report, and deletion.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { inbox, startTestHub, type TestHub } from './harness.js';

const hvac = (speed: number) => ({
  name: 'hvac',
  kind: 'process',
  config: { command: 'hvacd', args: [`--speed=${speed}`] },
});
const logger = { name: 'logger', kind: 'function', config: { source: 'export function handle() {}' } };

describe('deployments', () => {
  let t: TestHub;
  const settled = () => t.hub.services.deploymentController.idle();
  const desired = async (name: string) => (await t.api('GET', `/api/v1/devices/${name}`)).body.twin.desired;
  const moduleSummary = async (name: string) => {
    const modules = (await desired(name)).state.modules ?? {};
    return Object.fromEntries(
      Object.entries(modules as Record<string, { deployment: string; spec: { config: unknown } }>).map(([k, m]) => [
        k,
        m.deployment,
      ]),
    );
  };
  const report = (client: Awaited<ReturnType<TestHub['mqtt']>>, device: string, version: number, modules: unknown) =>
    client.publishAsync(`homeostat/v1/${device}/twin/reported`, JSON.stringify({ version, state: { modules } }), {
      qos: 1,
    });

  before(async () => {
    t = await startTestHub();
  });
  after(() => t.close());

  test('two overlapping deployments: per module name the higher priority wins; others keep theirs', async () => {
    await t.createDevice('p-1', { site: 'paris' });
    const token = await t.createDevice('p-2', { site: 'paris', tier: 'gold' });
    await t.createDevice('l-1', { site: 'lyon' });
    const device = await t.mqtt({ clientId: 'p-2', username: 'p-2', password: token });
    const box = inbox(device);
    await device.subscribeAsync('homeostat/v1/p-2/twin/desired', { qos: 1 });

    const base = await t.api('PUT', '/api/v1/deployments/base', {
      spec: { selector: 'site=paris', modules: [hvac(1), logger] },
    });
    assert.equal(base.status, 201, JSON.stringify(base.body));
    assert.equal(base.body.spec.priority, 0);
    assert.equal(base.body.metadata.generation, 1);
    const gold = await t.api('PUT', '/api/v1/deployments/gold', {
      labels: { team: 'hvac' },
      spec: { selector: 'tier=gold', priority: 10, modules: [hvac(2)] },
    });
    assert.equal(gold.status, 201, JSON.stringify(gold.body));
    await settled();

    assert.deepEqual(await moduleSummary('p-1'), { hvac: 'base', logger: 'base' });
    assert.deepEqual(await moduleSummary('p-2'), { hvac: 'gold', logger: 'base' });
    assert.equal((await desired('l-1')).state.modules, undefined);
    const p2 = (await desired('p-2')).state.modules;
    assert.match(p2.hvac.rev, /^[0-9a-f]{16}$/);
    assert.deepEqual(p2.hvac.spec, hvac(2));

    // The device receives the same thing on twin/desired.
    const published = await box.next((m) => JSON.parse(m.payload).state.modules?.hvac?.deployment === 'gold');
    assert.deepEqual(JSON.parse(published.payload).state.modules, p2);

    // Reconciling everything again writes nothing: no new desired version.
    const version = (await desired('p-2')).version;
    await t.hub.services.deploymentController.reconcile('all');
    assert.equal((await desired('p-2')).version, version);

    const list = (await t.api('GET', '/api/v1/deployments')).body.items;
    assert.deepEqual(
      list.map((d: { metadata: { name: string }; status: { targeted: number; observedGeneration: number } }) => [
        d.metadata.name,
        d.status.targeted,
        d.status.observedGeneration,
      ]),
      [
        ['base', 2, 1],
        ['gold', 1, 1],
      ],
    );
  });

  test('applied and failing counts follow the modules the devices report', async () => {
    const token = (await t.api('POST', '/api/v1/devices/p-2/token')).body.token;
    const device = await t.mqtt({ clientId: 'p-2', username: 'p-2', password: token });
    const mods = (await desired('p-2')).state.modules;
    const running = (name: string, state = 'running') => ({
      kind: mods[name].spec.kind,
      rev: mods[name].rev,
      state,
      since: 1,
      restarts: 0,
      lastError: null,
    });
    await report(device, 'p-2', 1, { hvac: running('hvac'), logger: running('logger', 'starting') });
    let gold = (await t.api('GET', '/api/v1/deployments/gold')).body.status;
    assert.deepEqual([gold.targeted, gold.applied, gold.failing, gold.pending], [1, 1, 0, 0]);
    let base = (await t.api('GET', '/api/v1/deployments/base')).body.status;
    assert.deepEqual([base.targeted, base.applied, base.pending], [2, 0, 2]);
    assert.deepEqual(
      base.devices.map((d: { name: string; state: string; modules: { name: string }[] }) => [
        d.name,
        d.state,
        d.modules.map((m) => m.name),
      ]),
      [
        ['p-1', 'pending', ['hvac', 'logger']],
        ['p-2', 'pending', ['logger']],
      ],
    );

    await report(device, 'p-2', 2, { hvac: running('hvac', 'crash-loop'), logger: running('logger') });
    gold = (await t.api('GET', '/api/v1/deployments/gold')).body.status;
    assert.deepEqual([gold.applied, gold.failing], [0, 1]);
    base = (await t.api('GET', '/api/v1/deployments/base')).body.status;
    assert.deepEqual([base.applied, base.failing, base.pending], [1, 0, 1]);

    const modules = (await t.api('GET', '/api/v1/devices/p-2/modules')).body;
    assert.deepEqual(
      modules.items.map((m: { name: string; deployment: string; condition: string }) => [
        m.name,
        m.deployment,
        m.condition,
      ]),
      [
        ['hvac', 'gold', 'failing'],
        ['logger', 'base', 'applied'],
      ],
    );
  });

  test('a device whose labels change gains and loses modules; a new matching device gets them', async () => {
    await t.api('PUT', '/api/v1/devices/p-2', { labels: { site: 'paris' } });
    await t.api('PUT', '/api/v1/devices/l-1', { labels: { site: 'paris', tier: 'gold' } });
    await t.createDevice('p-3', { site: 'paris' });
    await settled();
    assert.deepEqual(await moduleSummary('p-2'), { hvac: 'base', logger: 'base' });
    assert.deepEqual(await moduleSummary('l-1'), { hvac: 'gold', logger: 'base' });
    assert.deepEqual(await moduleSummary('p-3'), { hvac: 'base', logger: 'base' });
    await t.api('PUT', '/api/v1/devices/l-1', { labels: { site: 'lyon' } });
    await settled();
    assert.equal((await desired('l-1')).state.modules, undefined);
  });

  test('a device claimed through an enrollment group gets the modules its labels select', async () => {
    const group = await t.api('POST', '/api/v1/enrollment-groups', {
      name: 'paris-group',
      template: { labels: { site: 'paris' } },
    });
    const claimer = await t.mqtt({ clientId: 'sn-42', username: '_claim', password: group.body.claimToken });
    const box = inbox(claimer);
    await claimer.subscribeAsync('homeostat/v1/_claim/sn-42/response', { qos: 1 });
    await claimer.publishAsync('homeostat/v1/_claim/sn-42/request', JSON.stringify({ name: 'claimed-1' }), { qos: 1 });
    assert.equal(JSON.parse((await box.next(() => true)).payload).ok, true);
    await settled();
    assert.deepEqual(await moduleSummary('claimed-1'), { hvac: 'base', logger: 'base' });
  });

  test('a dry run says per device what would change, and stores nothing', async () => {
    const before = await t.api('GET', '/api/v1/deployments/gold');
    const r = await t.api('PUT', '/api/v1/deployments/gold?dryRun=true', {
      labels: { team: 'hvac' },
      spec: { selector: 'site=paris', priority: 10, modules: [hvac(3)] },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.created, false);
    assert.equal(r.body.deployment.metadata.generation, 2);
    const p1 = r.body.devices.find((d: { name: string }) => d.name === 'p-1');
    assert.equal(p1.targeting, 'start');
    assert.deepEqual(
      p1.changed.map((c: { name: string; from: { deployment: string }; to: { deployment: string } }) => [
        c.name,
        c.from.deployment,
        c.to.deployment,
      ]),
      [['hvac', 'base', 'gold']],
    );
    assert.deepEqual([p1.added, p1.removed], [[], []]);
    assert.deepEqual(
      r.body.devices.map((d: { name: string }) => d.name),
      ['claimed-1', 'p-1', 'p-2', 'p-3'],
    );
    assert.deepEqual((await t.api('GET', '/api/v1/deployments/gold')).body, before.body);
  });

  test('an invalid deployment is refused with every problem as path: message', async () => {
    const r = await t.api('PUT', '/api/v1/deployments/bad', {
      spec: {
        selector: 'site=paris',
        modules: [
          { name: 'r', kind: 'rule', config: { when: { metric: 'temperature', abov: 3 }, onActivate: [] } },
          { name: 'p', kind: 'process', config: { command: '' } },
        ],
      },
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'ERR_VALIDATION');
    assert.ok(
      r.body.error.details.includes('body/spec/modules/0/config/when/abov: Unexpected property'),
      JSON.stringify(r.body.error.details),
    );
    assert.ok(r.body.error.details.some((d: string) => d.startsWith('body/spec/modules/1/config/command')));
    const dup = await t.api('PUT', '/api/v1/deployments/bad', {
      spec: { selector: 'bad key=x', modules: [logger, logger] },
    });
    assert.equal(dup.status, 400);
    assert.ok(dup.body.error.details.some((d: string) => d.startsWith('body/spec/selector: ')));
    assert.ok(dup.body.error.details.some((d: string) => d.startsWith('body/spec/modules/1/name: logger is also')));
    assert.equal((await t.api('GET', '/api/v1/deployments/bad')).status, 404);
  });

  test('a viewer may read deployments but not change them', async () => {
    const viewer = (await t.api('POST', '/api/v1/tokens', { name: 'ro', role: 'viewer' })).body.secret;
    assert.equal((await t.api('GET', '/api/v1/deployments', undefined, viewer)).status, 200);
    const r = await t.api('DELETE', '/api/v1/deployments/gold', undefined, viewer);
    assert.equal(r.status, 403);
  });

  test('deleting deployments takes their modules away', async () => {
    assert.equal((await t.api('DELETE', '/api/v1/deployments/base')).status, 204);
    await settled();
    assert.deepEqual(await moduleSummary('p-1'), {});
    assert.equal((await desired('p-1')).state.modules, undefined);
    assert.equal((await t.api('DELETE', '/api/v1/deployments/base')).body.error.code, 'ERR_DEPLOYMENT_NOT_FOUND');
  });
});
