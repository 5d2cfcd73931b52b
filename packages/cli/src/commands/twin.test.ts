// `twin set` and `twin patch`: merge patches based on a desired version, and 409 conflicts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeHub, makeDevice } from '../testing/fake-hub.js';
import { runCli, TEST_NOW } from '../testing/run-cli.js';

async function start(t: { after(fn: () => Promise<void>): void }) {
  const hub = await FakeHub.start(() => TEST_NOW);
  t.after(() => hub.close());
  hub.addDevice(
    makeDevice('thermo-1', TEST_NOW, {
      desired: { version: 4, state: { setpoint: 19, mode: 'eco' }, updatedAt: TEST_NOW },
    }),
  );
  return { hub, env: { HOMEOSTAT_SERVER: hub.url, HOMEOSTAT_TOKEN: 'operator-secret' } };
}

test('twin set reads the current version and sends a typed merge patch', async (t) => {
  const { hub, env } = await start(t);
  const run = await runCli(
    ['twin', 'set', 'thermo-1', 'setpoint=21.5', 'mode=null', 'schedule.day=07:00', 'label="42"'],
    {
      env,
    },
  );
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'device/thermo-1 desired state updated to version 5\n');
  assert.deepEqual(
    hub.requests.map((r) => `${r.method} ${r.path}`),
    ['GET /api/v1/devices/thermo-1', 'PATCH /api/v1/devices/thermo-1/twin/desired'],
  );
  assert.deepEqual(hub.requests[1]?.body, {
    version: 4,
    state: { setpoint: 21.5, mode: null, schedule: { day: '07:00' }, label: '42' },
  });
  assert.deepEqual(hub.devices.get('thermo-1')?.twin.desired.state, {
    setpoint: 21.5,
    schedule: { day: '07:00' },
    label: '42',
  });
});

test('twin set with a stale --version explains the 409 and exits 1', async (t) => {
  const { hub, env } = await start(t);
  const run = await runCli(['twin', 'set', 'thermo-1', 'setpoint=22', '--version', '3'], { env });
  assert.equal(run.code, 1);
  assert.equal(run.stdout, '');
  assert.equal(
    run.stderr,
    [
      'error: ERR_TWIN_VERSION_CONFLICT: desired version is 4, the patch is based on 3',
      '  the desired state of thermo-1 changed after version 3 (it is now at version 4); nothing was changed',
      '  review it with `homeostat describe device thermo-1`, then retry (without --version to build on the current one)',
      '',
    ].join('\n'),
  );
  assert.equal(hub.devices.get('thermo-1')?.twin.desired.version, 4);
  // With --version given there is no read before the patch.
  assert.equal(hub.requests[0]?.method, 'PATCH');
});

test('twin patch --json sends the patch; -o json prints the device', async (t) => {
  const { hub, env } = await start(t);
  const run = await runCli(
    ['twin', 'patch', 'thermo-1', '--json', '{"setpoint": 20, "fan": {"speed": 2}}', '--version', '4', '-o', 'json'],
    {
      env,
    },
  );
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(hub.requests[0]?.body, { version: 4, state: { setpoint: 20, fan: { speed: 2 } } });
  assert.equal(JSON.parse(run.stdout).twin.desired.version, 5);
});

test('twin usage errors exit 2 and send nothing', async (t) => {
  const { hub, env } = await start(t);
  for (const args of [
    ['twin', 'set', 'thermo-1', 'novalue'],
    ['twin', 'set', 'thermo-1', 'a=1', '--version', '-1'],
    ['twin', 'patch', 'thermo-1', '--json', '[1]'],
    ['twin', 'patch', 'thermo-1', '--json', '{oops'],
    ['twin', 'patch', 'thermo-1'],
    ['twin', 'set', 'thermo-1'],
  ]) {
    const run = await runCli(args, { env });
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, /^error: /);
  }
  assert.equal(hub.requests.length, 0);
});
