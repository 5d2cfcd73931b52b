// `homeostat apply`: multi-document manifests, validation before sending, dry runs.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { FakeHub, makeDevice } from '../testing/fake-hub.js';
import { runCli, TEST_NOW, tempDir } from '../testing/run-cli.js';

async function start(t: { after(fn: () => Promise<void>): void }) {
  const hub = await FakeHub.start(() => TEST_NOW);
  const dir = await tempDir();
  t.after(async () => {
    await hub.close();
    await dir.cleanup();
  });
  return { hub, dir: dir.path, env: { HOMEOSTAT_SERVER: hub.url, HOMEOSTAT_TOKEN: 'operator-secret' } };
}

const FLEET = `# the Paris site
apiVersion: homeostat/v1
kind: Device
metadata:
  name: thermo-1
  labels: {site: paris, model: th2}
spec:
  desired: {setpoint: 21}
---
apiVersion: homeostat/v1
kind: Device
metadata:
  name: thermo-2
  labels: {site: paris}
---
apiVersion: homeostat/v1
kind: EnrollmentGroup
metadata: {name: paris}
spec:
  namePrefix: paris-
  maxDevices: 50
  template:
    labels: {site: paris}
    desired: {setpoint: 20}
`;

test('apply -f creates and configures every document, printing tokens once', async (t) => {
  const { hub, dir, env } = await start(t);
  hub.addDevice(makeDevice('thermo-2', TEST_NOW, { labels: { old: 'label' } }));
  const file = join(dir, 'fleet.yaml');
  await writeFile(file, FLEET);

  const run = await runCli(['apply', '-f', file], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(
    run.stdout,
    [
      'device/thermo-1 created',
      '  token: device-secret-1',
      'device/thermo-2 configured',
      'enrollmentgroup/paris created',
      '  claim token: claim-secret-2',
      '',
    ].join('\n'),
  );
  assert.match(run.stderr, /warning: the token of device\/thermo-1 is shown only this once/);
  assert.match(run.stderr, /warning: the claim token of enrollmentgroup\/paris is shown only this once/);
  assert.deepEqual(
    hub.mutations().map((r) => [r.method, r.path, r.body]),
    [
      ['PUT', '/api/v1/devices/thermo-1', { labels: { site: 'paris', model: 'th2' }, desired: { setpoint: 21 } }],
      ['PUT', '/api/v1/devices/thermo-2', { labels: { site: 'paris' } }],
      [
        'PUT',
        '/api/v1/enrollment-groups/paris',
        { namePrefix: 'paris-', maxDevices: 50, template: { labels: { site: 'paris' }, desired: { setpoint: 20 } } },
      ],
    ],
  );
  assert.deepEqual(hub.devices.get('thermo-2')?.metadata.labels, { site: 'paris' });

  // Applying again changes nothing new: everything is configured, no secret is printed.
  const again = await runCli(['apply', '-f', file], { env });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(
    again.stdout,
    'device/thermo-1 configured\ndevice/thermo-2 configured\nenrollmentgroup/paris configured\n',
  );
  assert.equal(again.stderr, '');
});

test('apply -f - reads JSON from stdin; -o json includes the token', async (t) => {
  const { env } = await start(t);
  const manifest = JSON.stringify({ apiVersion: 'homeostat/v1', kind: 'Device', metadata: { name: 'pump-1' } });
  const run = await runCli(['apply', '-f', '-', '-o', 'json'], { env, stdin: manifest });
  assert.equal(run.code, 0, run.stderr);
  const out = JSON.parse(run.stdout);
  assert.equal(out.items[0].ref, 'device/pump-1');
  assert.equal(out.items[0].action, 'created');
  assert.equal(out.items[0].token, 'device-secret-1');
  assert.equal(out.items[0].resource.metadata.name, 'pump-1');
});

test('an invalid manifest lists every problem with its document and path, and sends nothing', async (t) => {
  const { hub, env } = await start(t);
  const manifest = `apiVersion: homeostat/v1
kind: Device
metadata: {name: good-1}
---
apiVersion: homeostat/v2
kind: Device
metadata:
  name: Bad_Name
  labels: {site: paris, rev: 2, "no spaces": x}
spec:
  desired: [1, 2]
  sepc: oops
---
apiVersion: homeostat/v1
kind: EnrollmentGroup
metadata: {name: eg-1}
spec:
  maxDevices: 0
  template: {labels: {site: "a b"}}
---
kind: Gadget
---
apiVersion: homeostat/v1
kind: Device
metadata: {name: good-1}
`;
  const run = await runCli(['apply', '-f', '-'], { env, stdin: manifest });
  assert.equal(run.code, 1);
  assert.equal(run.stdout, '');
  const lines = run.stderr.trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^error: standard input is invalid \(\d+ problems\); nothing was applied$/);
  const details = lines.slice(1).map((l) => l.trim());
  for (const expected of [
    'doc 2: /apiVersion: must be "homeostat/v1"',
    'doc 2: /metadata/name: must match ^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$',
    'doc 2: /metadata/labels/rev: must be a string (quote it: "2")',
    'doc 2: /spec/desired: must be an object',
    'doc 2: /spec/sepc: unknown field (expected desired)',
    'doc 4: /apiVersion: must be "homeostat/v1"',
    'doc 4: /kind: must be one of Device, EnrollmentGroup, Deployment, Policy, Rollout',
    'doc 4: /metadata: must be an object with a name',
    'doc 5: /metadata/name: device/good-1 is also defined in doc 1',
  ]) {
    assert.ok(details.includes(expected), `missing ${expected} in\n${details.join('\n')}`);
  }
  assert.ok(details.some((d) => d.startsWith('doc 2: /metadata/labels/no spaces: invalid label key')));
  assert.ok(details.some((d) => d.startsWith('doc 3: /spec/maxDevices: ')));
  assert.ok(details.some((d) => d.startsWith('doc 3: /spec/template/labels/site: ')));
  assert.equal(hub.requests.length, 0);
});

