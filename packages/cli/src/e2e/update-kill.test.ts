// SIGKILL of a real agent process in the middle of an update: the device is on trial (switched to
// the new version, its probe under way) when it dies. Started again on the same data directory,
// the slots' boot counter rolls it back: it reports `rolled-back` (ERR_UPDATE_INTERRUPTED) and
// runs the version it had, never a half-installed one. The unit tests of the Updater cover a kill
// after every step; this one shows the whole path, process and files included.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { firmwareImage } from '@homeostat/agent';
import { waitFor } from '@homeostat/testing';
import { runCli } from '../testing/run-cli.js';
import { ADMIN, E2eHub, signAndPush, tempDir } from './harness.js';
import { removeTempDirs, startCli } from './processes.js';

const DEVICE = 'pump-kill';
const DEADLINE_MS = 30_000;

after(() => removeTempDirs());

test('SIGKILL of the agent on trial: after a restart it is back on its version, the update rolled back', async (t) => {
  const hub = new E2eHub();
  t.after(() => hub.close());
  await hub.start();
  const home = tempDir('update-kill');
  const cli = (...args: string[]) =>
    runCli(args, { env: { HOMEOSTAT_CONFIG: join(home, 'config.json') }, now: Date.now(), homeDir: home });
  assert.equal((await cli('login', '--server', hub.url, '--token', ADMIN)).code, 0);
  const keys = join(home, 'keys');
  assert.equal((await cli('keys', 'init', '--dir', keys)).code, 0);
  const trust = JSON.parse(readFileSync(join(keys, 'trusted-keys.json'), 'utf8'));
  const file = join(home, 'pump-fw-1.1.0.json');
  writeFileSync(file, firmwareImage('pump-fw', '1.1.0'));
  const key = join(keys, `signing-${trust.signed.keys[0].keyId}.key`);
  await signAndPush(cli, file, { name: 'pump-fw', version: '1.1.0', model: 'pump', key });
  const created = await hub.api('POST', '/api/v1/devices', {
    name: DEVICE,
    labels: { model: 'pump' },
    desired: { trust },
  });
  assert.equal(created.status, 201);

  const data = tempDir('agent');
  const agent = () =>
    startCli(
      t,
      [
        'agent',
        ...['--hub', hub.started!.mqttUrl, '--api-url', hub.url, '--id', DEVICE, '--kind', 'pump', '--data', data],
        ...['--root-key', join(keys, 'root.pub.json'), '--firmware', 'pump-fw@1.0.0'],
        // The new version is judged after a quarter of the window: 5 s on trial to be killed in.
        ...['--probe-window-ms', '20000', '--sample-ms', '3600000', '--reconnect-max-ms', '200', '--log-level', 'warn'],
      ],
      { env: { HOMEOSTAT_DEVICE_TOKEN: created.body.token } },
    );
  const reported = async () => (await hub.api('GET', `/api/v1/devices/${DEVICE}`)).body.twin;

  const first = agent();
  await waitFor(async () => (await reported()).reported.state.firmware?.version === '1.0.0', {
    timeoutMs: DEADLINE_MS,
    message: 'the agent reports its factory version',
  });
  const manifest = JSON.parse(readFileSync(`${file}.manifest.json`, 'utf8'));
  const patched = await hub.api('PATCH', `/api/v1/devices/${DEVICE}/twin/desired`, {
    version: (await reported()).desired.version,
    state: { update: { manifest } },
  });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  await waitFor(async () => (await reported()).reported.state.update?.state === 'probing', {
    timeoutMs: DEADLINE_MS,
    intervalMs: 50,
    message: 'the new version on trial',
  });
  first.child.kill('SIGKILL');
  assert.equal((await first.exited).signal, 'SIGKILL');

  const second = agent();
  const update = await waitFor(
    async () => {
      const u = (await reported()).reported.state.update;
      return u?.state === 'rolled-back' || u?.state === 'committed' ? u : null;
    },
    { timeoutMs: DEADLINE_MS, message: 'the update finished after the restart' },
  );
  assert.equal(update.state, 'rolled-back');
  assert.equal(update.code, 'ERR_UPDATE_INTERRUPTED');
  assert.equal((await reported()).reported.state.firmware.version, '1.0.0');
  await second.stop();
});
