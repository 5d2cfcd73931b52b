// `fleet`: N simulated devices (the real agent on simulated hardware) connect to one hub and send
// 1 s heartbeats. Reports the time until the hub has all N connected and all N online, then over
// a steady window the hub's CPU, its resident memory per device, and whether liveness held (no
// device suspect or offline). docs/benchmarks.md explains the figures.
//
// The hub runs in its own process, so its CPU and memory are its own. The devices are planned
// first (planFleet: the demo mix of rooms, mowers and pumps, exactly N devices) and created through
// the HTTP API before anything is timed; the agents then get their tokens from that table, so the
// connect time is only connecting. Sampling is every 60 s: the load is the heartbeats.

import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { planFleet, SimFleet } from '@homeostat/sim';
import {
  BenchFailure,
  type Benchmark,
  type Cleanups,
  type Figures,
  intFlag,
  MiB,
  parseFlagValues,
  progress,
  round,
  sleep,
  UsageError,
  withDeadline,
} from './harness.js';
import { provisionDevices, type Samples, sample, scrapeMetrics } from './hub-api.js';
import { type HubProcess, PROFILED_STOP_GRACE_MS, startHubProcess } from './hub-process.js';
import { CpuMeter, machineBusySeconds, rssBytes } from './proc.js';

const HEARTBEAT_MS = 1000;
const SAMPLE_MS = 60_000;
const SEED = 1;
/** How often the hub's /metrics is read while waiting and during the window, in ms. */
const POLL_MS = 250;
const WINDOW_SAMPLE_MS = 1000;
/** Stopping 10,000 agents (each publishes its offline status) may take a while, in ms. */
const FLEET_STOP_MS = 60_000;

const ONLINE = 'homeostat_devices{liveness="online"}';
const CONNECTIONS = 'homeostat_mqtt_connections';
const SUSPECT = 'homeostat_liveness_transitions_total{state="suspect"}';
const OFFLINE = 'homeostat_liveness_transitions_total{state="offline"}';
const HEARTBEATS = 'homeostat_mqtt_messages_received_total{kind="heartbeat"}';
const MESSAGES = 'homeostat_mqtt_messages_received_total{';
/** Wait for the hub to write a heap snapshot, in ms. */
const HEAP_SNAPSHOT_TIMEOUT_MS = 120_000;

const USAGE =
  '--devices N (default 1000) --window-s S (default 30) --settle-s S (default 5) --connect-timeout-s S (default 300) ' +
  '--provision-concurrency N (default 32) --start-concurrency N (default 64) ' +
  '--connect-rate N (agents started per second, default 0: as fast as they start) ' +
  '--online-grace-s S (default 60) --hub-cpu-prof DIR --hub-heap-snapshot DIR';

interface FleetFlags {
  devices: number;
  windowS: number;
  settleS: number;
  connectTimeoutS: number;
  provisionConcurrency: number;
  startConcurrency: number;
  connectRate: number;
  onlineGraceS: number;
  hubCpuProf: string | undefined;
  hubHeapSnapshot: string | undefined;
}

function parseFlags(argv: readonly string[]): FleetFlags {
  const values = parseFlagValues(argv, [
    'devices',
    'window-s',
    'settle-s',
    'connect-timeout-s',
    'provision-concurrency',
    'start-concurrency',
    'connect-rate',
    'online-grace-s',
    'hub-cpu-prof',
    'hub-heap-snapshot',
  ]);
  return {
    devices: intFlag('devices', values.devices, 1000, 1, 50_000),
    windowS: intFlag('window-s', values['window-s'], 30, 1, 3600),
    settleS: intFlag('settle-s', values['settle-s'], 5, 0, 600),
    connectTimeoutS: intFlag('connect-timeout-s', values['connect-timeout-s'], 300, 1, 3600),
    provisionConcurrency: intFlag('provision-concurrency', values['provision-concurrency'], 32, 1, 1024),
    startConcurrency: intFlag('start-concurrency', values['start-concurrency'], 64, 1, 10_000),
    connectRate: intFlag('connect-rate', values['connect-rate'], 0, 0, 100_000),
    onlineGraceS: intFlag('online-grace-s', values['online-grace-s'], 60, 0, 3600),
    hubCpuProf: values['hub-cpu-prof'],
    hubHeapSnapshot: values['hub-heap-snapshot'],
  };
}

