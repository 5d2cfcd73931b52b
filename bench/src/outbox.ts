// `outbox`: how fast agents empty their outboxes into the hub after an outage (issue 3: "drain
// rate after a simulated 1-hour outage at 1 reading/s per device for 100 devices; target 5,000
// readings/s or more, zero loss, zero duplicates"). docs/benchmarks.md explains the figures.
//
// The hub runs in its own process on two fixed free ports of 127.0.0.1 and a data directory of
// the run. It is started once to create the devices through the HTTP API, then stopped: that is
// the outage. The agents (the real `Agent`, each with its durable SQLite outbox in its own data
// directory, or an in-memory one with --memory) start against the closed MQTT port and retry; the
// backlog is made by calling `sampleNow()` (the sampler's own code path) once per second of the
// outage for each agent. Then the hub is started again on the same ports and data, and the
// benchmark times the reconnection and the drain until every outbox is empty, and reads every
// reading back through GET /api/v1/devices/{name}/telemetry to count what was lost or duplicated.

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Agent, type DeviceHardware } from '@homeostat/agent';
import {
  BenchFailure,
  type Benchmark,
  type Cleanups,
  type Figures,
  forEachLimited,
  intFlag,
  MiB,
  parseFlagValues,
  progress,
  round,
  sleep,
  UsageError,
  withDeadline,
} from './harness.js';
import { provisionDevices, sample, scrapeMetrics } from './hub-api.js';
import { type HubProcess, PROFILED_STOP_GRACE_MS, startHubProcess } from './hub-process.js';
import { CpuMeter, rssBytes } from './proc.js';

/** The metrics of every reading (as in `ingest`). */
const METRICS = ['temperature', 'humidity'] as const;
/** Reconnect backoff of the agents: short, so the wait for a retry does not dominate. */
const BACKOFF = { initialMs: 50, maxMs: 500 };
/** The sampling timer of the agents must not add readings: once a day. */
const SAMPLE_MS = 86_400_000;
const HEARTBEAT_MS = 1000;
/** How often the outboxes are looked at while draining, in ms. */
const POLL_MS = 20;
const QUERY_LIMIT = 10_000;
const QUERY_CONCURRENCY = 8;
const AGENT_START_CONCURRENCY = 16;
const AGENTS_STOP_MS = 60_000;

const USAGE =
  '--devices N (default 100) --outage-s S (readings per device, one per second, default 3600) ' +
  '--memory (in-memory outboxes instead of SQLite) --window N (agent outboxWindow, default the agent default, 100) ' +
  '--drain-timeout-s S (default 600) --hub-cpu-prof DIR';

interface OutboxFlags {
  devices: number;
  outageS: number;
  memory: boolean;
  window: number | undefined;
  drainTimeoutS: number;
  hubCpuProf: string | undefined;
}

function parseFlags(argv: readonly string[]): OutboxFlags {
  const values = parseFlagValues(
    argv,
    ['devices', 'outage-s', 'window', 'drain-timeout-s', 'hub-cpu-prof'],
    ['memory'],
  );
  const str = (k: string) => values[k];
  return {
    devices: intFlag('devices', str('devices'), 100, 1, 10_000),
    // 3,600 readings fit one telemetry query page (10,000), which the check below relies on.
    outageS: intFlag('outage-s', str('outage-s'), 3600, 1, QUERY_LIMIT),
    memory: values.switches.has('memory'),
    window: str('window') === undefined ? undefined : intFlag('window', str('window'), 100, 1, 10_000),
    drainTimeoutS: intFlag('drain-timeout-s', str('drain-timeout-s'), 600, 1, 3600),
    hubCpuProf: str('hub-cpu-prof'),
  };
}

export const outboxBenchmark: Benchmark = {
  summary: 'agents drain a backlog of readings made during a hub outage: readings/s, loss and duplicates',
  usage: USAGE,
  run: (argv, cleanups) => runOutbox(parseFlags(argv), cleanups),
};

/** Two metrics per reading, cheap and deterministic: the benchmark measures the outbox, not physics. */
class BenchHardware implements DeviceHardware {
  readonly kind = 'sensor';
  #n = 0;

  capabilities() {
    return { sensors: [...METRICS] };
  }

  sample(): Record<string, number> {
    const n = this.#n++;
    return { temperature: 20 + (n % 100) / 10, humidity: 40 + (n % 50) / 5 };
  }

  applyDesired(): Record<string, unknown> {
    return {};
  }
}

