// The behaviour gate between waves, end to end over real agents: a signed release that installs
// and passes its probe, but makes a telemetry metric worse on the devices that run it. The
// hardware of these pumps reports a vibration that depends on the version in the active boot slot
// (2 mm/s, or 6 mm/s on a regressing version), so the updated devices behave differently from the
// ones not yet updated exactly as far as the release decides; so does its flow (20 m³/h, or 10 on a
// version that starves it), where the fall is the regression. A release that changes nothing
// passes every gate; a regressing one is halted after the canary, with the figures of both cohorts
// as the evidence, and the canary goes back to the version it ran before.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MemoryBootSlots } from '@homeostat/agent';
import { PumpHardware } from '@homeostat/sim';
import { waitFor } from '@homeostat/testing';
import { FirmwareFleet } from './harness.js';

const DEVICES = ['pump-g1', 'pump-g2', 'pump-g3', 'pump-g4', 'pump-g5', 'pump-g6'];
/** Versions whose pumps vibrate three times as much. */
const REGRESSING = new Set(['1.2.0']);
/** Versions whose pumps deliver half the flow. */
const STARVING = new Set(['1.3.0']);
const GATES = [
  '{signal: metric, metric: vibration, maxRatio: 1.5, slack: 0.1}',
  '{signal: metric, metric: flow, minRatio: 0.8, slack: 0}',
];

/** A pump whose vibration is set by the firmware its active slot holds. */
class FirmwarePump extends PumpHardware {
  constructor(readonly slots: MemoryBootSlots) {
    super();
  }

  override sample(now: number) {
    const state = this.slots.read();
    const version = state.slots[state.active]?.version ?? '1.0.0';
    return { ...super.sample(now), vibration: REGRESSING.has(version) ? 6 : 2, flow: STARVING.has(version) ? 10 : 20 };
  }
}

describe('behaviour gates between waves over real agents', () => {
  const fleet = new FirmwareFleet('rollout-gates', DEVICES);
  const { hub, keys } = fleet;

  before(() =>
    fleet.start(() => {
      const slots = new MemoryBootSlots();
      return {
        hardware: new FirmwarePump(slots),
        slots,
        sampleMs: 100,
        updateProbe: { windowMs: 3000, everyMs: 100, minUpMs: 200 },
      };
    }),
  );
  after(() => fleet.stop());

  const release = (version: string) => keys.release('pump-fw', version, 'pump');
  const apply = (version: string) =>
    fleet.applyRollout(version, [
      // The soak leaves time for the updated devices to show how they behave.
      'strategy: {canary: 1, waves: [0.5, 1], maxUnavailable: 3, soakMs: 1500, deviceTimeoutMs: 30000}',
      'gates:',
      '  minSuccessRate: 0.9',
      `  behaviour: [${GATES.join(', ')}]`,
    ]);
  const finished = (revision: number) =>
    waitFor(
      async () => {
        const { status } = (await hub.api('GET', '/api/v1/rollouts/pump-fw')).body;
        return status.revision === revision && (status.phase === 'complete' || status.phase === 'halted')
          ? status
          : null;
      },
      { message: 'the rollout finished', timeoutMs: 90_000, intervalMs: 200 },
    );
  const everyDeviceOn = (version: string) =>
    waitFor(
      async () => {
        const versions = await firmware();
        return versions.every((v) => v === version) ? versions : null;
      },
      { message: `every device on ${version} again`, timeoutMs: 30_000, intervalMs: 200 },
    );
  const firmware = () => fleet.firmware();

  test('a release that behaves as the old one passes the behaviour gate wave after wave', async () => {
    await release('1.1.0');
    await apply('1.1.0');
    const status = await finished(1);
    assert.equal(status.phase, 'complete', JSON.stringify(status.halt));
    assert.equal(status.counts.succeeded, DEVICES.length);
    assert.deepEqual(
      status.waves.map((w: { succeeded: number }) => w.succeeded),
      [1, 2, 3],
    );
    assert.deepEqual(
      await firmware(),
      DEVICES.map(() => '1.1.0'),
    );
  });

  test('a release that makes vibration worse halts at the gate after the canary, with both cohorts as evidence', async () => {
    await release('1.2.0');
    await apply('1.2.0');
    const status = await finished(2);
    assert.equal(status.phase, 'halted');
    assert.equal(status.waves[0].started, 1, 'the canary took it');
    assert.equal(status.waves[1].started, 0, 'no device after the canary took it');
    const { halt } = status;
    assert.match(halt.reason, /^metric:vibration: 6 on updated devices against 2 on the others/);
    assert.deepEqual(halt.evidence, {
      signal: 'metric:vibration',
      updated: 6,
      notUpdated: 2,
      allowed: 3.1,
      updatedDevices: 1,
      notUpdatedDevices: 5,
    });
    // The decision is in the event log with the same evidence.
    const events = (await hub.api('GET', '/api/v1/events?type=rollout&limit=100')).body.items;
    const recorded = events.find((e: { message: string }) => /revision 2 \(1\.2\.0\) halted/.test(e.message));
    assert.ok(recorded, 'the halt is recorded');
    assert.deepEqual(recorded.data.evidence, halt.evidence);
    // The canary goes back to the version it ran before; the others never left it.
    const back = await everyDeviceOn('1.1.0');
    assert.equal(back.length, DEVICES.length);
    const after = await waitFor(
      async () => {
        const s = (await hub.api('GET', '/api/v1/rollouts/pump-fw')).body.status;
        return s.counts.rolledBack === 1 ? s : null;
      },
      { message: 'the canary counted as rolled back', timeoutMs: 30_000, intervalMs: 200 },
    );
    assert.equal(after.counts.stranded, 0);
  });

  test('a release that starves the flow halts at the floor of its gate after the canary', async () => {
    await release('1.3.0');
    await apply('1.3.0');
    const status = await finished(3);
    assert.equal(status.phase, 'halted');
    assert.equal(status.waves[1].started, 0, 'no device after the canary took it');
    assert.match(status.halt.reason, /^metric:flow: 10 on updated devices against 20 on the others \(at least 16\)/);
    assert.deepEqual(status.halt.evidence, {
      signal: 'metric:flow',
      updated: 10,
      notUpdated: 20,
      required: 16,
      updatedDevices: 1,
      notUpdatedDevices: 5,
    });
    await everyDeviceOn('1.1.0');
  });
});
