// `devices create`, `devices rotate-token`, `tokens create` and `delete`: secrets printed once.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { FakeHub, makeDevice } from '../testing/fake-hub.js';
import { runCli, TEST_NOW } from '../testing/run-cli.js';

async function start(t: { after(fn: () => Promise<void>): void }, token = 'operator-secret') {
  const hub = await FakeHub.start(() => TEST_NOW);
  t.after(() => hub.close());
  return { hub, env: { HOMEOSTAT_SERVER: hub.url, HOMEOSTAT_TOKEN: token } };
}

function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

test('devices create prints the device and its token once, with a warning', async (t) => {
  const { hub, env } = await start(t);
  const run = await runCli(['devices', 'create', 'thermo-1', '-l', 'site=paris', '-l', 'model=th2,rev=b'], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(hub.requests.at(-1)?.body, { name: 'thermo-1', labels: { site: 'paris', model: 'th2', rev: 'b' } });
  assert.match(run.stdout, /^device\/thermo-1 created\n\nNAME\s+LIVENESS/);
  assert.match(run.stdout, /\ntoken: device-secret-1\n$/);
  assert.equal(occurrences(run.stdout + run.stderr, 'device-secret-1'), 1);
  assert.match(run.stderr, /^warning: the token of device thermo-1 is shown only this once/);
});

test('devices create -o json and -o yaml include the token field', async (t) => {
  const { env } = await start(t);
  const json = await runCli(['devices', 'create', 'a-1', '-o', 'json'], { env });
  assert.equal(json.code, 0, json.stderr);
  const creds = JSON.parse(json.stdout);
  assert.equal(creds.token, 'device-secret-1');
  assert.equal(creds.device.metadata.name, 'a-1');
  assert.equal(occurrences(json.stdout, 'device-secret-1'), 1);

  const yaml = await runCli(['devices', 'create', 'a-2', '--desired', '{"setpoint":20}', '-o', 'yaml'], { env });
  assert.equal(yaml.code, 0, yaml.stderr);
  const doc = parseYaml(yaml.stdout);
  assert.equal(doc.token, 'device-secret-2');
  assert.deepEqual(doc.device.twin.desired.state, { setpoint: 20 });
});

test('devices create checks the name and labels before sending', async (t) => {
  const { hub, env } = await start(t);
  const badName = await runCli(['devices', 'create', 'Thermo_1'], { env });
  assert.equal(badName.code, 2);
  assert.match(badName.stderr, /invalid device name "Thermo_1"/);
  const badLabels = await runCli(['devices', 'create', 'ok', '-l', 'site', '-l', 'a=b c'], { env });
  assert.equal(badLabels.code, 2);
  assert.equal(
    badLabels.stderr,
    'error: invalid labels\n  "site": expected key=value\n  "b c": invalid label value for a\n',
  );
  assert.equal(hub.requests.length, 0);
});

test('devices create of an existing name reports ERR_DEVICE_EXISTS', async (t) => {
  const { hub, env } = await start(t);
  hub.addDevice(makeDevice('dup', TEST_NOW));
  const run = await runCli(['devices', 'create', 'dup'], { env });
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^error: ERR_DEVICE_EXISTS: /);
});

test('devices rotate-token prints the new token once', async (t) => {
  const { hub, env } = await start(t);
  hub.addDevice(makeDevice('thermo-1', TEST_NOW));
  const run = await runCli(['devices', 'rotate-token', 'thermo-1'], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(hub.requests.at(-1)?.path, '/api/v1/devices/thermo-1/token');
  assert.match(run.stdout, /^device\/thermo-1 token rotated\n/);
  assert.equal(occurrences(run.stdout + run.stderr, 'device-secret-1'), 1);
});

test('tokens create prints the secret once; a viewer may not', async (t) => {
  const { env } = await start(t, 'admin-secret');
  const run = await runCli(['tokens', 'create', 'ci', '--role', 'operator'], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'token/ci created (role operator)\nsecret: api-secret-1\n');
  assert.match(run.stderr, /^warning: the secret of token\/ci is shown only this once/);

  const badRole = await runCli(['tokens', 'create', 'x', '--role', 'root'], { env });
  assert.equal(badRole.code, 2);
  assert.match(badRole.stderr, /Allowed choices are viewer, operator, admin/);

  const viewer = await runCli(['tokens', 'create', 'y', '--role', 'viewer'], {
    env: { ...env, HOMEOSTAT_TOKEN: 'viewer-secret' },
  });
  assert.equal(viewer.code, 1);
  assert.match(viewer.stderr, /^error: ERR_AUTH_FORBIDDEN: /);
});

test('delete device, enrollmentgroup and token', async (t) => {
  const { hub, env } = await start(t, 'admin-secret');
  hub.addDevice(makeDevice('a', TEST_NOW));
  hub.addDevice(makeDevice('b', TEST_NOW));
  const devices = await runCli(['delete', 'device', 'a', 'b'], { env });
  assert.equal(devices.code, 0, devices.stderr);
  assert.equal(devices.stdout, 'device/a deleted\ndevice/b deleted\n');
  assert.equal(hub.devices.size, 0);
  assert.deepEqual(
    hub.mutations().map((r) => `${r.method} ${r.path}`),
    ['DELETE /api/v1/devices/a', 'DELETE /api/v1/devices/b'],
  );

  const token = await runCli(['delete', 'token', 'viewer'], { env });
  assert.equal(token.code, 0, token.stderr);
  assert.equal(token.stdout, 'token/viewer deleted\n');

  const missing = await runCli(['delete', 'eg', 'nope'], { env });
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'error: ERR_ENROLLMENT_GROUP_NOT_FOUND: no enrollment group named nope\n');
});

test('delete carries on past a missing name and exits 1', async (t) => {
  const { hub, env } = await start(t);
  hub.addDevice(makeDevice('b', TEST_NOW));
  const run = await runCli(['delete', 'device', 'ghost', 'b'], { env });
  assert.equal(run.code, 1);
  assert.equal(run.stdout, 'device/b deleted\n');
  assert.equal(run.stderr, 'error: ERR_DEVICE_NOT_FOUND: no device named ghost\nerror: 1 of 2 deletions failed\n');
});