export const fleetBenchmark: Benchmark = {
  summary: 'N devices with 1 s heartbeats on one hub: connect time, hub CPU and resident memory per device',
  usage: USAGE,
  run: (argv, cleanups) => runFleet(parseFlags(argv), cleanups),
};

async function runFleet(flags: FleetFlags, cleanups: Cleanups): Promise<Figures> {
  const n = flags.devices;
  // Filled in phase by phase, so a run that fails still reports how far it got.
  const figures: Figures = {
    devices: n,
    heartbeatMs: HEARTBEAT_MS,
    windowSeconds: flags.windowS,
    connectRate: flags.connectRate,
    node: process.version,
    cpus: availableParallelism(),
  };
  try {
    await measureFleet(flags, cleanups, figures);
    return figures;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new BenchFailure((err as Error).message, figures);
  }
}

async function measureFleet(flags: FleetFlags, cleanups: Cleanups, figures: Figures): Promise<void> {
  const n = flags.devices;
  progress(`fleet: ${n} devices, heartbeat ${HEARTBEAT_MS} ms, window ${flags.windowS} s`);

  if (flags.hubHeapSnapshot) mkdirSync(flags.hubHeapSnapshot, { recursive: true });
  const nodeFlags = [
    ...(flags.hubCpuProf ? ['--cpu-prof', `--cpu-prof-dir=${flags.hubCpuProf}`] : []),
    // The hub writes a heap snapshot on SIGUSR2 (sent at the end of the window) into this directory.
    ...(flags.hubHeapSnapshot ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${flags.hubHeapSnapshot}`] : []),
  ];
  const hub = await startHubProcess(
    flags.hubCpuProf ? { nodeFlags, stopGraceMs: PROFILED_STOP_GRACE_MS } : { nodeFlags },
  );
  cleanups.add('stop the hub', () => hub.stop(), hub.kill);
  progress(`hub: pid ${hub.pid}, ${hub.httpUrl}, ${hub.mqttUrl}`);
  await sleep(1000);
  const hubStartRss = rssBytes(hub.pid);
  figures.hubStartRssMiB = round(hubStartRss / MiB, 1);

  // Plan, then create every planned device through the API: nothing of this is in the connect time.
  const plan = planFleet({ devices: n, seed: SEED, clockNow: () => Date.now() });
  if (plan.length !== n) throw new Error(`fleet plan: expected ${n} devices, got ${plan.length}`);
  const provisionStarted = performance.now();
  const tenth = Math.max(1, Math.floor(n / 10));
  const tokens = await provisionDevices(
    hub.httpUrl,
    hub.adminToken,
    plan.map((d) => ({ name: d.name, labels: d.labels })),
    flags.provisionConcurrency,
    (done) => {
      if (done % tenth === 0) progress(`provisioned ${done}/${n}`);
    },
  );
  const provisionSeconds = (performance.now() - provisionStarted) / 1000;
  figures.provisionSeconds = round(provisionSeconds, 2);
  figures.provisionPerSec = round(n / provisionSeconds, 0);
  progress(`provisioned ${n} devices in ${provisionSeconds.toFixed(1)} s`);
  await sleep(2000);
  const hubIdleRss = rssBytes(hub.pid);
  figures.hubIdleRssMiB = round(hubIdleRss / MiB, 1);

  // Connect: from starting the agents until the hub counts all N online. With --connect-rate the
  // agents are started at that pace (to tell the steady state from a connection storm).
  const benchIdleRss = process.memoryUsage().rss;
  const pace = pacer(flags.connectRate);
  const fleet = new SimFleet({
    hubUrl: hub.mqttUrl,
    devices: n,
    seed: SEED,
    provisioning: {
      kind: 'credentials',
      provide: async (device) => {
        const token = tokens.get(device.name);
        if (token === undefined) throw new Error(`no token for planned device ${device.name}`);
        await pace();
        return { id: device.name, token };
      },
    },
    dataDir: null,
    heartbeatMs: HEARTBEAT_MS,
    sampleMs: SAMPLE_MS,
    startConcurrency: flags.startConcurrency,
  });
  cleanups.add('stop the agents', () => withDeadline(fleet.stop(), FLEET_STOP_MS, 'stopping the agents'));
  const beforeConnect = await scrapeMetrics(hub.httpUrl);
  const connect = new ConnectWatch(hub, n);
  const starting = fleet.start().then(() => {
    figures.agentsStartedSeconds = round(connect.elapsedSeconds(), 2);
  });
  try {
    await withDeadline(
      Promise.all([starting, connect.until((m) => m.connections >= n)]),
      flags.connectTimeoutS * 1000,
      `connecting ${n} devices`,
    );
    figures.connectSeconds = round(connect.elapsedSeconds(), 2);
    figures.connectPerSec = round(n / connect.elapsedSeconds(), 0);
    progress(`all ${n} connected after ${connect.elapsedSeconds().toFixed(1)} s; waiting for all online`);
    // Connected is not yet online (the first heartbeat or status makes it so), and an overloaded
    // hub may never see all N online at once: then the window below says how far from it it is.
    const allOnline = await connect.until((m) => m.online >= n, flags.onlineGraceS * 1000);
    figures.onlineSeconds = allOnline ? round(connect.elapsedSeconds(), 2) : null;
    progress(
      allOnline
        ? `all ${n} online after ${connect.elapsedSeconds().toFixed(1)} s; settling ${flags.settleS} s`
        : `not all ${n} online within ${flags.onlineGraceS} s of connecting; measuring the window anyway`,
    );
  } catch (err) {
    // Say which agents are not connected on their side, for whoever digs into a failed run.
    const down = fleet.agents.filter((a) => !a.connected).map((a) => a.id ?? '?');
    figures.agentsNotStarted = n - fleet.agents.length;
    figures.agentsNotConnected = down.length;
    if (down.length > 0) progress(`agents not connected (first 10 of ${down.length}): ${down.slice(0, 10).join(', ')}`);
    throw err;
  } finally {
    connect.stop();
    Object.assign(figures, connect.figures());
  }
  const afterConnect = await scrapeMetrics(hub.httpUrl);
  figures.connectSuspectTransitions = sample(afterConnect, SUSPECT) - sample(beforeConnect, SUSPECT);
  figures.connectOfflineTransitions = sample(afterConnect, OFFLINE) - sample(beforeConnect, OFFLINE);
  await sleep(flags.settleS * 1000);

  // The steady window.
  const w = await steadyWindow(hub, n, flags.windowS);
  const benchRss = process.memoryUsage().rss;
  Object.assign(figures, {
    hubCpuPercent: round(w.hubCpuPercent, 1),
    // Robust to the machine's speed of the day, unlike the percentage: CPU per unit of work.
    hubCpuUsPerHeartbeat: w.heartbeats > 0 ? round((w.hubCpuSeconds * 1e6) / w.heartbeats, 1) : null,
    hubSystemCpuShare: w.hubCpuSeconds > 0 ? round(w.hubSystemCpuSeconds / w.hubCpuSeconds, 2) : null,
    otherMessages: w.otherMessages,
    machineOtherCpuPercent: round(w.machineOtherCpuPercent, 1),
    hubRssMiB: round(w.hubRssEnd / MiB, 1),
    hubMaxRssMiB: round(w.hubRssMax / MiB, 1),
    hubRssKiBPerDevice: round((w.hubRssEnd - hubIdleRss) / 1024 / n, 1),
    heartbeatsPerSec: round(w.heartbeats / w.seconds, 0),
    heartbeatsReceivedRatio: round(w.heartbeats / (w.seconds * n * (1000 / HEARTBEAT_MS)), 3),
    suspectTransitions: w.suspect,
    offlineTransitions: w.offline,
    minOnline: w.minOnline,
    mqttConnections: w.connectionsEnd,
    benchCpuPercent: round(w.benchCpuPercent, 1),
    benchLoopDelayP99Ms: round(w.benchLoopDelayP99Ms, 1),
    benchRssMiB: round(benchRss / MiB, 1),
    // The load generator's memory per agent (the real agent code, one MQTT connection each).
    benchRssKiBPerDevice: round((benchRss - benchIdleRss) / 1024 / n, 1),
  });
  if (flags.hubHeapSnapshot) figures.hubHeapSnapshot = await heapSnapshot(hub, flags.hubHeapSnapshot);
  progress(
    `window: hub CPU ${w.hubCpuPercent.toFixed(1)} % (${figures.hubCpuUsPerHeartbeat} µs per heartbeat), ` +
      `RSS ${(w.hubRssEnd / MiB).toFixed(0)} MiB, ` +
      `${w.suspect} suspect / ${w.offline} offline transitions, min online ${w.minOnline}/${n}`,
  );
}

/** Resolves each call at `perSecond` calls per second from the first one; at once when 0. */
function pacer(perSecond: number): () => Promise<void> {
  let started: number | undefined;
  let calls = 0;
  return async () => {
    if (perSecond <= 0) return;
    started ??= performance.now();
    const slot = started + (calls++ * 1000) / perSecond;
    await sleep(slot - performance.now());
  };
}

/** Polls the hub while the fleet connects, and keeps what it saw for the figures (also on failure). */
class ConnectWatch {
  readonly #hub: HubProcess;
  readonly #n: number;
  readonly #started = performance.now();
  readonly #hubCpu: CpuMeter;
  readonly #benchCpu = new CpuMeter(process.pid);
  readonly #loopDelay = monitorEventLoopDelay({ resolution: 10 });
  #stopped = false;
  #online = 0;
  #connections = 0;
  #peakConnections = 0;
  #hubRssMax = 0;
  #hubCpuPercent = 0;
  #benchCpuPercent = 0;

  constructor(hub: HubProcess, n: number) {
    this.#hub = hub;
    this.#n = n;
    this.#hubCpu = new CpuMeter(hub.pid);
    this.#hubCpu.start();
    this.#benchCpu.start();
    this.#loopDelay.enable();
  }

  elapsedSeconds(): number {
    return (performance.now() - this.#started) / 1000;
  }

  /** Polls until `done` holds (true), or until `timeoutMs` has passed (false). */
  async until(done: (m: { online: number; connections: number }) => boolean, timeoutMs = Infinity): Promise<boolean> {
    const started = performance.now();
    let lastReport = started;
    while (!this.#stopped) {
      const m = await scrapeMetrics(this.#hub.httpUrl);
      this.#online = sample(m, ONLINE);
      this.#connections = sample(m, CONNECTIONS);
      this.#peakConnections = Math.max(this.#peakConnections, this.#connections);
      this.#hubRssMax = Math.max(this.#hubRssMax, rssBytes(this.#hub.pid));
      if (done({ online: this.#online, connections: this.#connections })) return true;
      const now = performance.now();
      if (now - started >= timeoutMs) return false;
      if (now - lastReport >= 5000) {
        lastReport = now;
        progress(
          `connecting: ${this.#online}/${this.#n} online, ${this.#connections} MQTT connections, ` +
            `${this.elapsedSeconds().toFixed(0)} s`,
        );
      }
      await sleep(POLL_MS);
    }
    return false;
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#hubCpuPercent = this.#hubCpu.percent();
    this.#benchCpuPercent = this.#benchCpu.percent();
    this.#loopDelay.disable();
  }

  /** The connect phase as seen from outside; on a failed run, the state at the deadline. */
  figures(): Figures {
    return {
      connectOnlineLast: this.#online,
      connectConnectionsLast: this.#connections,
      connectConnectionsPeak: this.#peakConnections,
      connectHubCpuPercent: round(this.#hubCpuPercent, 1),
      connectHubMaxRssMiB: round(this.#hubRssMax / MiB, 1),
      connectBenchCpuPercent: round(this.#benchCpuPercent, 1),
      connectBenchLoopDelayP99Ms: round(this.#loopDelay.percentile(99) / 1e6, 1),
      connectBenchRssMiB: round(process.memoryUsage().rss / MiB, 1),
    };
  }
}

interface WindowFigures {
  seconds: number;
  hubCpuPercent: number;
  hubCpuSeconds: number;
  hubSystemCpuSeconds: number;
  /** Device messages other than heartbeats the hub accepted in the window (the steady load is heartbeats). */
  otherMessages: number;
  /** CPU used on the machine by everything but the hub and this process, % of one core. */
  machineOtherCpuPercent: number;
  hubRssEnd: number;
  hubRssMax: number;
  heartbeats: number;
  suspect: number;
  offline: number;
  minOnline: number;
  connectionsEnd: number;
  benchCpuPercent: number;
  benchLoopDelayP99Ms: number;
}

async function steadyWindow(hub: HubProcess, n: number, windowS: number): Promise<WindowFigures> {
  const before: Samples = await scrapeMetrics(hub.httpUrl);
  const hubCpu = new CpuMeter(hub.pid);
  const benchCpu = new CpuMeter(process.pid);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  hubCpu.start();
  benchCpu.start();
  const machine0 = machineBusySeconds();
  const started = performance.now();
  let hubRssMax = rssBytes(hub.pid);
  let minOnline = n;
  progress(`window: ${windowS} s`);
  for (let s = 1; s <= windowS; s++) {
    await sleep(Math.max(0, started + s * WINDOW_SAMPLE_MS - performance.now()));
    hubRssMax = Math.max(hubRssMax, rssBytes(hub.pid));
    minOnline = Math.min(minOnline, sample(await scrapeMetrics(hub.httpUrl), ONLINE));
    if (s % 10 === 0) progress(`window: ${s}/${windowS} s, hub CPU ${hubCpu.percent().toFixed(1)} % so far`);
  }
  // CPU first, so the last /metrics read is not counted in it.
  const hubCpuPercent = hubCpu.percent();
  const benchCpuPercent = benchCpu.percent();
  const hubUsed = hubCpu.used();
  const benchUsed = benchCpu.used();
  const machineBusy = machineBusySeconds() - machine0;
  const seconds = (performance.now() - started) / 1000;
  const hubRssEnd = rssBytes(hub.pid);
  loopDelay.disable();
  const after = await scrapeMetrics(hub.httpUrl);
  const delta = (key: string) => sample(after, key) - sample(before, key);
  let otherMessages = 0;
  for (const key of after.keys()) if (key.startsWith(MESSAGES) && key !== HEARTBEATS) otherMessages += delta(key);
  return {
    seconds,
    hubCpuPercent,
    hubCpuSeconds: hubUsed.seconds,
    hubSystemCpuSeconds: hubUsed.systemSeconds,
    otherMessages,
    machineOtherCpuPercent: (100 * Math.max(0, machineBusy - hubUsed.seconds - benchUsed.seconds)) / seconds,
    hubRssEnd,
    hubRssMax: Math.max(hubRssMax, hubRssEnd),
    heartbeats: delta(HEARTBEATS),
    suspect: delta(SUSPECT),
    offline: delta(OFFLINE),
    minOnline: Math.min(minOnline, sample(after, ONLINE)),
    connectionsEnd: sample(after, CONNECTIONS),
    benchCpuPercent,
    benchLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
  };
}

/**
 * Asks the hub (started with --heapsnapshot-signal) for a heap snapshot and waits until the file
 * is complete (its size stops changing); returns its path.
 */
async function heapSnapshot(hub: HubProcess, dir: string): Promise<string> {
  const before = new Set(readdirSync(dir));
  process.kill(hub.pid, 'SIGUSR2');
  progress(`hub heap snapshot: writing into ${dir}`);
  const deadline = performance.now() + HEAP_SNAPSHOT_TIMEOUT_MS;
  let lastSize = -1;
  while (performance.now() < deadline) {
    await sleep(1000);
    const file = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (file === undefined) continue;
    const size = statSync(join(dir, file)).size;
    if (size > 0 && size === lastSize) return join(dir, file);
    lastSize = size;
  }
  throw new Error(`hub heap snapshot: none complete in ${dir} after ${HEAP_SNAPSHOT_TIMEOUT_MS / 1000} s`);
}