interface Device {
  name: string;
  agent: Agent;
  /** Readings queued while the hub was down (seqs 1..made, a fresh outbox starts at 1). */
  made: number;
  connectedAt: number | undefined;
  disconnects: number;
}

async function runOutbox(flags: OutboxFlags, cleanups: Cleanups): Promise<Figures> {
  const figures: Figures = {
    devices: flags.devices,
    readingsPerDevice: flags.outageS,
    totalReadings: flags.devices * flags.outageS,
    metricsPerReading: METRICS.length,
    outbox: flags.memory ? 'memory' : 'sqlite',
    outboxWindow: flags.window ?? 100,
    node: process.version,
    cpus: availableParallelism(),
  };
  try {
    await measureOutbox(flags, cleanups, figures);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new BenchFailure((err as Error).message, figures);
  }
  const bad = (figures.lost as number) + (figures.duplicates as number) + (figures.unexpected as number);
  if (bad > 0) {
    throw new BenchFailure(
      `${figures.lost} readings lost, ${figures.duplicates} duplicated, ${figures.unexpected} unexpected`,
      figures,
    );
  }
  return figures;
}

async function measureOutbox(flags: OutboxFlags, cleanups: Cleanups, figures: Figures): Promise<void> {
  const n = flags.devices;
  const perDevice = flags.outageS;
  progress(
    `outbox: ${n} devices, ${perDevice} readings each (${METRICS.length} metrics), ${flags.memory ? 'memory' : 'SQLite'} outboxes`,
  );
  const root = mkdtempSync(join(tmpdir(), 'homeostat-bench-outbox-'));
  const removeRoot = () => rmSync(root, { recursive: true, force: true });
  cleanups.add('remove the data directories', async () => removeRoot(), removeRoot);
  const hubData = join(root, 'hub');
  mkdirSync(hubData);
  const adminToken = `bench-${randomBytes(24).toString('hex')}`;
  const [httpPort, mqttPort] = await freePorts(2);
  const hubOptions = { dataDir: hubData, adminToken, httpPort, mqttPort };

  // 1. The hub, once, to create the devices; then it stops: the outage begins.
  const names = Array.from({ length: n }, (_, i) => `outbox-${String(i + 1).padStart(String(n).length, '0')}`);
  let tokens: Map<string, string>;
  {
    const hub = await startHubProcess(hubOptions);
    cleanups.add('stop the provisioning hub', () => hub.stop(), hub.kill);
    progress(`hub (provisioning): pid ${hub.pid}, ${hub.httpUrl}, ${hub.mqttUrl}`);
    tokens = await provisionDevices(
      hub.httpUrl,
      adminToken,
      names.map((name) => ({ name, labels: { bench: 'outbox' } })),
      16,
    );
    await hub.stop();
    progress(`provisioned ${n} devices; hub stopped: the outage begins`);
  }

  // 2. The agents, started against the closed port: they retry every 50 to 500 ms.
  const hubUrl = `mqtt://127.0.0.1:${mqttPort}`;
  const devices: Device[] = [];
  const stopAgents = () =>
    withDeadline(
      Promise.all(devices.map((d) => d.agent.stop())).then(() => undefined),
      AGENTS_STOP_MS,
      'stopping the agents',
    );
  cleanups.add('stop the agents', stopAgents);
  await forEachLimited(names, AGENT_START_CONCURRENCY, async (name) => {
    const dataDir = flags.memory ? null : join(root, 'agents', name);
    const agent = new Agent({
      hubUrl,
      id: name,
      token: tokens.get(name)!,
      dataDir,
      hardware: new BenchHardware(),
      sampleMs: SAMPLE_MS,
      heartbeatMs: HEARTBEAT_MS,
      backoff: BACKOFF,
      ...(flags.window !== undefined ? { outboxWindow: flags.window } : {}),
    });
    const device: Device = { name, agent, made: 0, connectedAt: undefined, disconnects: 0 };
    agent.events.on('connected', () => {
      device.connectedAt ??= performance.now();
    });
    agent.events.on('disconnected', () => {
      if (device.connectedAt !== undefined) device.disconnects++;
    });
    agent.events.on('error-notice', (notice) => {
      refusals.count++;
      refusals.first ??= `${name}: ${notice.code} ${notice.message}`;
    });
    devices.push(device);
    await agent.start();
  });

  // 3. The backlog: one sample per second of the outage, through sampleNow().
  const buildStarted = performance.now();
  for (const [i, d] of devices.entries()) {
    for (let k = 0; k < perDevice; k++) d.agent.sampleNow();
    d.made = perDevice;
    if (d.agent.outboxSize !== perDevice) {
      throw new Error(`${d.name}: ${d.agent.outboxSize} entries in the outbox after ${perDevice} samples`);
    }
    if ((i + 1) % Math.max(1, Math.floor(n / 10)) === 0) progress(`backlog: ${i + 1}/${n} devices`);
    // Let the agents' reconnect timers run (they find the port closed).
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const buildSeconds = (performance.now() - buildStarted) / 1000;
  figures.backlogBuildSeconds = round(buildSeconds, 2);
  figures.backlogBuildPerSec = round((n * perDevice) / buildSeconds, 0);
  const early = devices.filter((d) => d.connectedAt !== undefined).length;
  if (early > 0) throw new Error(`${early} agents connected during the outage: the hub port was not closed`);
  progress(`backlog: ${n * perDevice} readings in ${buildSeconds.toFixed(1)} s; starting the hub again`);

  // 4. The hub again, same data and ports; time the reconnection and the drain.
  const hubSpawned = performance.now();
  const hub: HubProcess = await startHubProcess(
    flags.hubCpuProf
      ? {
          ...hubOptions,
          nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${flags.hubCpuProf}`],
          stopGraceMs: PROFILED_STOP_GRACE_MS,
        }
      : hubOptions,
  );
  const listening = performance.now();
  cleanups.add('stop the hub', () => hub.stop(), hub.kill);
  // The agents stop first, while the hub is up (stop() is idempotent).
  cleanups.add('stop the agents while the hub is up', stopAgents);
  figures.hubStartSeconds = round((listening - hubSpawned) / 1000, 2);
  progress(`hub: pid ${hub.pid} listening after ${((listening - hubSpawned) / 1000).toFixed(1)} s; draining`);
  const before = await scrapeMetrics(hub.httpUrl);
  const hubCpu = new CpuMeter(hub.pid);
  const benchCpu = new CpuMeter(process.pid);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  hubCpu.start();
  benchCpu.start();
  loopDelay.enable();
  let hubRssMax = 0;
  let allConnectedAt: number | undefined;
  let leftWhenAllConnected = 0;
  let drainedAt: number | undefined;
  let lastReport = listening;
  let lastRss = 0;
  const left = () => devices.reduce((sum, d) => sum + d.agent.outboxSize, 0);
  let watching = true;
  const watch = async () => {
    while (watching) {
      const now = performance.now();
      if (allConnectedAt === undefined && devices.every((d) => d.connectedAt !== undefined)) {
        allConnectedAt = Math.max(...devices.map((d) => d.connectedAt!));
        leftWhenAllConnected = left();
      }
      const remaining = left();
      if (remaining === 0 && allConnectedAt !== undefined) {
        drainedAt = now;
        return;
      }
      if (now - lastRss >= 1000) {
        lastRss = now;
        hubRssMax = Math.max(hubRssMax, rssBytes(hub.pid));
      }
      if (now - lastReport >= 5000) {
        lastReport = now;
        const connected = devices.filter((d) => d.agent.connected).length;
        progress(
          `draining: ${remaining} readings left, ${connected}/${n} connected, ${((now - listening) / 1000).toFixed(0)} s`,
        );
      }
      await sleep(POLL_MS);
    }
  };
  try {
    await withDeadline(watch(), flags.drainTimeoutS * 1000, 'draining the outboxes');
  } catch (err) {
    figures.readingsLeft = left();
    figures.agentsConnected = devices.filter((d) => d.agent.connected).length;
    throw err;
  } finally {
    // Ends the loop of watch() after a deadline too (the hub may be gone when it looks next).
    watching = false;
    figures.hubCpuPercent = round(hubCpu.percent(), 1);
    figures.benchCpuPercent = round(benchCpu.percent(), 1);
    loopDelay.disable();
    figures.benchLoopDelayP99Ms = round(loopDelay.percentile(99) / 1e6, 1);
  }
  const hubRss = rssBytes(hub.pid);
  const firstConnectedAt = Math.min(...devices.map((d) => d.connectedAt!));
  const total = n * perDevice;
  const drainSeconds = (drainedAt! - firstConnectedAt) / 1000;
  const outageEndSeconds = (drainedAt! - listening) / 1000;
  Object.assign(figures, {
    firstConnectSeconds: round((firstConnectedAt - listening) / 1000, 3),
    reconnectSeconds: round((allConnectedAt! - listening) / 1000, 3),
    backlogLeftWhenAllConnected: leftWhenAllConnected,
    drainSeconds: round(drainSeconds, 2),
    drainPerSec: round(total / drainSeconds, 0),
    listeningToDrainedSeconds: round(outageEndSeconds, 2),
    listeningToDrainedPerSec: round(total / outageEndSeconds, 0),
    disconnectsWhileDraining: devices.reduce((s, d) => s + d.disconnects, 0),
    refused: refusals.count,
    hubRssMiB: round(hubRss / MiB, 1),
    hubMaxRssMiB: round(Math.max(hubRssMax, hubRss) / MiB, 1),
    benchRssMiB: round(process.memoryUsage().rss / MiB, 1),
  });
  if (refusals.first !== undefined) progress(`hub refused messages; first: ${refusals.first}`);
  progress(
    `drained ${total} readings in ${drainSeconds.toFixed(1)} s after the first connection ` +
      `(${Math.round(total / drainSeconds)}/s); all connected ${figures.reconnectSeconds} s after the hub listened`,
  );
  const after = await scrapeMetrics(hub.httpUrl);
  const delta = (key: string) => sample(after, key) - sample(before, key);
  const writes = delta('homeostat_telemetry_write_seconds_count');
  figures.hubValuesStored = delta('homeostat_telemetry_readings_stored_total');
  figures.hubDuplicatesIgnored = delta('homeostat_telemetry_duplicates_total');
  figures.hubWrites = writes;
  figures.hubWriteMsMean =
    writes > 0 ? round((1000 * delta('homeostat_telemetry_write_seconds_sum')) / writes, 1) : null;
  figures.hubValuesPerWrite =
    delta('homeostat_telemetry_batch_values_count') > 0
      ? round(delta('homeostat_telemetry_batch_values_sum') / delta('homeostat_telemetry_batch_values_count'), 0)
      : null;

  // 5. Every reading stored exactly once?
  const checkStarted = performance.now();
  const v = await verify(hub.httpUrl, adminToken, devices);
  Object.assign(figures, v);
  figures.verifySeconds = round((performance.now() - checkStarted) / 1000, 1);
  progress(
    `check: ${v.stored} readings stored, ${v.lost} lost, ${v.duplicates} duplicates, ${v.unexpected} unexpected`,
  );
}

/** Error notices of the hub (`errors` topic): a refused message. */
const refusals = { count: 0, first: undefined as string | undefined };

/** `count` distinct free TCP ports of 127.0.0.1 (listened on, then closed). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    if (a === null || typeof a === 'string') throw new Error('no port');
    return a.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

interface Verified {
  /** Readings with every metric stored once. */
  stored: number;
  /** Readings made and not stored (or with a metric missing). */
  lost: number;
  /** (device, seq, metric) returned more than once. */
  duplicates: number;
  /** Stored seqs that were never made. */
  unexpected: number;
}

async function verify(httpUrl: string, token: string, devices: readonly Device[]): Promise<Verified> {
  const v: Verified = { stored: 0, lost: 0, duplicates: 0, unexpected: 0 };
  const to = Date.now() + 1000;
  await forEachLimited(devices, QUERY_CONCURRENCY, async (d) => {
    const have = new Uint8Array(d.made + 1);
    for (const metric of METRICS) {
      const seen = new Uint8Array(d.made + 1);
      const q = new URLSearchParams({ metric, from: '0', to: String(to), limit: String(QUERY_LIMIT) });
      const url = `${httpUrl}/api/v1/devices/${encodeURIComponent(d.name)}/telemetry?${q}`;
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${text}`);
      const body = JSON.parse(text) as { points?: { seq: number }[]; truncated?: boolean };
      if (!Array.isArray(body.points)) throw new Error(`GET ${url}: ${text.slice(0, 200)}`);
      if (body.truncated) throw new Error(`${d.name}: more than ${QUERY_LIMIT} ${metric} points`);
      for (const { seq } of body.points) {
        if (!Number.isInteger(seq) || seq < 1 || seq > d.made) v.unexpected++;
        else if (seen[seq]) v.duplicates++;
        else {
          seen[seq] = 1;
          have[seq]!++;
        }
      }
    }
    for (let seq = 1; seq <= d.made; seq++) {
      if (have[seq] === METRICS.length) v.stored++;
      else v.lost++;
    }
  });
  return v;
}
