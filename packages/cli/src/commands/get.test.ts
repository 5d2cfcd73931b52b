// `homeostat get` and `describe`: tables, JSON and YAML against the fake hub.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { FakeHub, makeDevice } from '../testing/fake-hub.js';
import { runCli, TEST_NOW } from '../testing/run-cli.js';

async function seeded(t: { after(fn: () => Promise<void>): void }) {
  const hub = await FakeHub.start(() => TEST_NOW);
  t.after(() => hub.close());
  hub.addDevice(
    makeDevice('thermo-1', TEST_NOW - 5 * 60_000, {
      labels: { site: 'paris', model: 'th2' },
      desired: { version: 3, state: { setpoint: 21, mode: 'heat' }, updatedAt: TEST_NOW - 60_000 },
      reported: { version: 9, state: { temperature: 20.5 }, desiredVersion: 3, updatedAt: TEST_NOW - 2000 },
      status: {
        lifecycle: 'active',
        liveness: {
          state: 'online',
          since: TEST_NOW - 120_000,
          lastSeen: TEST_NOW - 3000,
          heartbeatMs: 5000,
          evidence: { kind: 'heartbeat', at: TEST_NOW - 3000, detail: 'heartbeat seq 42' },
        },
        connected: true,
        capabilities: { cpu: { cores: 4 }, onnx: ['cpu'] },
        agent: { version: '0.1.0' },
        enrollmentGroup: null,
      },
    }),
  );
  hub.addDevice(
    makeDevice('mower-7', TEST_NOW - 3 * 86_400_000, {
      labels: { site: 'lyon' },
      desired: { version: 2, state: {}, updatedAt: null },
      reported: { version: 1, state: {}, desiredVersion: 1, updatedAt: null },
    }),
  );
  const env = { HOMEOSTAT_SERVER: hub.url, HOMEOSTAT_TOKEN: 'viewer-secret' };
  return { hub, env };
}

test('get devices prints an aligned table with relative times and sync state', async (t) => {
  const { env } = await seeded(t);
  const run = await runCli(['get', 'devices'], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(
    run.stdout,
    [
      'NAME       LIVENESS   LAST SEEN   LABELS                 DESIRED   REPORTED   AGE',
      'thermo-1   online     3s ago      model=th2,site=paris   3         in sync    5m',
      'mower-7    unknown    never       site=lyon              2         pending    3d',
      '',
    ].join('\n'),
  );
});

test('get devices -l sends the selector; a bad selector is a usage error sent nowhere', async (t) => {
  const { hub, env } = await seeded(t);
  const run = await runCli(['get', 'devices', '-l', 'site=paris'], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(hub.requests.at(-1)?.query, { selector: 'site=paris' });
  assert.match(run.stdout, /thermo-1/);
  assert.doesNotMatch(run.stdout, /mower-7/);

  const before = hub.requests.length;
  const bad = await runCli(['get', 'devices', '-l', 'Bad Key=x'], { env });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /error: invalid selector\n +selector: invalid label key/);
  assert.equal(hub.requests.length, before);
});

test('get devices -o json and -o yaml print the resources as the API returns them', async (t) => {
  const { hub, env } = await seeded(t);
  const json = await runCli(['get', 'devices', '-o', 'json'], { env });
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), { items: [...hub.devices.values()] });

  const yaml = await runCli(['get', 'device', 'thermo-1', '-o', 'yaml'], { env });
  assert.equal(yaml.code, 0, yaml.stderr);
  assert.deepEqual(parseYaml(yaml.stdout), hub.devices.get('thermo-1'));
});

test('get devices NAME for a missing device reports the hub error', async (t) => {
  const { env } = await seeded(t);
  const run = await runCli(['get', 'devices', 'ghost'], { env });
  assert.equal(run.code, 1);
  assert.equal(run.stderr, 'error: ERR_DEVICE_NOT_FOUND: no device named ghost\n');
});

