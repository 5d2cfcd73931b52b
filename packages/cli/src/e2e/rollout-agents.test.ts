// A rollout end to end over real agents: `keys init`, a simulated firmware image signed and
// pushed with the CLI, devices provisioned with the root key (and the trusted-keys list in their
// desired `trust`), a Rollout applied with `apply -f`. A good release reaches every device and
// `rollout status` says complete; a release that fails its probe is rolled back by the canary
// itself, the rollout halts, and every device runs the good version still.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FirmwareHealth } from '@homeostat/agent';
import { PumpHardware } from '@homeostat/sim';
import { waitFor } from '@homeostat/testing';
import { FirmwareFleet } from './harness.js';

const DEVICES = ['pump-r1', 'pump-r2', 'pump-r3', 'pump-r4'];

describe('rollouts of signed firmware over real agents', () => {
  const fleet = new FirmwareFleet('rollout-agents', DEVICES);
  const { hub, cli, keys } = fleet;

  before(() =>
    fleet.start(() => ({ hardware: new PumpHardware(), updateProbe: { windowMs: 3000, everyMs: 200, minUpMs: 300 } })),
  );
  after(() => fleet.stop());

  const release = (version: string, health: FirmwareHealth) => keys.release('pump-fw', version, 'pump', health);
  const apply = (version: string) =>
    fleet.applyRollout(version, [
      'strategy: {canary: 1, waves: [0.5, 1], maxUnavailable: 2, soakMs: 0, deviceTimeoutMs: 30000}',
      'abort: {failureRate: 0.5, minDevices: 1}',
    ]);
  const finished = (revision: number) =>
    waitFor(
      async () => {
        const r = await cli('rollout', 'status', 'pump-fw', '-o', 'json');
        const { status } = JSON.parse(r.stdout);
        return status.revision === revision && (status.phase === 'complete' || status.phase === 'halted')
          ? status
          : null;
      },
      { message: 'the rollout finished', timeoutMs: 60_000, intervalMs: 250 },
    );
  const firmware = () => fleet.firmware();

  test('a good release reaches every device; rollout status says complete', async () => {
    await release('1.1.0', 'ok');
    await apply('1.1.0');
    const status = await finished(1);
    assert.equal(status.phase, 'complete');
    assert.equal(status.counts.succeeded, DEVICES.length);
    const shown = await cli('rollout', 'status', 'pump-fw');
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /complete/);
    assert.deepEqual(
      await firmware(),
      DEVICES.map(() => '1.1.0'),
    );
  });

  test('a release that fails its probe: the canary rolls back, the rollout halts, no device leaves 1.1.0', async () => {
    await release('1.2.0', 'fail-probe');
    await apply('1.2.0');
    const status = await finished(2);
    assert.equal(status.phase, 'halted');
    assert.equal(status.counts.failed, 1, 'only the canary tried it');
    assert.equal(status.counts.rolledBack, 1);
    const device = (await hub.api('GET', `/api/v1/devices/${DEVICES[0]}`)).body.twin.reported.state;
    assert.equal(device.update.code, 'ERR_UPDATE_PROBE_FAILED');
    assert.deepEqual(
      await firmware(),
      DEVICES.map(() => '1.1.0'),
    );
    const shown = await cli('rollout', 'status', 'pump-fw');
    assert.match(shown.stdout, /halted/);
  });
});
