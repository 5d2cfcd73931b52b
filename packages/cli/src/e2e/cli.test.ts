// The CLI against a real hub: login, apply, get, describe, twin, telemetry, delete, and the
// errors a user sees. The same commands a new user types after `npm start`.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PumpHardware } from '@homeostat/sim';
import { waitFor } from '@homeostat/testing';
import { runCli } from '../testing/run-cli.js';
import { ADMIN, agent, E2eHub, tempDir } from './harness.js';

describe('cli against a real hub', () => {
  const hub = new E2eHub();
  const home = tempDir('home');
  const env = () => ({ HOMEOSTAT_CONFIG: join(home, 'config.json') });
  const cli = (...args: string[]) => runCli(args, { env: env(), now: Date.now(), homeDir: home });
  before(() => hub.start());
  after(() => hub.close());

  test('login verifies the token and saves the config; a wrong token is refused', async () => {
    const bad = await cli('login', '--server', hub.url, '--token', 'hsa_wrong');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /ERR_AUTH_INVALID/);
    const ok = await cli('login', '--server', hub.url, '--token', ADMIN);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /logged in to .* as admin \(admin\)/);
    assert.equal(ok.stdout.includes(ADMIN), false);
  });

  test('apply creates devices and a group from YAML, then configures them; get and describe show them', async () => {
    const file = join(home, 'fleet.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: homeostat/v1',
        'kind: Device',
        'metadata: {name: pump-cli, labels: {site: paris}}',
        'spec: {desired: {speed: 0.6}}',
        '---',
        'apiVersion: homeostat/v1',
        'kind: EnrollmentGroup',
        'metadata: {name: rooms}',
        'spec: {template: {labels: {site: lyon}}, maxDevices: 10}',
        '',
      ].join('\n'),
    );
    const created = await cli('apply', '-f', file);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /device\/pump-cli created/);
    assert.match(created.stdout, /hsd_/, 'the device token is shown once');
    assert.match(created.stdout, /hsc_/, 'the claim token is shown once');
    const again = await cli('apply', '-f', file);
    assert.match(again.stdout, /device\/pump-cli configured/);
    assert.equal((await hub.api('GET', '/api/v1/devices/pump-cli')).body.twin.desired.version, 1, 'unchanged');
    writeFileSync(file, readFileSync(file, 'utf8').replace('speed: 0.6', 'speed: 0.9'));
    const changed = await cli('apply', '-f', file);
    assert.equal(changed.code, 0, changed.stderr);
    const desired = (await hub.api('GET', '/api/v1/devices/pump-cli')).body.twin.desired;
    assert.deepEqual([desired.version, desired.state], [2, { speed: 0.9 }], 'a changed desired state is applied');

    const list = await cli('get', 'devices');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^NAME +LIVENESS/m);
    assert.match(list.stdout, /^pump-cli +unknown +never +site=paris/m);
    const json = JSON.parse((await cli('get', 'devices', 'pump-cli', '-o', 'json')).stdout);
    assert.equal(json.twin.desired.state.speed, 0.9);
    const described = await cli('describe', 'device', 'pump-cli');
    assert.match(described.stdout, /pump-cli/);
    assert.match(described.stdout, /speed: 0.9/);
    const yaml = await cli('get', 'enrollmentgroups', '-o', 'yaml');
    assert.match(yaml.stdout, /name: rooms/);
  });

  test('an invalid manifest is refused with every problem listed, and nothing is sent', async () => {
    const file = join(home, 'bad.yaml');
    writeFileSync(
      file,
      'apiVersion: homeostat/v1\nkind: Device\nmetadata: {name: Bad_Name, labels: {site: 5}}\nsepc: {}\n',
    );
    const r = await cli('apply', '-f', file);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /metadata\/name/);
    assert.match(r.stderr, /sepc/);
    assert.equal((await hub.api('GET', '/api/v1/devices/Bad_Name')).status, 400);
  });

  test('a deployment: dry run, apply, its modules on the device (kept by a device apply), get, describe, delete', async () => {
    const file = join(home, 'deploy.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: homeostat/v1',
        'kind: Deployment',
        'metadata: {name: paris-pumps}',
        'spec:',
        '  selector: site=paris',
        '  modules:',
        '    - {name: flow, kind: process, config: {command: flowd}}',
        '',
      ].join('\n'),
    );
    const dry = await cli('apply', '-f', file, '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /deployment\/paris-pumps would be created \(dry run\): 1 device would change\n/);
    assert.match(
      dry.stdout,
      / {2}device\/pump-cli \(starts being targeted\)\n {4}\+ flow {2}rev [0-9a-f]{8} from paris-pumps\n/,
    );
    assert.equal((await hub.api('GET', '/api/v1/deployments/paris-pumps')).status, 404);

    const applied = await cli('apply', '-f', file);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /deployment\/paris-pumps created/);
    await waitFor(async () => {
      const d = (await hub.api('GET', '/api/v1/devices/pump-cli')).body.twin.desired;
      return d.state.modules?.flow?.deployment === 'paris-pumps';
    });
    // Applying the device's own manifest again keeps the modules the controller wrote.
    const version = (await hub.api('GET', '/api/v1/devices/pump-cli')).body.twin.desired.version;
    const fleet = await cli('apply', '-f', join(home, 'fleet.yaml'));
    assert.equal(fleet.code, 0, fleet.stderr);
    const desired = (await hub.api('GET', '/api/v1/devices/pump-cli')).body.twin.desired;
    assert.equal(desired.version, version);
    assert.equal(desired.state.modules.flow.spec.config.command, 'flowd');

    const list = await cli('get', 'deployments');
    assert.match(list.stdout, /^paris-pumps +site=paris +0 +flow +1 +0 +0 /m);
    const modules = await cli('get', 'modules');
    assert.match(modules.stdout, /^pump-cli +flow +process +paris-pumps +[0-9a-f]{8} +- +- +- +- +pending$/m);
    const described = await cli('describe', 'deployment', 'paris-pumps');
    assert.match(described.stdout, /Targeted: +1\n/);
    assert.match(described.stdout, /pump-cli +pending +flow/);
    assert.match((await cli('describe', 'device', 'pump-cli')).stdout, /Modules:\n {2}DEVICE/);

    assert.equal((await cli('delete', 'deployment', 'paris-pumps')).code, 0);
    await waitFor(
      async () => (await hub.api('GET', '/api/v1/devices/pump-cli')).body.twin.desired.state.modules === undefined,
    );
  });

  test('a live device: twin set round trip, telemetry, then delete', async () => {
    const created = await cli('devices', 'create', 'pump-live', '-o', 'json');
    assert.equal(created.code, 0, created.stderr);
    const token = JSON.parse(created.stdout).token as string;
    const a = agent({
      hubUrl: hub.started!.mqttUrl,
      id: 'pump-live',
      token,
      dataDir: tempDir('agent'),
      hardware: new PumpHardware(),
    });
    await a.start();
    try {
      await waitFor(() => a.connected);
      const set = await cli('twin', 'set', 'pump-live', 'speed=0.4');
      assert.equal(set.code, 0, set.stderr);
      await waitFor(
        async () => (await hub.api('GET', '/api/v1/devices/pump-live')).body.twin.reported.desiredVersion === 1,
      );
      const list = await cli('get', 'devices', 'pump-live');
      assert.match(list.stdout, /pump-live +online .* 1 +in sync/);
      a.sampleNow();
      await waitFor(async () => (await hub.seqs('pump-live', 'speed')).length === 1);
      const t = await cli('telemetry', 'pump-live', '--metric', 'speed', '-o', 'json');
      assert.equal(t.code, 0, t.stderr);
      assert.equal(JSON.parse(t.stdout).points[0].value, 0.4);
      const stale = await cli('twin', 'set', 'pump-live', 'speed=0.9', '--version', '0');
      assert.equal(stale.code, 1);
      assert.match(stale.stderr, /ERR_TWIN_VERSION_CONFLICT/);
    } finally {
      await a.stop();
    }
    const deleted = await cli('delete', 'device', 'pump-live');
    assert.equal(deleted.code, 0, deleted.stderr);
    const gone = await cli('describe', 'device', 'pump-live');
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /ERR_DEVICE_NOT_FOUND/);
  });
});