test('get enrollmentgroups (and its aliases), events and tokens', async (t) => {
  const { hub, env } = await seeded(t);
  const adminEnv = { ...env, HOMEOSTAT_TOKEN: 'admin-secret' };
  await runCli(['apply', '-f', '-'], {
    env: adminEnv,
    stdin:
      'apiVersion: homeostat/v1\nkind: EnrollmentGroup\nmetadata: {name: paris}\nspec:\n  maxDevices: 10\n  template: {labels: {site: paris}}\n',
  });
  for (const alias of ['enrollmentgroups', 'enrollment-groups', 'eg']) {
    const run = await runCli(['get', alias], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stdout,
      'NAME    PREFIX   ENROLLED   EXPIRES   LABELS       AGE\nparis   paris-   0/10       never     site=paris   0s\n',
    );
  }

  hub.events.push(
    {
      id: 1,
      ts: TEST_NOW - 10_000,
      device: 'thermo-1',
      source: 'hub',
      type: 'liveness',
      code: null,
      severity: 'info',
      message: 'online',
      data: {},
    },
    {
      id: 2,
      ts: TEST_NOW - 5000,
      device: 'mower-7',
      source: 'device',
      type: 'fault',
      code: 'E42',
      severity: 'warning',
      message: 'blade stuck',
      data: {},
    },
  );
  const events = await runCli(['get', 'events', '--device', 'mower-7', '--limit', '5'], { env });
  assert.equal(events.code, 0, events.stderr);
  assert.deepEqual(hub.requests.at(-1)?.query, { device: 'mower-7', limit: '5' });
  assert.match(
    events.stdout,
    /^ID\s+AGE\s+DEVICE\s+SOURCE\s+TYPE\s+SEVERITY\s+CODE\s+MESSAGE\n2\s+5s\s+mower-7\s+device\s+fault\s+warning\s+E42\s+blade stuck\n$/,
  );

  const badLimit = await runCli(['get', 'events', '--limit', 'lots'], { env });
  assert.equal(badLimit.code, 2);
  assert.match(badLimit.stderr, /invalid --limit "lots"/);

  const tokens = await runCli(['get', 'tokens', '-o', 'json'], { env: adminEnv });
  assert.equal(tokens.code, 0, tokens.stderr);
  assert.deepEqual(
    JSON.parse(tokens.stdout).items.map((t: { name: string }) => t.name),
    ['admin', 'operator', 'viewer'],
  );
  assert.doesNotMatch(tokens.stdout, /secret/);
});

test('describe device shows metadata, labels, liveness evidence, twin states and capabilities', async (t) => {
  const { env } = await seeded(t);
  const run = await runCli(['describe', 'device', 'thermo-1'], { env });
  assert.equal(run.code, 0, run.stderr);
  const out = run.stdout;
  assert.match(out, /^Name: +thermo-1$/m);
  assert.match(out, /^Lifecycle: +active$/m);
  assert.match(out, /^Labels:\n {2}model=th2\n {2}site=paris$/m);
  assert.match(out, /^ +State: +online since 2025-01-01T11:58:00.000Z \(2m ago\)$/m);
  assert.match(out, /^ +Last seen: +3s ago$/m);
  assert.match(out, /^ +Evidence: +heartbeat at 2025-01-01T11:59:57.000Z \(3s ago\)$/m);
  assert.match(out, /^ +Detail: +heartbeat seq 42$/m);
  assert.match(out, /^ +Reported: +version 9, applied desired 3 \(in sync\), updated 2s ago$/m);
  assert.match(out, /^Desired state:\n +setpoint: 21\n +mode: heat$/m);
  assert.match(out, /^Reported state:\n +temperature: 20.5$/m);
  assert.match(out, /^Capabilities:\n +cpu:\n +cores: 4\n +onnx:\n +- cpu$/m);
});

test('describe enrollmentgroup shows the template and limits', async (t) => {
  const { env } = await seeded(t);
  await runCli(['apply', '-f', '-'], {
    env: { ...env, HOMEOSTAT_TOKEN: 'operator-secret' },
    stdin: JSON.stringify({
      apiVersion: 'homeostat/v1',
      kind: 'EnrollmentGroup',
      metadata: { name: 'lyon' },
      spec: { template: { labels: { site: 'lyon' }, desired: { setpoint: 19 } }, expiresAt: '2025-01-02T12:00:00Z' },
    }),
  });
  const run = await runCli(['describe', 'eg', 'lyon'], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^Enrolled: +0 \(no limit\)$/m);
  assert.match(run.stdout, /^Expires: +2025-01-02T12:00:00.000Z \(in 24h\)$/m);
  assert.match(run.stdout, /^Template labels: site=lyon$/m);
  assert.match(run.stdout, /^Template desired state:\n +setpoint: 19$/m);
});
