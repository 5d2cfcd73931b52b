// The run commands as a user runs them: `homeostat hub`, `agent`, `sim` and `demo` as real child
// processes of the compiled CLI, on free ports, with a throwaway HOME and config file, stopped
// with SIGTERM like Ctrl-C. Everything is checked through what they print and the hub's HTTP API.

import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { planFleet } from '@homeostat/sim';
import { waitFor } from '@homeostat/testing';
import {
  api,
  type CliProcess,
  type Json,
  type RunningHub,
  removeTempDirs,
  runCliProcess,
  sleep,
  startCli,
  tempDir,
  waitForHubBanner,
} from './processes.js';

const ADMIN = 'run-e2e-admin-token-0123456789';
const POLL = { intervalMs: 100 } as const;

type Cleanup = Parameters<typeof startCli>[0];

// Runs after every suite's own hooks, so once every process has been stopped.
after(removeTempDirs);

/** `homeostat hub` on free ports with its own data directory, and HOMEOSTAT_ADMIN_TOKEN=ADMIN. */
async function startHub(cleanup: Cleanup): Promise<RunningHub> {
  const data = join(tempDir('hub'), 'hub');
  const proc = startCli(cleanup, ['hub', '--http-port', '0', '--mqtt-port', '0', '--data', data], {
    env: { HOMEOSTAT_ADMIN_TOKEN: ADMIN },
  });
  return waitForHubBanner(proc);
}

/** Stops with SIGTERM and asserts a clean end: no SIGKILL needed, exit 0 or the signal itself. */
async function stopCleanly(proc: CliProcess, withinMs = 5000): Promise<void> {
  const stopped = await proc.stop(withinMs);
  assert.equal(stopped.killed, false, `still running ${withinMs} ms after SIGTERM\n${proc.describe()}`);
  assert.ok(
    stopped.code === 0 || (stopped.code === null && stopped.signal === 'SIGTERM'),
    `unclean exit ${JSON.stringify(stopped)}\n${proc.describe()}`,
  );
}

async function device(hub: RunningHub, name: string): Promise<Json> {
  const r = await api(hub.httpUrl, ADMIN, 'GET', `/api/v1/devices/${name}`);
  return r.status === 200 ? r.body : null;
}

async function devices(httpUrl: string, token: string): Promise<Json[]> {
  const r = await api(httpUrl, token, 'GET', '/api/v1/devices');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.items;
}

/** Online, and its agent has announced itself (version and capabilities come with its status message). */
function isUp(d: Json): boolean {
  return d?.status.liveness.state === 'online' && d.status.agent !== null;
}

function waitOnline(hub: RunningHub, name: string, timeoutMs = 10_000): Promise<Json> {
  return waitFor(
    async () => {
      const d = await device(hub, name);
      return isUp(d) ? d : null;
    },
    { ...POLL, timeoutMs, message: `${name} online` },
  );
}

function waitOffline(hub: RunningHub, name: string, timeoutMs = 10_000): Promise<Json> {
  return waitFor(
    async () => {
      const d = await device(hub, name);
      return d?.status.liveness.state === 'offline' ? d : null;
    },
    { ...POLL, timeoutMs, message: `${name} offline` },
  );
}

