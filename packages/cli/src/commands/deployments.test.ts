// Deployments and modules in the CLI, against the fake hub: apply (checked client-side, every
// problem with its document and path), the dry run per device, get, describe, delete, and the
// modules of each device.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ModuleSpec } from '@homeostat/protocol';
import { FakeHub, makeDeployment, makeDevice } from '../testing/fake-hub.js';
import { runCli, TEST_NOW } from '../testing/run-cli.js';

async function start(t: { after(fn: () => Promise<void>): void }) {
  const hub = await FakeHub.start(() => TEST_NOW);
  t.after(() => hub.close());
  return { hub, env: { HOMEOSTAT_SERVER: hub.url, HOMEOSTAT_TOKEN: 'operator-secret' } };
}

const HEATING = `apiVersion: homeostat/v1
kind: Deployment
metadata:
  name: paris-heating
  labels: {team: hvac}
spec:
  selector: site=paris
  priority: 10
  modules:
    - name: heat
      kind: rule
      config:
        when: {metric: temperature, below: 19}
        onActivate: [{actuate: {actuator: heatingElement, value: true}}]
    - name: fan
      kind: process
      config: {command: fand}
`;

const heat: ModuleSpec = {
  name: 'heat',
  kind: 'rule',
  config: { when: { metric: 'temperature', below: 19 }, onActivate: [] },
};

test('apply sends a Deployment as {labels, spec}; created, then configured', async (t) => {
  const { hub, env } = await start(t);
  const run = await runCli(['apply', '-f', '-'], { env, stdin: HEATING });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'deployment/paris-heating created\n');
  const [put] = hub.mutations();
  assert.equal(put?.path, '/api/v1/deployments/paris-heating');
  assert.deepEqual(put?.body, {
    labels: { team: 'hvac' },
    spec: {
      selector: 'site=paris',
      priority: 10,
      modules: [
        {
          name: 'heat',
          kind: 'rule',
          config: {
            when: { metric: 'temperature', below: 19 },
            onActivate: [{ actuate: { actuator: 'heatingElement', value: true } }],
          },
        },
        { name: 'fan', kind: 'process', config: { command: 'fand' } },
      ],
    },
  });
  const again = await runCli(['apply', '-f', '-'], { env, stdin: HEATING });
  assert.equal(again.stdout, 'deployment/paris-heating configured\n');
});

test('an invalid Deployment lists every problem, inside module configs precisely, and sends nothing', async (t) => {
  const { hub, env } = await start(t);
  const manifest = HEATING.replace('below: 19', 'belw: 19')
    .replace('command: fand', 'command: fand, cmd: x')
    .replace('selector: site=paris', 'selector: "site=paris,bad key"')
    .replace('name: fan', 'name: heat');
  const run = await runCli(['apply', '-f', '-'], { env, stdin: manifest });
  assert.equal(run.code, 1);
  const details = run.stderr
    .trimEnd()
    .split('\n')
    .slice(1)
    .map((l) => l.trim());
  for (const expected of [
    'doc 1: /spec/modules/0/config/when/belw: unknown field',
    'doc 1: /spec/modules/1/config/cmd: unknown field',
  ]) {
    assert.ok(details.includes(expected), `missing ${expected} in\n${details.join('\n')}`);
  }
  // The checks a schema cannot make come once the schema is satisfied.
  const semantic = await runCli(['apply', '-f', '-'], {
    env,
    stdin: HEATING.replace('selector: site=paris', 'selector: "site=paris,bad key"').replace('name: fan', 'name: heat'),
  });
  assert.equal(semantic.code, 1);
  assert.match(semantic.stderr, /doc 1: \/spec\/selector: invalid label key "bad key"/);
  assert.match(semantic.stderr, /doc 1: \/spec\/modules\/1\/name: heat is also the name of \/modules\/0/);
  assert.equal(hub.requests.length, 0);
});

test('apply --dry-run asks the hub what a Deployment would change and prints it per device', async (t) => {
  const { hub, env } = await start(t);
  hub.dryRuns.set('paris-heating', [
    {
      name: 'p-1',
      targeting: 'start',
      added: [{ name: 'fan', rev: '1111111111111111', deployment: 'paris-heating' }],
      removed: [],
      changed: [
        {
          name: 'heat',
          from: { name: 'heat', rev: '2222222222222222', deployment: 'base' },
          to: { name: 'heat', rev: '3333333333333333', deployment: 'paris-heating' },
        },
      ],
    },
    {
      name: 'p-2',
      targeting: 'stop',
      added: [],
      removed: [{ name: 'fan', rev: '4444444444444444', deployment: 'paris-heating' }],
      changed: [],
    },
  ]);
  const run = await runCli(['apply', '-f', '-', '--dry-run'], { env, stdin: HEATING });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(
    run.stdout,
    [
      'deployment/paris-heating would be created (dry run): 2 devices would change',
      '  device/p-1 (starts being targeted)',
      '    + fan  rev 11111111 from paris-heating',
      '    ~ heat  rev 22222222 -> 33333333 (from base to paris-heating)',
      '  device/p-2 (stops being targeted)',
      '    - fan  rev 44444444 from paris-heating',
      '',
    ].join('\n'),
  );
  assert.deepEqual(
    hub.requests.map((r) => [r.method, r.path, r.query]),
    [['PUT', '/api/v1/deployments/paris-heating', { dryRun: 'true' }]],
  );
  assert.equal(hub.deployments.size, 0);
  const json = JSON.parse(
    (await runCli(['apply', '-f', '-', '--dry-run', '-o', 'json'], { env, stdin: HEATING })).stdout,
  );
  assert.equal(json.items[0].effect.devices.length, 2);
});

