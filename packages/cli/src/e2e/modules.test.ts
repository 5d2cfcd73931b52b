// Modules end to end: desired `modules` written through the hub's API (as the deployment
// controller will write them) start modules on a real agent on simulated hardware; the hub's twin
// shows them running, a module that crashes is restarted and reported with its restart count,
// derived metrics are stored like readings; and `homeostat agent --allow-command` lets a process
// module run where, without it, the module is refused.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { PumpHardware } from '@homeostat/sim';
import { waitFor } from '@homeostat/testing';
import { agent, E2eHub, tempDir } from './harness.js';
import { tempDir as processTempDir, removeTempDirs, startCli } from './processes.js';

const NODE = process.execPath;
/** A process that exits with 3 on its first run (a marker file in its working directory tells). */
const CRASH_ONCE = `
  const fs = require('node:fs');
  if (!fs.existsSync('ran')) { fs.writeFileSync('ran', '1'); setTimeout(() => process.exit(3), 100); }
  else setInterval(() => {}, 1000);`;

const module = (name: string, rev: string, spec: object) => ({
  [name]: { rev, deployment: 'pumps', spec: { name, ...spec } },
});

describe('modules on an agent, through the hub', () => {
  const hub = new E2eHub();
  after(async () => {
    await hub.close();
    removeTempDirs();
  });

  const reportedModules = async (device: string) =>
    (await hub.api('GET', `/api/v1/devices/${device}`)).body.twin.reported.state.modules ?? {};

  test('desired modules run, a crash is restarted and reported with its restart count', async () => {
    await hub.start();
    const token = await hub.createDevice('pump-mods');
    const a = agent({
      hubUrl: hub.started!.mqttUrl,
      id: 'pump-mods',
      token,
      dataDir: tempDir('agent'),
      hardware: new PumpHardware(),
      allowCommands: [NODE],
    });
    await a.start();
    try {
      await waitFor(() => a.connected, { message: 'connected' });
      const modules = {
        ...module('flow-lpm', '0123abcd', {
          kind: 'function',
          config: { source: 'function handle(s) { return { metrics: { flowLpm: s.metrics.flow * 60 } }; }' },
          permissions: { metrics: ['flow'] },
        }),
        ...module('sidecar', '4567abcd', {
          kind: 'process',
          config: { command: NODE, args: ['-e', CRASH_ONCE], stopTimeoutMs: 1000 },
          restart: { initialBackoffMs: 50 },
        }),
      };
      const patched = await hub.api('PATCH', '/api/v1/devices/pump-mods/twin/desired', {
        version: 0,
        state: { modules },
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));

      const reported = await waitFor(
        async () => {
          const m = await reportedModules('pump-mods');
          return m['flow-lpm']?.state === 'running' && m.sidecar?.state === 'running' && m.sidecar.restarts === 1
            ? m
            : null;
        },
        { message: 'both running, the sidecar restarted once', timeoutMs: 15_000, intervalMs: 50 },
      );
      assert.equal(reported['flow-lpm'].kind, 'function');
      assert.equal(reported['flow-lpm'].rev, '0123abcd');
      assert.equal(reported.sidecar.lastError.message, 'the process exited with code 3');

      a.sampleNow();
      const derived = await waitFor(
        async () => {
          const r = await hub.api('GET', '/api/v1/devices/pump-mods/telemetry?metric=flowLpm&from=0');
          return r.status === 200 && r.body.points.length > 0 ? r.body.points : null;
        },
        { message: 'the derived metric is stored', timeoutMs: 30_000, intervalMs: 50 },
      );
      assert.equal(typeof derived[0].value, 'number');

      const crash = await waitFor(async () => {
        const r = await hub.api('GET', '/api/v1/events?device=pump-mods');
        return (r.body.items as { code?: string }[]).find((e) => e.code === 'MODULE_CRASHED');
      });
      assert.ok(crash, 'a MODULE_CRASHED alarm in the event log');

      // Removed from the desired state: stopped, and gone from the reported twin.
      const current = (await hub.api('GET', '/api/v1/devices/pump-mods')).body.twin.desired.version;
      await hub.api('PATCH', '/api/v1/devices/pump-mods/twin/desired', { version: current, state: { modules: null } });
      await waitFor(async () => Object.keys(await reportedModules('pump-mods')).length === 0, {
        message: 'modules removed from the reported twin',
        intervalMs: 50,
      });
    } finally {
      await a.stop();
    }
  });

  test('homeostat agent --allow-command lets a process module run; without it the module is refused', async (t) => {
    const runs: [string, string[]][] = [
      ['pump-allowed', ['--allow-command', NODE]],
      ['pump-denied', []],
    ];
    for (const [name, flags] of runs) {
      const token = await hub.createDevice(name);
      await hub.api('PATCH', `/api/v1/devices/${name}/twin/desired`, {
        version: 0,
        state: {
          modules: module('sleeper', '89abcdef', {
            kind: 'process',
            config: { command: NODE, args: ['-e', 'setInterval(() => {}, 1000)'] },
          }),
        },
      });
      const args = [
        'agent',
        '--hub',
        hub.started!.mqttUrl,
        '--id',
        name,
        '--kind',
        'pump',
        '--data',
        processTempDir('agent'),
        ...flags,
      ];
      startCli(t, args, { env: { HOMEOSTAT_DEVICE_TOKEN: token } });
    }
    const states = await waitFor(
      async () => {
        const allowed = (await reportedModules('pump-allowed')).sleeper;
        const denied = (await reportedModules('pump-denied')).sleeper;
        return allowed?.state === 'running' && denied?.state === 'refused' ? { allowed, denied } : null;
      },
      { message: 'running where allowed, refused elsewhere', timeoutMs: 20_000, intervalMs: 100 },
    );
    assert.match(states.denied.lastError.message, /--allow-command/);
  });
});