test('a YAML syntax error names its document and line', async (t) => {
  const { hub, env } = await start(t);
  const run = await runCli(['apply', '-f', '-'], {
    env,
    stdin: 'apiVersion: homeostat/v1\nkind: Device\nmetadata: {name: a}\n---\nkind: Device\n  bad: indent: here\n',
  });
  assert.equal(run.code, 1);
  assert.match(run.stderr, /\n {2}doc 2: .*line 6/);
  assert.equal(hub.requests.length, 0);
});

test('apply --dry-run prints the requests and sends nothing (and needs no login)', async (t) => {
  const { hub, dir } = await start(t);
  const file = join(dir, 'fleet.yaml');
  await writeFile(file, FLEET);
  const run = await runCli(['apply', '-f', file, '--dry-run'], { env: {} });
  assert.equal(run.code, 0, run.stderr);
  assert.match(
    run.stdout,
    /^device\/thermo-1 would be applied \(dry run\): PUT \/api\/v1\/devices\/thermo-1\n {2}labels:\n/,
  );
  assert.match(
    run.stdout,
    /enrollmentgroup\/paris would be applied \(dry run\): PUT \/api\/v1\/enrollment-groups\/paris\n/,
  );
  assert.equal(hub.requests.length, 0);

  const json = await runCli(['apply', '-f', file, '--dry-run', '-o', 'json'], { env: {} });
  assert.equal(JSON.parse(json.stdout).items.length, 3);
  assert.equal(hub.requests.length, 0);
});

test('apply reports a refused document, applies the rest and exits 1', async (t) => {
  const { hub, dir, env } = await start(t);
  const file = join(dir, 'fleet.yaml');
  await writeFile(file, FLEET);
  hub.failNext(403, { error: { code: 'ERR_AUTH_FORBIDDEN', message: 'no' } });
  const run = await runCli(['apply', '-f', file], { env });
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^error: device\/thermo-1: ERR_AUTH_FORBIDDEN: no\n/);
  assert.match(run.stderr, /error: 1 of 3 resources could not be applied\n$/);
  assert.match(run.stdout, /^device\/thermo-2 created\n/);
  assert.equal(hub.mutations().length, 3);
});

test('apply of a missing file is an error', async (t) => {
  const { env } = await start(t);
  const run = await runCli(['apply', '-f', '/nonexistent/x.yaml'], { env });
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^error: cannot read \/nonexistent\/x.yaml/);
});