test('get deployments, describe deployment, delete deployment', async (t) => {
  const { hub, env } = await start(t);
  hub.deployments.set(
    'paris-heating',
    makeDeployment(
      'paris-heating',
      TEST_NOW - 3_600_000,
      {
        selector: 'site=paris',
        priority: 10,
        modules: [heat, { name: 'fan', kind: 'process', config: { command: 'f' } }],
      },
      {
        targeted: 3,
        applied: 1,
        pending: 1,
        failing: 1,
        devices: [
          {
            name: 'p-1',
            state: 'applied',
            modules: [
              { name: 'heat', rev: 'aaaaaaaaaaaaaaaa', reported: { rev: 'aaaaaaaaaaaaaaaa', state: 'running' } },
            ],
          },
          {
            name: 'p-2',
            state: 'failing',
            modules: [
              { name: 'heat', rev: 'aaaaaaaaaaaaaaaa', reported: { rev: 'aaaaaaaaaaaaaaaa', state: 'crash-loop' } },
            ],
          },
          { name: 'p-3', state: 'pending', modules: [{ name: 'heat', rev: 'aaaaaaaaaaaaaaaa', reported: null }] },
        ],
      },
    ),
  );
  hub.deployments.set('all', makeDeployment('all', TEST_NOW - 60_000, { selector: '', priority: 0, modules: [heat] }));
  const list = await runCli(['get', 'deployments'], { env });
  assert.equal(list.code, 0, list.stderr);
  assert.equal(
    list.stdout,
    [
      'NAME            SELECTOR     PRIORITY   MODULES    TARGETED   APPLIED   FAILING   AGE',
      'paris-heating   site=paris   10         heat,fan   3          1         1         1h',
      'all             <all>        0          heat       0          0         0         1m',
      '',
    ].join('\n'),
  );
  const one = await runCli(['describe', 'deployment', 'paris-heating'], { env });
  assert.equal(one.code, 0, one.stderr);
  assert.match(one.stdout, /Selector: +site=paris\n/);
  assert.match(one.stdout, /Status:\n {2}Targeted: +3\n {2}Applied: +1\n {2}Pending: +1\n {2}Failing: +1\n/);
  assert.match(one.stdout, /p-2 +failing +heat +aaaaaaaa +aaaaaaaa +crash-loop/);
  assert.match(one.stdout, /p-3 +pending +heat +aaaaaaaa +- +-/);
  const yaml = await runCli(['get', 'deployment', 'all', '-o', 'json'], { env });
  assert.equal(JSON.parse(yaml.stdout).spec.selector, '');
  const del = await runCli(['delete', 'deployment', 'all'], { env });
  assert.equal(del.stdout, 'deployment/all deleted\n');
  assert.equal(hub.deployments.has('all'), false);
  const missing = await runCli(['describe', 'deployment', 'nope'], { env });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /ERR_DEPLOYMENT_NOT_FOUND/);
});

test('get modules lists each device’s modules; describe device has a Modules section', async (t) => {
  const { hub, env } = await start(t);
  const desiredModule = { rev: 'aaaaaaaaaaaaaaaa', deployment: 'paris-heating', spec: heat };
  hub.addDevice(
    makeDevice('p-1', TEST_NOW, {
      labels: { site: 'paris' },
      desired: { version: 2, state: { setpoint: 20, modules: { heat: desiredModule } } },
      reported: {
        version: 4,
        state: {
          modules: {
            heat: { kind: 'rule', rev: 'aaaaaaaaaaaaaaaa', state: 'running', since: TEST_NOW - 30_000, restarts: 1 },
            old: { kind: 'process', rev: 'bbbbbbbbbbbbbbbb', state: 'running', since: TEST_NOW - 60_000, restarts: 0 },
          },
        },
      },
    }),
  );
  hub.addDevice(makeDevice('p-2', TEST_NOW, { labels: { site: 'lyon' } }));
  const table = [
    'DEVICE   MODULE   KIND      DEPLOYMENT      DESIRED    REPORTED   STATE     RESTARTS   SINCE   STATUS',
    'p-1      heat     rule      paris-heating   aaaaaaaa   aaaaaaaa   running   1          30s     applied',
    'p-1      old      process   -               -          bbbbbbbb   running   0          1m      removing',
    '',
  ].join('\n');
  const all = await runCli(['get', 'modules'], { env });
  assert.equal(all.code, 0, all.stderr);
  assert.equal(all.stdout, table);
  const one = await runCli(['get', 'modules', '--device', 'p-1'], { env });
  assert.equal(one.stdout, table);
  assert.ok(hub.requests.some((r) => r.path === '/api/v1/devices/p-1/modules'));
  const none = await runCli(['get', 'modules', '--device', 'p-2'], { env });
  assert.equal(none.stdout, '');
  assert.match(none.stderr, /no modules on device p-2/);
  const described = await runCli(['describe', 'device', 'p-1'], { env });
  assert.match(described.stdout, /\nModules:\n {2}DEVICE +MODULE/);
  assert.match(described.stdout, /\nDesired state:\n {2}setpoint: 20\n\n/, 'modules are not shown twice');
});
