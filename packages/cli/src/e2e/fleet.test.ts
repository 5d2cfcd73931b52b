// The foundation end to end: the real agent on simulated hardware against the real hub over
// real MQTT; readings survive a hub outage and an agent restart, stored exactly once.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { loadCredentials } from '@homeostat/agent';
import { MowerHardware, PumpHardware } from '@homeostat/sim';
import { startFaultyProxy, waitFor } from '@homeostat/testing';
import { agent, E2eHub, tempDir } from './harness.js';

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('agent and hub, end to end', () => {
  const hub = new E2eHub();
  after(() => hub.close());

  test('an agent connects, reports capabilities and status, sends telemetry and keeps its twin in sync', async () => {
    await hub.start();
    const token = await hub.createDevice('pump-e2e', { site: 'paris' });
    const a = agent({
      hubUrl: hub.started!.mqttUrl,
      id: 'pump-e2e',
      token,
      dataDir: tempDir('agent'),
      hardware: new PumpHardware(),
    });
    await a.start();
    try {
      await waitFor(() => a.connected, { message: 'connected' });
      const device = await waitFor(async () => {
        const d = (await hub.api('GET', '/api/v1/devices/pump-e2e')).body;
        return d.status.liveness.state === 'online' && d.status.agent ? d : null;
      });
      assert.equal(device.status.capabilities.kind, 'pump');
      assert.equal(device.status.liveness.evidence.kind, 'status-online');
      assert.equal(device.status.lifecycle, 'active');

      a.sampleNow();
      a.sampleNow();
      await waitFor(async () => (await hub.seqs('pump-e2e', 'vibration')).length === 2, { message: 'two readings' });

      const patched = await hub.api('PATCH', '/api/v1/devices/pump-e2e/twin/desired', {
        version: 0,
        state: { speed: 0.5 },
      });
      assert.equal(patched.status, 200);
      const synced = await waitFor(
        async () => {
          const d = (await hub.api('GET', '/api/v1/devices/pump-e2e')).body;
          return d.twin.reported.desiredVersion === 1 ? d : null;
        },
        { message: 'reported desiredVersion 1' },
      );
      assert.equal(synced.twin.reported.state.speed, 0.5);
    } finally {
      await a.stop();
    }
    const offline = await waitFor(async () => {
      const d = (await hub.api('GET', '/api/v1/devices/pump-e2e')).body;
      return d.status.liveness.state === 'offline' ? d : null;
    });
    assert.equal(offline.status.liveness.evidence.kind, 'status-offline');
  });

  test('a desired change made while the agent is stopped is applied when it comes back', async () => {
    const token = await hub.createDevice('mower-e2e');
    const dataDir = tempDir('agent');
    const options = { hubUrl: hub.started!.mqttUrl, id: 'mower-e2e', token, dataDir };
    const first = agent({ ...options, hardware: new MowerHardware() });
    await first.start();
    await waitFor(() => first.connected);
    await first.stop();
    await hub.api('PATCH', '/api/v1/devices/mower-e2e/twin/desired', { version: 0, state: { mode: 'dock' } });
    const second = agent({ ...options, hardware: new MowerHardware() });
    await second.start();
    try {
      const d = await waitFor(async () => {
        const dev = (await hub.api('GET', '/api/v1/devices/mower-e2e')).body;
        return dev.twin.reported.desiredVersion === 1 ? dev : null;
      });
      assert.equal(d.twin.reported.state.mode, 'dock');
    } finally {
      await second.stop();
    }
  });

  test('a device that lost its storage, after a hub restart, gets its desired state and re-syncs its twin', async () => {
    const token = await hub.createDevice('pump-amnesia');
    const options = { hubUrl: hub.started!.mqttUrl, id: 'pump-amnesia', token };
    const first = agent({ ...options, dataDir: tempDir('agent'), hardware: new PumpHardware() });
    await first.start();
    await waitFor(() => first.connected);
    await hub.api('PATCH', '/api/v1/devices/pump-amnesia/twin/desired', { version: 0, state: { speed: 0.3 } });
    await waitFor(
      async () => (await hub.api('GET', '/api/v1/devices/pump-amnesia')).body.twin.reported.desiredVersion === 1,
    );
    await first.stop();
    const before = (await hub.api('GET', '/api/v1/devices/pump-amnesia')).body.twin.reported.version as number;
    await hub.stop(); // the retained desired state goes with the broker
    await hub.start();
    const second = agent({ ...options, dataDir: tempDir('agent'), hardware: new PumpHardware() }); // a blank device
    await second.start();
    try {
      const d = await waitFor(
        async () => {
          const dev = (await hub.api('GET', '/api/v1/devices/pump-amnesia')).body;
          return dev.twin.reported.version > before && dev.twin.reported.desiredVersion === 1 ? dev : null;
        },
        { timeoutMs: 5000, message: 'twin re-synced' },
      );
      assert.equal(d.twin.reported.state.speed, 0.3);
    } finally {
      await second.stop();
    }
  });

  test('readings made during a hub outage and across an agent restart are stored once each, none lost', async () => {
    const token = await hub.createDevice('pump-outage');
    const dataDir = tempDir('agent');
    const options = { hubUrl: hub.started!.mqttUrl, id: 'pump-outage', token, dataDir };
    let a = agent({ ...options, hardware: new PumpHardware() });
    await a.start();
    await waitFor(() => a.connected);
    for (let i = 0; i < 5; i++) a.sampleNow();
    await waitFor(async () => (await hub.seqs('pump-outage', 'flow')).length === 5);

    await hub.stop(); // the hub goes away
    await waitFor(() => !a.connected, { message: 'agent noticed the outage' });
    for (let i = 0; i < 20; i++) a.sampleNow();
    assert.ok(a.outboxSize >= 20, `outbox holds the readings (${a.outboxSize})`);
    await a.stop(); // and the agent restarts while the hub is still down
    a = agent({ ...options, hardware: new PumpHardware() });
    await a.start();
    for (let i = 0; i < 5; i++) a.sampleNow();

    await hub.start(); // same data, same ports
    try {
      await waitFor(() => a.connected && a.outboxSize === 0, { timeoutMs: 10_000, message: 'outbox drained' });
      const seqs = await hub.seqs('pump-outage', 'flow');
      assert.equal(seqs.length, 30, 'every reading stored');
      assert.equal(new Set(seqs).size, 30, 'none twice');
      // seq is monotonic across the restart; a gap is allowed after an unclean stop, never a repeat.
      assert.deepEqual(
        seqs,
        [...seqs].sort((x, y) => x - y),
      );
    } finally {
      await a.stop();
    }
  });

  test('a network cut through a faulty proxy loses nothing and duplicates nothing', async () => {
    const token = await hub.createDevice('pump-cut');
    const proxy = await startFaultyProxy({ target: { host: '127.0.0.1', port: hub.started!.mqttPort } });
    const a = agent({
      hubUrl: proxy.url,
      id: 'pump-cut',
      token,
      dataDir: tempDir('agent'),
      hardware: new PumpHardware(),
    });
    await a.start();
    try {
      await waitFor(() => a.connected);
      for (let i = 0; i < 10; i++) a.sampleNow();
      proxy.cut();
      for (let i = 0; i < 10; i++) a.sampleNow();
      await new Promise((r) => setTimeout(r, 300));
      proxy.restore();
      for (let i = 0; i < 10; i++) a.sampleNow();
      await waitFor(() => a.connected && a.outboxSize === 0, { timeoutMs: 10_000, message: 'drained after the cut' });
      const seqs = await hub.seqs('pump-cut', 'flow');
      assert.deepEqual(seqs, range(seqs[0] ?? 0, (seqs[0] ?? 0) + 29));
    } finally {
      await a.stop();
      await proxy.close();
    }
  });

  test('zero-touch: an agent with a claim token provisions itself from the group template', async () => {
    const group = await hub.api('POST', '/api/v1/enrollment-groups', {
      name: 'pumps',
      template: { labels: { site: 'lyon', model: 'pm-400' }, desired: { speed: 0.7 } },
    });
    const dataDir = tempDir('agent');
    const a = agent({
      hubUrl: hub.started!.mqttUrl,
      claim: group.body.claimToken,
      name: 'pump-claimed',
      dataDir,
      hardware: new PumpHardware(),
    });
    await a.start();
    try {
      assert.equal(a.id, 'pump-claimed');
      assert.equal(loadCredentials(dataDir)?.deviceId, 'pump-claimed');
      const d = await waitFor(async () => {
        const dev = (await hub.api('GET', '/api/v1/devices/pump-claimed')).body;
        return dev.twin.reported.desiredVersion === 1 ? dev : null;
      });
      assert.deepEqual(d.metadata.labels, { site: 'lyon', model: 'pm-400' });
      assert.equal(d.twin.reported.state.speed, 0.7);
    } finally {
      await a.stop();
    }
  });
});