describe('homeostat hub', () => {
  test('first start prints its addresses and a one-time admin token; a restart on the same data prints none and the token still works', async (t) => {
    const data = join(tempDir('hub'), 'hub');
    const args = ['hub', '--http-port', '0', '--mqtt-port', '0', '--data', data];
    const first = startCli(t, args, { env: { HOMEOSTAT_ADMIN_TOKEN: undefined } });
    const hub = await waitForHubBanner(first);
    assert.match(first.stdout, /^hub API {3}http:\/\/127\.0\.0\.1:\d+ /m);
    assert.match(first.stdout, /^hub MQTT {2}mqtt:\/\/127\.0\.0\.1:\d+$/m);
    const token = (await first.waitForOutput(/^admin token \(shown once, [^)]*\): (hsa_\S+)$/m))[1]!;

    const who = await api(hub.httpUrl, token, 'GET', '/api/v1/whoami');
    assert.equal(who.status, 200, JSON.stringify(who.body));
    assert.equal(who.body.role, 'admin');
    assert.equal((await api(hub.httpUrl, 'hsa_not-the-token', 'GET', '/api/v1/whoami')).status, 401);
    assert.equal((await api(hub.httpUrl, null, 'GET', '/healthz')).status, 200);
    const ready = await api(hub.httpUrl, null, 'GET', '/readyz');
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    // The hub process's own resources, beside the hub's metrics.
    const metrics = await (await fetch(`${hub.httpUrl}/metrics`)).text();
    for (const name of [
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_p99_seconds',
      'homeostat_mqtt_connections',
    ]) {
      assert.match(metrics, new RegExp(`^${name} `, 'm'));
    }

    await stopCleanly(first);
    assert.match(first.stdout, /^SIGTERM: stopping$/m);

    const second = startCli(t, args, { env: { HOMEOSTAT_ADMIN_TOKEN: undefined } });
    const again = await waitForHubBanner(second);
    await second.waitForOutput(/^data +\S+/m);
    const whoAgain = await api(again.httpUrl, token, 'GET', '/api/v1/whoami');
    assert.equal(whoAgain.status, 200, 'the first token survives the restart');
    assert.equal(whoAgain.body.role, 'admin');
    assert.doesNotMatch(second.stdout, /admin token/, 'no new admin token on a restart');
    assert.equal(`${second.stdout}${second.stderr}`.includes(token), false, 'the token is never printed again');
    await stopCleanly(second);
  });

  test('HOMEOSTAT_* variables configure it without flags; the given admin token is used and not printed', async (t) => {
    const data = join(tempDir('hub'), 'hub');
    const proc = startCli(t, ['hub'], {
      env: {
        HOMEOSTAT_HTTP_PORT: '0',
        HOMEOSTAT_MQTT_PORT: '0',
        HOMEOSTAT_DATA: data,
        HOMEOSTAT_ADMIN_TOKEN: ADMIN,
      },
    });
    const hub = await waitForHubBanner(proc);
    await proc.waitForOutput(/^admin token: the one given in HOMEOSTAT_ADMIN_TOKEN$/m);
    assert.match(proc.stdout, new RegExp(`^data +${data.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    const who = await api(hub.httpUrl, ADMIN, 'GET', '/api/v1/whoami');
    assert.equal(who.status, 200, JSON.stringify(who.body));
    assert.equal(who.body.role, 'admin');
    assert.ok(statSync(data).isDirectory(), 'HOMEOSTAT_DATA is where the hub keeps its data');
    assert.equal(`${proc.stdout}${proc.stderr}`.includes(ADMIN), false, 'the given token is not printed');
    await stopCleanly(proc);
  });

  test('invalid HOMEOSTAT_* values stop it before it starts, every variable named', async () => {
    const r = await runCliProcess(['hub', '--data', join(tempDir('hub'), 'hub')], {
      env: { HOMEOSTAT_HTTP_PORT: 'abc', HOMEOSTAT_MQTT_PORT: '0', HOMEOSTAT_ADMIN_TOKEN: 'short' },
    });
    assert.notEqual(r.exit.code, 0, `exit ${JSON.stringify(r.exit)}`);
    assert.equal(r.exit.signal, null);
    assert.match(r.stderr, /HOMEOSTAT_HTTP_PORT.*"abc"/);
    assert.match(r.stderr, /HOMEOSTAT_ADMIN_TOKEN/);
    assert.doesNotMatch(r.stdout, /hub API/);
  });
});

describe('homeostat agent against a hub process', () => {
  // One hub for the suite; it is stopped when the suite ends, whatever happened.
  const stops: (() => Promise<unknown>)[] = [];
  let hub: RunningHub;
  before(async () => {
    hub = await startHub({ after: (fn) => stops.push(fn) });
  });
  after(() => Promise.all(stops.map((stop) => stop())));

  test('with --id and HOMEOSTAT_DEVICE_TOKEN: online with its kind, sends telemetry, offline on SIGTERM', async (t) => {
    const created = await api(hub.httpUrl, ADMIN, 'POST', '/api/v1/devices', { name: 'pump-run', labels: {} });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const token = created.body.token as string;
    const agent = startCli(
      t,
      ['agent', '--hub', hub.mqttUrl, '--id', 'pump-run', '--kind', 'pump', '--data', tempDir('agent')],
      { env: { HOMEOSTAT_DEVICE_TOKEN: token } },
    );
    await agent.waitForOutput(new RegExp(`^connected to ${hub.mqttUrl} as pump-run$`, 'm'));
    const online = await waitOnline(hub, 'pump-run');
    assert.equal(online.status.capabilities.kind, 'pump');
    assert.equal(online.status.lifecycle, 'active');
    // The default sampling interval is 1000 ms.
    const series = await waitFor(
      async () => {
        const r = await api(hub.httpUrl, ADMIN, 'GET', '/api/v1/devices/pump-run/telemetry?metric=flow&from=0');
        return r.status === 200 && r.body.points.length > 0 ? r.body : null;
      },
      { ...POLL, timeoutMs: 5000, message: 'flow readings' },
    );
    assert.equal(typeof series.points[0].value, 'number');
    assert.equal(`${agent.stdout}${agent.stderr}`.includes(token), false, 'the device token is not printed');

    await stopCleanly(agent);
    assert.match(agent.stdout, /^SIGTERM: stopping$/m);
    const offline = await waitOffline(hub, 'pump-run', 5000);
    assert.equal(offline.status.liveness.evidence.kind, 'status-offline');
  });

  test('with --claim: enrolls from the group template, keeps credentials (0600) and reconnects with them alone', async (t) => {
    const group = await api(hub.httpUrl, ADMIN, 'POST', '/api/v1/enrollment-groups', {
      name: 'run-pumps',
      template: { labels: { site: 'lyon', model: 'pm-400' } },
    });
    assert.equal(group.status, 201, JSON.stringify(group.body));
    const claim = group.body.claimToken as string;
    const data = tempDir('agent');
    const first = startCli(t, [
      'agent',
      '--hub',
      hub.mqttUrl,
      '--claim',
      claim,
      '--name',
      'pump-claimed',
      '--kind',
      'pump',
      '--data',
      data,
    ]);
    await first.waitForOutput(/^connected to .* as pump-claimed$/m);
    const d = await waitOnline(hub, 'pump-claimed');
    assert.deepEqual(d.metadata.labels, { site: 'lyon', model: 'pm-400' });
    assert.equal(d.status.enrollmentGroup, 'run-pumps');
    const file = join(data, 'credentials.json');
    assert.equal(statSync(file).mode & 0o777, 0o600, 'credentials.json is readable by its owner only');
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).deviceId, 'pump-claimed');
    await stopCleanly(first);
    await waitOffline(hub, 'pump-claimed', 5000);

    const second = startCli(t, ['agent', '--hub', hub.mqttUrl, '--kind', 'pump', '--data', data]);
    await second.waitForOutput(/^connected to .* as pump-claimed$/m);
    const back = await waitOnline(hub, 'pump-claimed');
    assert.deepEqual(back.metadata.labels, { site: 'lyon', model: 'pm-400' });
    const g = await api(hub.httpUrl, ADMIN, 'GET', '/api/v1/enrollment-groups/run-pumps');
    assert.equal(g.body.status.enrolled, 1, 'the restart did not claim again');
    await stopCleanly(second);
  });

  test('with --id and --token on the command line (as `agent --help` offers) it connects too', async (t) => {
    const created = await api(hub.httpUrl, ADMIN, 'POST', '/api/v1/devices', { name: 'pump-flag' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const agent = startCli(t, [
      'agent',
      '--hub',
      hub.mqttUrl,
      '--id',
      'pump-flag',
      '--token',
      created.body.token,
      '--kind',
      'pump',
      '--data',
      tempDir('agent'),
    ]);
    await agent.waitForOutput(/^connected to .* as pump-flag$/m);
    await waitOnline(hub, 'pump-flag');
    await stopCleanly(agent);
  });

  test('without credentials, a claim or stored credentials it refuses to start', async () => {
    const r = await runCliProcess(['agent', '--hub', hub.mqttUrl, '--data', tempDir('agent')]);
    assert.notEqual(r.exit.code, 0);
    assert.match(r.stderr, /--claim/);
  });
});

/** A port of 127.0.0.1 held by a plain TCP server of the test, until `close`. */
function occupyPort(): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as { port: number }).port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      }),
    );
  });
}

describe('when the hub is not there', () => {
  test('a taken HTTP port: `homeostat hub` exits non-zero at once, naming the address', async (t) => {
    const taken = await occupyPort();
    t.after(() => taken.close());
    const r = await runCliProcess(
      ['hub', '--http-port', String(taken.port), '--mqtt-port', '0', '--data', join(tempDir('hub'), 'hub')],
      {},
      // "At once" means it does not wait for the port: generous for a loaded machine's start-up.
      20_000,
    );
    assert.notEqual(r.exit.code, 0, JSON.stringify(r.exit));
    assert.equal(r.exit.signal, null);
    assert.match(r.stderr, new RegExp(`EADDRINUSE.*127\\.0\\.0\\.1:${taken.port}`));
  });

  test('a taken MQTT port: `homeostat hub` exits non-zero at once, naming the address', async (t) => {
    const taken = await occupyPort();
    t.after(() => taken.close());
    const r = await runCliProcess(
      ['hub', '--http-port', '0', '--mqtt-port', String(taken.port), '--data', join(tempDir('hub'), 'hub')],
      {},
      // "At once" means it does not wait for the port: generous for a loaded machine's start-up.
      20_000,
    );
    assert.notEqual(r.exit.code, 0, JSON.stringify(r.exit));
    assert.equal(r.exit.signal, null);
    assert.match(r.stderr, new RegExp(`EADDRINUSE.*127\\.0\\.0\\.1:${taken.port}`));
  });

  test('agents and a sim ride out a hub restart, or start before it, and keep the readings of the outage', async (t) => {
    const data = join(tempDir('hub'), 'hub');
    const env = { HOMEOSTAT_ADMIN_TOKEN: ADMIN };
    const first = startCli(t, ['hub', '--http-port', '0', '--mqtt-port', '0', '--data', data], { env });
    const hub = await waitForHubBanner(first);
    const tokens: Record<string, string> = {};
    for (const name of ['pump-outage', 'pump-late']) {
      const created = await api(hub.httpUrl, ADMIN, 'POST', '/api/v1/devices', { name });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      tokens[name] = created.body.token;
    }
    const agentArgs = (name: string) => {
      const data = tempDir('agent');
      return ['agent', '--hub', hub.mqttUrl, '--id', name, '--kind', 'pump', '--data', data, '--sample-ms', '200'];
    };
    const agent = startCli(t, agentArgs('pump-outage'), { env: { HOMEOSTAT_DEVICE_TOKEN: tokens['pump-outage'] } });
    const sim = startCli(t, ['sim', '--hub', hub.mqttUrl, '--devices', '2', '--kinds', 'mower', '--api', '--memory'], {
      env: { HOMEOSTAT_SERVER: hub.httpUrl, HOMEOSTAT_TOKEN: ADMIN },
    });
    await agent.waitForOutput(/^connected to /m);
    await sim.waitForOutput(/^2 simulated devices started/m);
    await waitOnline(hub, 'pump-outage');

    await stopCleanly(first);
    const down = Date.now();
    await agent.waitForOutput(/^disconnected: /m);
    // Started while its hub is down.
    const late = startCli(t, agentArgs('pump-late'), { env: { HOMEOSTAT_DEVICE_TOKEN: tokens['pump-late'] } });
    await sleep(2500);
    for (const [name, proc] of Object.entries({ agent, sim, late })) {
      assert.equal(proc.exit, null, `${name} ended while the hub was down\n${proc.describe()}`);
    }

    const up = Date.now();
    const { port: httpPort } = new URL(hub.httpUrl);
    const { port: mqttPort } = new URL(hub.mqttUrl);
    const second = startCli(t, ['hub', '--http-port', httpPort, '--mqtt-port', mqttPort, '--data', data], { env });
    const again = await waitForHubBanner(second);
    await waitFor(() => (agent.stdout.match(/^connected to /gm) ?? []).length >= 2, {
      ...POLL,
      timeoutMs: 15_000,
      message: 'the agent reconnected',
    });
    await late.waitForOutput(/^connected to .* as pump-late$/m, 15_000);
    await waitOnline(again, 'pump-outage', 15_000);
    await waitOnline(again, 'pump-late', 15_000);
    await waitFor(
      async () => {
        const all = await devices(again.httpUrl, ADMIN);
        return all.filter((d) => d.metadata.name.startsWith('mower-') && isUp(d)).length === 2;
      },
      { ...POLL, timeoutMs: 15_000, message: 'the sim devices back online' },
    );
    const during = await waitFor(
      async () => {
        const r = await api(again.httpUrl, ADMIN, 'GET', '/api/v1/devices/pump-outage/telemetry?metric=flow&from=0');
        const points = (r.body?.points ?? []) as { ts: number }[];
        return points.filter((p) => p.ts > down && p.ts < up).length;
      },
      { ...POLL, timeoutMs: 10_000, message: 'readings taken during the outage delivered' },
    );
    assert.ok(during > 0);
    await stopCleanly(agent);
    await stopCleanly(late);
    await stopCleanly(sim);
    await stopCleanly(second);
  });
});

describe('homeostat sim against a hub process', () => {
  test('--claim --memory: six pumps and mowers enroll themselves and come online', async (t) => {
    const hub = await startHub(t);
    const group = await api(hub.httpUrl, ADMIN, 'POST', '/api/v1/enrollment-groups', {
      name: 'sim',
      template: { labels: { fleet: 'sim' } },
    });
    assert.equal(group.status, 201, JSON.stringify(group.body));
    const sim = startCli(t, [
      'sim',
      '--hub',
      hub.mqttUrl,
      '--devices',
      '6',
      '--kinds',
      'pump,mower',
      '--claim',
      group.body.claimToken,
      '--memory',
    ]);
    await sim.waitForOutput(/^6 simulated devices started against /m, 20_000);
    const expected = planFleet({ devices: 6, kinds: ['pump', 'mower'], clockNow: Date.now }).map((p) => p.name);
    const items = await waitFor(
      async () => {
        const all = await devices(hub.httpUrl, ADMIN);
        return all.length === 6 && all.every(isUp) ? all : null;
      },
      { ...POLL, timeoutMs: 20_000, message: 'six devices online' },
    );
    assert.deepEqual(items.map((d) => d.metadata.name).sort(), [...expected].sort());
    for (const d of items) {
      assert.equal(d.status.enrollmentGroup, 'sim');
      assert.deepEqual(d.metadata.labels, { fleet: 'sim' });
    }
    await stopCleanly(sim);
  });

  test('--api with HOMEOSTAT_SERVER and HOMEOSTAT_TOKEN: devices created through the API with the plan labels', async (t) => {
    const hub = await startHub(t);
    assert.deepEqual(await devices(hub.httpUrl, ADMIN), []);
    const sim = startCli(t, ['sim', '--hub', hub.mqttUrl, '--devices', '4', '--api', '--data', tempDir('sim')], {
      env: { HOMEOSTAT_SERVER: hub.httpUrl, HOMEOSTAT_TOKEN: ADMIN },
    });
    await sim.waitForOutput(/^4 simulated devices started against /m, 20_000);
    const plan = planFleet({ devices: 4, clockNow: Date.now });
    const items = await waitFor(
      async () => {
        const all = await devices(hub.httpUrl, ADMIN);
        return all.length === plan.length && all.every(isUp) ? all : null;
      },
      { ...POLL, timeoutMs: 20_000, message: `${plan.length} devices online` },
    );
    const byName = new Map(items.map((d) => [d.metadata.name as string, d]));
    for (const p of plan) {
      const d = byName.get(p.name);
      assert.ok(d, `${p.name} created`);
      assert.deepEqual(d.metadata.labels, p.labels, `${p.name} has the plan's labels`);
      assert.match(d.metadata.labels.site, /^(paris|lyon)$/);
      assert.equal(d.status.enrollmentGroup, null, 'created through the API, not claimed');
      assert.equal(d.status.capabilities.kind, p.kind);
    }
    await stopCleanly(sim);
  });
});

/**
 * Makes sure 127.0.0.1:1883 is taken for the demo: by whoever has it (a system Mosquitto), or by a
 * server of this test. Null when it can be neither.
 */
async function hold1883(): Promise<{ server: Server | null } | null> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'EADDRINUSE' ? { server: null } : null));
    server.listen(1883, '127.0.0.1', () => resolve({ server }));
  });
}

describe('homeostat demo', () => {
  test('with 1883 taken: picks free ports, says so, logs the CLI in and runs a fleet that comes online in sync', async (t) => {
    const held = await hold1883();
    if (held === null) {
      t.skip('127.0.0.1:1883 can neither be bound nor is it in use');
      return;
    }
    t.after(() => new Promise<void>((resolve) => (held.server ? held.server.close(() => resolve()) : resolve())));
    const started = Date.now();
    const home = tempDir('demo');
    const demo = startCli(t, ['demo', '--data', join(home, 'demo'), '--devices', '6', '--time-scale', '60'], {
      home,
    });
    await demo.waitForOutput(/^Ctrl-C stops the demo\.$/m, 30_000);
    const out = demo.stdout;
    const httpUrl = out.match(/^ {2}hub API +(http:\/\/127\.0\.0\.1:\d+)/m)?.[1];
    const mqttUrl = out.match(/^ {2}hub MQTT +(mqtt:\/\/127\.0\.0\.1:\d+)$/m)?.[1];
    const token = out.match(/^ {2}admin token (hsa_\S+)$/m)?.[1];
    const count = Number(out.match(/^ {2}fleet +(\d+) simulated devices/m)?.[1]);
    assert.ok(httpUrl && mqttUrl && token && count > 0, `banner incomplete\n${demo.describe()}`);
    assert.notEqual(new URL(mqttUrl).port, '1883');
    assert.match(out, /^ {2}\(port (8080 and )?1883 taken on this machine: free ports were picked instead\)$/m);
    assert.ok(out.includes(`The CLI is logged in to this hub (${demo.configFile})`), demo.describe());
    // The demo's default kinds: with 6, two rooms (a thermostat and a heater each), a mower and a pump.
    const plan = planFleet({ devices: 6, clockNow: Date.now });
    assert.equal(count, plan.length, 'the banner counts the planned devices');

    assert.equal(statSync(demo.configFile).mode & 0o777, 0o600, 'the CLI config is readable by its owner only');
    assert.deepEqual(JSON.parse(readFileSync(demo.configFile, 'utf8')), { server: httpUrl, token });

    const left = Math.max(5000, 30_000 - (Date.now() - started));
    const items = await waitFor(
      async () => {
        const all = await devices(httpUrl, token);
        return all.length === count && all.every(isUp) ? all : null;
      },
      { ...POLL, timeoutMs: left, message: `${count} devices online` },
    );
    assert.deepEqual(items.map((d) => d.metadata.name).sort(), plan.map((p) => p.name).sort());
    const heaters = plan.filter((p) => p.kind === 'heater').map((p) => p.name);
    assert.ok(heaters.length > 0, 'the fleet has heaters');
    for (const name of heaters) {
      const synced = await waitFor(
        async () => {
          const r = await api(httpUrl, token, 'GET', `/api/v1/devices/${name}`);
          const twin = r.body?.twin;
          return twin && twin.reported.desiredVersion === twin.desired.version ? r.body : null;
        },
        { ...POLL, timeoutMs: 10_000, message: `${name} in sync` },
      );
      const { telemetry, mode, setpoint, safeMode } = synced.twin.desired.state;
      assert.deepEqual({ mode, setpoint }, { mode: 'remote', setpoint: 21 }, 'heaters follow their thermostat');
      assert.deepEqual(
        safeMode.desired,
        { mode: 'auto', setpoint: 20 },
        'and fall back on their own firmware off the hub',
      );
      assert.equal(telemetry.mode, 'aggregate', 'the demo fleet aggregates at the edge');
      assert.deepEqual(synced.twin.reported.state.telemetry, telemetry, 'and the heater runs those settings');
      assert.ok(synced.twin.desired.version >= 1, 'the demo set a desired state');
    }

    // Update trust: the devices were provisioned with the demo's root key and accept the signed
    // list of signing keys it put in their desired state; the banner names the key to sign with.
    const signingKey = out.match(/^ {2}update keys \S+ \(sign a release with --key (\S+)\)$/m)?.[1];
    assert.ok(signingKey !== undefined, demo.describe());
    assert.equal(statSync(signingKey).mode & 0o077, 0, 'the signing key is readable by its owner only');
    for (const name of plan.map((p) => p.name)) {
      await waitFor(
        async () => {
          const r = await api(httpUrl, token, 'GET', `/api/v1/devices/${name}`);
          return r.body?.twin?.reported.state.trust?.version === 1 ? true : null;
        },
        { ...POLL, timeoutMs: 10_000, message: `${name} trusts the demo's signing key` },
      );
    }
    assert.doesNotMatch(demo.stderr, /no root key provisioned/);

    // The workloads: every deployment applied on every device it targets (rules and the pump
    // model running, as the devices report them).
    const applied = await waitFor(
      async () => {
        const r = await api(httpUrl, token, 'GET', '/api/v1/deployments');
        const list = (r.body?.items ?? []) as Json[];
        return list.length === 3 && list.every((d) => d.status.targeted > 0 && d.status.applied === d.status.targeted)
          ? list
          : null;
      },
      { ...POLL, timeoutMs: 30_000, message: 'the demo deployments applied' },
    );
    assert.deepEqual(applied.map((d) => d.metadata.name).sort(), ['mower-autonomy', 'pump-condition', 'room-heating']);

    await stopCleanly(demo, 10_000);
    assert.match(demo.stdout, /^SIGTERM: stopping the fleet and the hub$/m);
  });
});
