// `ingest`: N device connections publish QoS 1 telemetry as fast as a fixed window of in-flight
// messages allows, first to a bare broker (aedes, the broker the hub embeds, with no hub work:
// the raw forwarding rate), then to the real hub; the figure is the hub's rate of readings stored
// and queryable through its API, divided by the raw rate measured in the same run. This is the
// design target "telemetry ingest, MQTT to stored and queryable, at least 0.8 of the raw
// forwarding rate of the same broker". docs/benchmarks.md explains the figures.
//
// Both measurements use the same client harness: mqtt.js connections made here (not the agent,
// whose outbox would be measured too), one reading per message, `--inflight` messages outstanding
// per connection (the next is published when a PUBACK comes back), `--warmup-s` seconds of
// warm-up, then `--seconds` seconds counted. Both brokers run in child processes of their own, so
// their CPU and memory are their own. The hub is used through its public interfaces only: the CLI,
// POST /api/v1/devices for the tokens, MQTT for the load, GET .../telemetry to check what was stored
// (and /metrics for information).

import { type ChildProcess, spawn } from 'node:child_process';
import { connect as tcpConnect } from 'node:net';
import { availableParallelism } from 'node:os';
import { createHistogram, monitorEventLoopDelay, type RecordableHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { topics } from '@homeostat/protocol';
import { connectAsync, type MqttClient } from 'mqtt';
import {
  BenchFailure,
  type Benchmark,
  Cleanups,
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
import { provisionDevices, type Samples, sample, scrapeMetrics } from './hub-api.js';
import { REPO_ROOT, startHubProcess, stopChild } from './hub-process.js';
import { CpuMeter, cpuSeconds, machineBusySeconds, rssBytes } from './proc.js';

const RAW_BROKER = fileURLToPath(new URL('./raw-broker.js', import.meta.url));
/** Connections opened at once. */
const CONNECT_CONCURRENCY = 32;
/** Deadline for opening all N connections, in ms. */
const CONNECT_DEADLINE_MS = 120_000;
/** Deadline for the PUBACKs still outstanding when the window closes, in ms. */
const DRAIN_DEADLINE_MS = 30_000;
/** Deadline for the window's last acknowledged readings to be queryable, in ms. */
const QUERYABLE_DEADLINE_MS = 60_000;
/** Deadline for reading back everything stored, in ms. */
const VERIFY_DEADLINE_MS = 300_000;
/** Wait before checking again when acknowledged readings are missing from the store, in ms. */
const LATE_STORE_GRACE_MS = 5000;
/** Wait for the raw subscriber to receive the last forwarded messages, in ms. */
const FORWARD_GRACE_MS = 5000;
const START_DEADLINE_MS = 30_000;
const STOP_GRACE_MS = 20_000;
/** Wait for a profiled process to exit after SIGTERM (it writes the profile then), in ms. */
const PROFILED_STOP_GRACE_MS = 120_000;
const QUERY_LIMIT = 10_000;
/** Other processes using more than this share of a core during a window make a disturbed run, %. */
const OTHER_CPU_WARN_PERCENT = 15;
const QUERY_CONCURRENCY = 8;
const PROVISION_CONCURRENCY = 32;
const PROGRESS_MS = 2000;
/** Metric names of a reading: `--metrics N` takes the first N. */
const METRIC_NAMES = [
  'temperature',
  'humidity',
  'pressure',
  'voltage',
  'current',
  'power',
  'rpm',
  'flow',
  'level',
  'vibration',
  'co2',
  'lux',
  'noise',
  'speed',
  'torque',
  'load',
];

const WRITE_SUM = 'homeostat_telemetry_write_seconds_sum';
const WRITE_COUNT = 'homeostat_telemetry_write_seconds_count';
const BATCH_SUM = 'homeostat_telemetry_batch_values_sum';
const BATCH_COUNT = 'homeostat_telemetry_batch_values_count';
const VALUES_STORED = 'homeostat_telemetry_readings_stored_total';

const USAGE =
  '--devices N (default 50) --inflight N (messages outstanding per connection, default 32) ' +
  '--seconds S (measured, default 10) --warmup-s S (default 2) --metrics N (values per reading, 1 to 16, default 2) ' +
  '--hub-cpu-prof DIR --raw-cpu-prof DIR';

interface IngestFlags {
  devices: number;
  inflight: number;
  seconds: number;
  warmupS: number;
  metrics: number;
  hubCpuProf: string | undefined;
  rawCpuProf: string | undefined;
}

function parseFlags(argv: readonly string[]): IngestFlags {
  const values = parseFlagValues(argv, [
    'devices',
    'inflight',
    'seconds',
    'warmup-s',
    'metrics',
    'hub-cpu-prof',
    'raw-cpu-prof',
  ]);
  return {
    devices: intFlag('devices', values.devices, 50, 1, 10_000),
    inflight: intFlag('inflight', values.inflight, 32, 1, 1000),
    seconds: intFlag('seconds', values.seconds, 10, 1, 600),
    warmupS: intFlag('warmup-s', values['warmup-s'], 2, 0, 60),
    metrics: intFlag('metrics', values.metrics, 2, 1, METRIC_NAMES.length),
    hubCpuProf: values['hub-cpu-prof'],
    rawCpuProf: values['raw-cpu-prof'],
  };
}

export const ingestBenchmark: Benchmark = {
  summary: 'QoS 1 telemetry as fast as N devices send it: hub readings stored per second / raw aedes rate',
  usage: USAGE,
  run: (argv, cleanups) => runIngest(parseFlags(argv), cleanups),
};

async function runIngest(flags: IngestFlags, cleanups: Cleanups): Promise<Figures> {
  // Filled in phase by phase, so a run that fails still reports how far it got.
  const figures: Figures = {
    devices: flags.devices,
    inflight: flags.inflight,
    seconds: flags.seconds,
    warmupSeconds: flags.warmupS,
    metrics: flags.metrics,
    node: process.version,
    cpus: availableParallelism(),
  };
  try {
    progress(
      `ingest: ${flags.devices} devices, ${flags.inflight} in flight each, ${flags.metrics} metrics per reading, ` +
        `${flags.warmupS} s warm-up + ${flags.seconds} s measured; raw broker first, then the hub`,
    );
    const raw = await phase(cleanups, 'raw phase', (local) => measureRaw(flags, local, figures));
    const hub = await phase(cleanups, 'hub phase', (local) => measureHub(flags, local, figures));
    figures.ratio = round(hub.storedPerSec / raw.ackedPerSec, 3);
    // Other work on the machine slows one phase and not the other: such a ratio means little.
    figures.disturbed =
      Number(figures.rawOtherCpuPercent) > OTHER_CPU_WARN_PERCENT ||
      Number(figures.hubOtherCpuPercent) > OTHER_CPU_WARN_PERCENT;
    figures.ackedRatio = round(hub.ackedPerSec / raw.ackedPerSec, 3);
    progress(
      `raw ${Math.round(raw.ackedPerSec)} msgs/s, hub ${Math.round(hub.ackedPerSec)} acked/s and ` +
        `${Math.round(hub.storedPerSec)} stored/s: ratio ${figures.ratio} (target 0.8)` +
        (figures.disturbed ? '; DISTURBED by other processes, run it again on a quiet machine' : ''),
    );
    const problems: string[] = [];
    if (Number(figures.lost) > 0) problems.push(`${figures.lost} acknowledged readings not stored`);
    if (Number(figures.duplicates) > 0) problems.push(`${figures.duplicates} readings stored twice`);
    if (Number(figures.publishErrors) > 0 || Number(figures.rawPublishErrors) > 0) {
      problems.push(`publish errors: raw ${figures.rawPublishErrors}, hub ${figures.publishErrors}`);
    }
    if (Number(figures.disconnects) > 0 || Number(figures.rawDisconnects) > 0) {
      problems.push(`connections lost: raw ${figures.rawDisconnects}, hub ${figures.disconnects}`);
    }
    if (problems.length > 0) throw new Error(problems.join('; '));
    return figures;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new BenchFailure((err as Error).message, figures);
  }
}

/** Runs one phase with clean-ups of its own, run when it ends (and by the runner if it dies). */
async function phase<T>(cleanups: Cleanups, name: string, body: (local: Cleanups) => Promise<T>): Promise<T> {
  const local = new Cleanups();
  cleanups.add(
    name,
    () => local.run(),
    () => local.runSync(),
  );
  try {
    return await body(local);
  } finally {
    await local.run();
  }
}

// ---------------------------------------------------------------------------------------------
// The raw broker

async function measureRaw(flags: IngestFlags, cleanups: Cleanups, figures: Figures) {
  const broker = await startRawBroker(
    flags.rawCpuProf ? ['--cpu-prof', `--cpu-prof-dir=${flags.rawCpuProf}`] : [],
    flags.rawCpuProf ? PROFILED_STOP_GRACE_MS : STOP_GRACE_MS,
  );
  cleanups.add('stop the raw broker', () => broker.stop(), broker.kill);
  progress(`raw broker: pid ${broker.pid}, ${broker.url}`);

  const subscriber = await countingSubscriber(broker.url, 'homeostat/v1/+/telemetry');
  cleanups.add('close the raw subscriber', async () => subscriber.close());
  const names = deviceNames(flags.devices);
  const conns = await connectDevices(
    broker.url,
    names.map((name) => ({ name, password: 'raw' })),
    cleanups,
  );
  progress(`raw: ${conns.length} publishers and 1 subscriber connected`);

  const run = await drive(conns, flags, {
    label: 'raw',
    brokerPid: broker.pid,
    onWindowStart: () => subscriber.startWindow(),
    onWindowEnd: () => subscriber.endWindow(),
  });
  // Every acknowledged message should have reached the subscriber (QoS 0: nothing to resend).
  const forwardWait = performance.now();
  while (subscriber.received < run.ackedTotal && performance.now() - forwardWait < FORWARD_GRACE_MS) await sleep(50);
  Object.assign(figures, {
    rawMsgsPerSec: round(run.ackedInWindow / flags.seconds, 0),
    rawForwardedPerSec: round(subscriber.inWindow / flags.seconds, 0),
    rawAckedTotal: run.ackedTotal,
    rawForwardedTotal: subscriber.received,
    rawNotForwarded: Math.max(0, run.ackedTotal - subscriber.received),
    rawP50AckMs: run.p50Ms,
    rawP99AckMs: run.p99Ms,
    rawMaxAckMs: run.maxMs,
    rawCpuPercent: round(run.brokerCpuPercent, 1),
    rawRssMiB: round(run.brokerRssEnd / MiB, 1),
    rawBenchCpuPercent: round(run.benchCpuPercent, 1),
    rawBenchLoopDelayP99Ms: run.benchLoopDelayP99Ms,
    rawOtherCpuPercent: round(run.otherCpuPercent, 1),
    rawPublishErrors: run.failed,
    rawDisconnects: run.disconnects,
  });
  progress(
    `raw: ${figures.rawMsgsPerSec} msgs/s acknowledged, ${figures.rawForwardedPerSec}/s forwarded, ` +
      `broker CPU ${figures.rawCpuPercent} %, ack p50 ${run.p50Ms} ms p99 ${run.p99Ms} ms`,
  );
  return { ackedPerSec: run.ackedInWindow / flags.seconds };
}

export interface RawBroker {
  pid: number;
  url: string;
  stop(): Promise<void>;
  kill(): void;
}

export async function startRawBroker(nodeFlags: readonly string[], graceMs: number): Promise<RawBroker> {
  const child = spawn(process.execPath, [...nodeFlags, RAW_BROKER], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n'))
      if (line.trim()) process.stderr.write(`  raw broker: ${line}\n`);
  });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  try {
    const url = await withDeadline(printedUrl(child), START_DEADLINE_MS, 'starting the raw broker');
    if (child.pid === undefined) throw new Error('raw broker: no pid');
    return { pid: child.pid, url, kill, stop: () => stopChild(child, graceMs, 'raw broker') };
  } catch (err) {
    kill();
    throw err;
  }
}

function printedUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onExit = (code: number | null, signal: string | null) =>
      reject(new Error(`raw broker: exited before it was ready (code ${code}, signal ${signal})`));
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const url = /^raw broker (mqtt:\/\/127\.0\.0\.1:\d+)$/m.exec(buffered)?.[1];
      if (url === undefined) return;
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      child.stdout?.resume();
      resolve(url);
    };
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

interface CountingSubscriber {
  received: number;
  inWindow: number;
  startWindow(): void;
  endWindow(): void;
  close(): void;
}

/**
 * A subscriber that only counts the PUBLISH packets it receives: a bare MQTT 3.1.1 client on a
 * socket (CONNECT, SUBSCRIBE at QoS 0, then a packet-length parser), so that checking the
 * forwarding costs the load generator as little as possible.
 */
function countingSubscriber(url: string, filter: string): Promise<CountingSubscriber> {
  const { hostname, port } = new URL(url);
  const str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]);
  };
  const packet = (first: number, body: Buffer) => {
    if (body.length > 127) throw new Error('subscriber: packet too long for this little client');
    return Buffer.concat([Buffer.from([first, body.length]), body]);
  };
  const connectPacket = packet(
    0x10,
    Buffer.concat([str('MQTT'), Buffer.from([4, 0x02, 0, 0]), str(`bench-subscriber-${process.pid}`)]),
  );
  const subscribePacket = packet(0x82, Buffer.concat([Buffer.from([0, 1]), str(filter), Buffer.from([0])]));

  return withDeadline(
    new Promise<CountingSubscriber>((resolve, reject) => {
      const socket = tcpConnect({ host: hostname, port: Number(port), noDelay: true });
      let window = false;
      const sub: CountingSubscriber = {
        received: 0,
        inWindow: 0,
        startWindow: () => {
          window = true;
        },
        endWindow: () => {
          window = false;
        },
        close: () => socket.destroy(),
      };
      let pending: Buffer = Buffer.alloc(0);
      socket.on('error', reject);
      socket.on('connect', () => socket.write(Buffer.concat([connectPacket, subscribePacket])));
      socket.on('data', (chunk: Buffer) => {
        const buf = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
        let off = 0;
        for (;;) {
          if (buf.length - off < 2) break;
          let len = 0;
          let mult = 1;
          let i = off + 1;
          let complete = false;
          while (i < buf.length && i < off + 5) {
            const b = buf[i++]!;
            len += (b & 127) * mult;
            mult *= 128;
            if ((b & 128) === 0) {
              complete = true;
              break;
            }
          }
          if (!complete || i + len > buf.length) break;
          const type = buf[off]! >> 4;
          if (type === 3) {
            sub.received++;
            if (window) sub.inWindow++;
          } else if (type === 9) {
            resolve(sub);
          } else if (type === 2 && buf[i + 1] !== 0) {
            reject(new Error(`subscriber: CONNACK return code ${buf[i + 1]}`));
          }
          off = i + len;
        }
        pending = off >= buf.length ? Buffer.alloc(0) : buf.subarray(off);
      });
    }),
    START_DEADLINE_MS,
    'subscribing to the raw broker',
  );
}

// ---------------------------------------------------------------------------------------------
// The hub

async function measureHub(flags: IngestFlags, cleanups: Cleanups, figures: Figures) {
  const hub = await startHubProcess(
    flags.hubCpuProf
      ? { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${flags.hubCpuProf}`], stopGraceMs: PROFILED_STOP_GRACE_MS }
      : {},
  );
  cleanups.add('stop the hub', () => hub.stop(), hub.kill);
  progress(`hub: pid ${hub.pid}, ${hub.httpUrl}, ${hub.mqttUrl}`);
  refusals.count = 0;
  refusals.first = undefined;
  const names = deviceNames(flags.devices);
  const tokens = await provisionDevices(
    hub.httpUrl,
    hub.adminToken,
    names.map((name) => ({ name, labels: {} })),
    PROVISION_CONCURRENCY,
  );
  const conns = await connectDevices(
    hub.mqttUrl,
    names.map((name) => ({ name, password: tokens.get(name)! })),
    cleanups,
  );
  progress(`hub: ${conns.length} devices provisioned and connected`);

  let before: Samples = new Map();
  let after: Samples = new Map();
  let queryable: Promise<QueryableLag> | undefined;
  let windowEnd = 0;
  const run = await drive(conns, flags, {
    label: 'hub',
    brokerPid: hub.pid,
    onWindowStart: () => {
      void scrapeMetrics(hub.httpUrl).then((m) => {
        before = m;
      });
    },
    onWindowEnd: () => {
      windowEnd = performance.now();
      queryable = waitQueryable(hub.httpUrl, hub.adminToken, conns, windowEnd);
      // Catch here; awaited below.
      queryable.catch(() => {});
    },
  });
  after = await scrapeMetrics(hub.httpUrl);
  const lag = await queryable!;
  Object.assign(figures, {
    hubAckedPerSec: round(run.ackedInWindow / flags.seconds, 0),
    hubAckedTotal: run.ackedTotal,
    p50AckMs: run.p50Ms,
    p99AckMs: run.p99Ms,
    maxAckMs: run.maxMs,
    hubCpuPercent: round(run.brokerCpuPercent, 1),
    hubRssMiB: round(run.brokerRssEnd / MiB, 1),
    hubBenchCpuPercent: round(run.benchCpuPercent, 1),
    hubBenchLoopDelayP99Ms: run.benchLoopDelayP99Ms,
    hubOtherCpuPercent: round(run.otherCpuPercent, 1),
    publishErrors: run.failed,
    disconnects: run.disconnects,
    refused: refusals.count,
    queryableLagMs: round(lag.lagMs, 0),
    queryableFirstCheckMs: round(lag.firstPassMs, 0),
  });
  // The hub's own account of its writes, for where the time goes (absent metrics read as null).
  const d = (key: string) => sample(after, key) - sample(before, key);
  figures.hubWritesPerSec = before.size > 0 ? round(d(WRITE_COUNT) / flags.seconds, 0) : null;
  figures.hubWriteMsMean = d(WRITE_COUNT) > 0 ? round((1000 * d(WRITE_SUM)) / d(WRITE_COUNT), 3) : null;
  figures.hubValuesPerWrite = d(BATCH_COUNT) > 0 ? round(d(BATCH_SUM) / d(BATCH_COUNT), 1) : null;
  figures.hubValuesStoredPerSec = before.size > 0 ? round(d(VALUES_STORED) / flags.seconds, 0) : null;
  if (refusals.first !== undefined) progress(`hub refused messages; the first notice: ${refusals.first}`);

  // Close the load before reading everything back.
  await closeDevices(conns);
  const verifyStarted = performance.now();
  let v = await withDeadline(
    verifyStored(hub.httpUrl, hub.adminToken, conns, flags.metrics),
    VERIFY_DEADLINE_MS,
    'reading the telemetry back',
  );
  let storedLate = 0;
  if (v.lost > 0) {
    progress(`${v.lost} acknowledged readings not stored yet; checking again in ${LATE_STORE_GRACE_MS / 1000} s`);
    await sleep(LATE_STORE_GRACE_MS);
    const again = await withDeadline(
      verifyStored(hub.httpUrl, hub.adminToken, conns, flags.metrics),
      VERIFY_DEADLINE_MS,
      'reading the telemetry back again',
    );
    storedLate = v.lost - again.lost;
    v = again;
  }
  const windowAndLag = flags.seconds + lag.lagMs / 1000;
  Object.assign(figures, {
    hubStoredPerSec: round(v.storedInWindow / windowAndLag, 0),
    hubStoredInWindow: v.storedInWindow,
    hubStoredTotal: v.stored,
    lost: v.lost,
    storedLate,
    duplicates: v.duplicates,
    partial: v.partial,
    unexpected: v.unexpected,
    storedNotAcked: v.storedNotAcked,
    verifySeconds: round((performance.now() - verifyStarted) / 1000, 1),
    verifyQueries: v.queries,
  });
  progress(
    `hub: ${figures.hubAckedPerSec} msgs/s acknowledged, ${figures.hubStoredPerSec} readings/s stored and queryable ` +
      `(lag ${figures.queryableLagMs} ms), CPU ${figures.hubCpuPercent} %, ack p50 ${run.p50Ms} ms p99 ${run.p99Ms} ms; ` +
      `lost ${v.lost}, duplicates ${v.duplicates}`,
  );
  return { ackedPerSec: run.ackedInWindow / flags.seconds, storedPerSec: v.storedInWindow / windowAndLag };
}

interface QueryableLag {
  /** From the end of the window until the last reading acknowledged in it was queryable, in ms; 0 when at once. */
  lagMs: number;
  /** Duration of the first check, in ms. */
  firstPassMs: number;
}

/**
 * From the end of the window, asks the hub for each device's last reading acknowledged in the
 * window until all are there. A hub that stores before acknowledging passes the first check (lag
 * 0); one that acknowledges first and stores later is charged the time until they are all
 * queryable (measured to the start of the check that found them, so to within one check).
 */
async function waitQueryable(httpUrl: string, token: string, conns: readonly Conn[], since: number) {
  let remaining = conns
    .map((c) => {
      let seq = c.next - 1;
      while (seq >= 0 && c.state[seq] !== ACKED_WINDOW) seq--;
      return { c, seq };
    })
    .filter((t) => t.seq >= 0);
  let firstPassMs = 0;
  let lagMs = 0;
  for (let pass = 0; remaining.length > 0; pass++) {
    const passStarted = performance.now();
    if (passStarted - since > QUERYABLE_DEADLINE_MS) {
      throw new Error(`${remaining.length} devices' last acknowledged readings not queryable after 60 s`);
    }
    const missing: typeof remaining = [];
    await forEachLimited(remaining, QUERY_CONCURRENCY, async (t) => {
      const ts = t.c.ts[t.seq]!;
      const page = await queryReadings(httpUrl, token, t.c.name, METRIC_NAMES[0]!, ts, ts);
      if (!page.points.some((p) => p.seq === t.seq)) missing.push(t);
    });
    if (pass === 0) firstPassMs = performance.now() - passStarted;
    if (missing.length === 0) {
      lagMs = pass === 0 ? 0 : passStarted - since;
      break;
    }
    remaining = missing;
    await sleep(100);
  }
  return { lagMs, firstPassMs };
}

interface Verified {
  stored: number;
  storedInWindow: number;
  lost: number;
  duplicates: number;
  partial: number;
  unexpected: number;
  storedNotAcked: number;
  queries: number;
}

/** Reads back every metric of every device and checks it against what was acknowledged. */
async function verifyStored(httpUrl: string, token: string, conns: readonly Conn[], metrics: number) {
  const v: Verified = {
    stored: 0,
    storedInWindow: 0,
    lost: 0,
    duplicates: 0,
    partial: 0,
    unexpected: 0,
    storedNotAcked: 0,
    queries: 0,
  };
  const to = Date.now() + 1000;
  await forEachLimited(conns, QUERY_CONCURRENCY, async (c) => {
    const have = new Uint8Array(c.next);
    for (const metric of METRIC_NAMES.slice(0, metrics)) {
      const seen = new Uint8Array(c.next);
      const { seqs, queries } = await storedSeqs(httpUrl, token, c.name, metric, 0, to);
      v.queries += queries;
      for (const seq of seqs) {
        if (!Number.isInteger(seq) || seq < 0 || seq >= c.next || c.state[seq] === undefined) v.unexpected++;
        else if (seen[seq]) v.duplicates++;
        else {
          seen[seq] = 1;
          have[seq] = have[seq]! + 1;
        }
      }
    }
    for (let seq = 0; seq < c.next; seq++) {
      const state = c.state[seq]!;
      const full = have[seq] === metrics;
      if (!full && have[seq]! > 0) v.partial++;
      const acked = state === ACKED_WARMUP || state === ACKED_WINDOW || state === ACKED_LATE;
      if (acked && !full) v.lost++;
      if (!full) continue;
      v.stored++;
      if (state === ACKED_WINDOW) v.storedInWindow++;
      if (!acked) v.storedNotAcked++;
    }
  });
  return v;
}

interface Point {
  ts: number;
  seq: number;
}

async function queryReadings(
  httpUrl: string,
  token: string,
  device: string,
  metric: string,
  from: number,
  to: number,
): Promise<{ points: Point[]; truncated: boolean }> {
  const q = new URLSearchParams({ metric, from: String(from), to: String(to), limit: String(QUERY_LIMIT) });
  const url = `${httpUrl}/api/v1/devices/${encodeURIComponent(device)}/telemetry?${q}`;
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${text}`);
  const body = JSON.parse(text) as { points?: Point[]; truncated?: boolean };
  if (!Array.isArray(body.points) || typeof body.truncated !== 'boolean') throw new Error(`GET ${url}: ${text}`);
  return { points: body.points, truncated: body.truncated };
}

/**
 * Every stored point of one metric in [from, to], each exactly once (so a seq seen twice is a
 * duplicate in the store). A query answers the newest `limit` points and says when there are
 * more: then the points after the oldest timestamp of the page are kept, that one millisecond is
 * read on its own, and the next page ends just before it.
 */
async function storedSeqs(httpUrl: string, token: string, device: string, metric: string, from: number, to: number) {
  const seqs: number[] = [];
  let queries = 0;
  let hi = to;
  for (;;) {
    const page = await queryReadings(httpUrl, token, device, metric, from, hi);
    queries++;
    if (!page.truncated) {
      for (const p of page.points) seqs.push(p.seq);
      break;
    }
    const oldest = Math.min(...page.points.map((p) => p.ts));
    for (const p of page.points) if (p.ts > oldest) seqs.push(p.seq);
    const tie = await queryReadings(httpUrl, token, device, metric, oldest, oldest);
    queries++;
    if (tie.truncated) throw new Error(`${device}: more than ${QUERY_LIMIT} ${metric} points at ts ${oldest}`);
    for (const p of tie.points) seqs.push(p.seq);
    if (oldest <= from) break;
    hi = oldest - 1;
  }
  return { seqs, queries };
}

// ---------------------------------------------------------------------------------------------
// The client harness, the same for both brokers

/** State of a message, by seq. */
const SENT = 1;
const ACKED_WARMUP = 2;
const ACKED_WINDOW = 3;
const ACKED_LATE = 4;
const FAILED = 5;

interface Conn {
  name: string;
  topic: string;
  client: MqttClient;
  /** The next seq to publish (seqs start at 0). */
  next: number;
  /** By seq: SENT, ACKED_*, FAILED. */
  state: number[];
  /** By seq: the reading's `ts`. */
  ts: number[];
  closing: boolean;
}

/** Error notices of the hub (`homeostat/v1/{id}/errors`): a refused message is acknowledged too. */
const refusals = { count: 0, first: undefined as string | undefined };
let disconnects = 0;

function deviceNames(n: number): string[] {
  const width = String(n).length;
  return Array.from({ length: n }, (_, i) => `ingest-${String(i + 1).padStart(width, '0')}`);
}

async function connectDevices(
  url: string,
  creds: readonly { name: string; password: string }[],
  cleanups: Cleanups,
): Promise<Conn[]> {
  const conns: Conn[] = [];
  cleanups.add('close the device connections', () => closeDevices(conns));
  await withDeadline(
    forEachLimited(creds, CONNECT_CONCURRENCY, async ({ name, password }) => {
      const client = await connectAsync(url, {
        clientId: name,
        username: name,
        password,
        protocolVersion: 4,
        clean: true,
        keepalive: 60,
        reconnectPeriod: 0,
        connectTimeout: 30_000,
      });
      const conn: Conn = { name, topic: topics.telemetry(name), client, next: 0, state: [], ts: [], closing: false };
      conns.push(conn);
      client.on('close', () => {
        if (!conn.closing) disconnects++;
      });
      client.on('error', () => {});
      const errors = topics.errors(name);
      client.on('message', (topic, payload) => {
        if (topic !== errors) return;
        refusals.count++;
        refusals.first ??= payload.toString('utf8').slice(0, 300);
      });
      await client.subscribeAsync(errors, { qos: 0 });
    }),
    CONNECT_DEADLINE_MS,
    `connecting ${creds.length} devices`,
  );
  return conns;
}

async function closeDevices(conns: readonly Conn[]): Promise<void> {
  await Promise.all(
    conns.map(async (c) => {
      if (c.closing) return;
      c.closing = true;
      await withDeadline(c.client.endAsync(), 10_000, `closing ${c.name}`).catch(() => c.client.end(true));
    }),
  );
}

interface DriveHooks {
  label: string;
  brokerPid: number;
  onWindowStart(): void;
  onWindowEnd(): void;
}

interface DriveResult {
  ackedInWindow: number;
  ackedTotal: number;
  failed: number;
  disconnects: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  brokerCpuPercent: number;
  brokerRssEnd: number;
  benchCpuPercent: number;
  benchLoopDelayP99Ms: number;
  /** CPU used by everything else on the machine during the window, % of one core. */
  otherCpuPercent: number;
}

function payloadOf(seq: number, ts: number, metrics: number): string {
  let body = '';
  for (let i = 0; i < metrics; i++) {
    const value = Math.round((20 + i * 10 + ((seq * (i + 7)) % 100) / 10) * 10) / 10;
    body += `${i === 0 ? '' : ','}"${METRIC_NAMES[i]}":${value}`;
  }
  return `{"seq":${seq},"ts":${ts},"metrics":{${body}}}`;
}

/**
 * Publishes from every connection, `inflight` messages outstanding each, for the warm-up and the
 * window; then waits for the PUBACKs still outstanding. PUBACKs are counted by when they arrive.
 */
async function drive(conns: readonly Conn[], flags: IngestFlags, hooks: DriveHooks): Promise<DriveResult> {
  const disconnectsBefore = disconnects;
  const latency: RecordableHistogram = createHistogram();
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  const brokerCpu = new CpuMeter(hooks.brokerPid);
  const benchCpu = new CpuMeter(process.pid);
  const start = performance.now();
  const t0 = start + flags.warmupS * 1000;
  const t1 = t0 + flags.seconds * 1000;
  let outstanding = 0;
  let ackedInWindow = 0;
  let ackedTotal = 0;
  let failed = 0;
  let firstError: string | undefined;
  let windowClosed = false;
  let drained!: () => void;
  const allAcked = new Promise<void>((resolve) => {
    drained = resolve;
  });

  const send = (c: Conn) => {
    const sentAt = performance.now();
    if (sentAt >= t1 || c.closing) return;
    const seq = c.next++;
    const ts = Date.now();
    c.state[seq] = SENT;
    c.ts[seq] = ts;
    outstanding++;
    c.client.publish(c.topic, payloadOf(seq, ts, flags.metrics), { qos: 1 }, (err) => {
      const at = performance.now();
      outstanding--;
      if (err) {
        c.state[seq] = FAILED;
        failed++;
        firstError ??= err.message;
      } else {
        ackedTotal++;
        if (at < t0) c.state[seq] = ACKED_WARMUP;
        else if (at < t1) {
          c.state[seq] = ACKED_WINDOW;
          ackedInWindow++;
          latency.record(Math.max(1, Math.round((at - sentAt) * 1000)));
        } else c.state[seq] = ACKED_LATE;
        send(c);
      }
      if (windowClosed && outstanding === 0) drained();
    });
  };

  const timers: NodeJS.Timeout[] = [];
  let brokerCpuPercent = 0;
  let benchCpuPercent = 0;
  let brokerRssEnd = 0;
  let otherCpuPercent = 0;
  /** Machine CPU minus the broker's and ours, in seconds. */
  const otherCpu = () => machineBusySeconds() - cpuSeconds(hooks.brokerPid) - cpuSeconds(process.pid);
  let other0 = 0;
  timers.push(
    setTimeout(() => {
      other0 = otherCpu();
      brokerCpu.start();
      benchCpu.start();
      loopDelay.enable();
      hooks.onWindowStart();
    }, t0 - start),
    setTimeout(() => {
      brokerCpuPercent = brokerCpu.percent();
      benchCpuPercent = benchCpu.percent();
      brokerRssEnd = rssBytes(hooks.brokerPid);
      otherCpuPercent = (100 * (otherCpu() - other0)) / flags.seconds;
      loopDelay.disable();
      windowClosed = true;
      hooks.onWindowEnd();
      if (outstanding === 0) drained();
    }, t1 - start),
  );
  let lastAcked = 0;
  let lastAt = start;
  const ticker = setInterval(() => {
    const now = performance.now();
    const phaseName = now < t0 ? 'warm-up' : 'window';
    progress(
      `${hooks.label}: ${phaseName}, ${Math.round(((ackedTotal - lastAcked) * 1000) / (now - lastAt))} acks/s` +
        (failed > 0 ? `, ${failed} publish errors (first: ${firstError})` : ''),
    );
    lastAcked = ackedTotal;
    lastAt = now;
  }, PROGRESS_MS);
  timers.push(ticker);

  try {
    for (const c of conns) for (let i = 0; i < flags.inflight; i++) send(c);
    await withDeadline(
      (async () => {
        await sleep(t1 - start);
        await allAcked;
      })(),
      t1 - start + DRAIN_DEADLINE_MS,
      `${hooks.label}: the window and the last PUBACKs`,
    );
  } finally {
    for (const t of timers) clearTimeout(t);
  }
  if (otherCpuPercent > OTHER_CPU_WARN_PERCENT) {
    progress(
      `${hooks.label}: other processes used ${otherCpuPercent.toFixed(0)} % of a core during the window: ` +
        'the figures of this run are disturbed',
    );
  }
  const pct = (p: number) => (latency.count > 0 ? round(latency.percentile(p) / 1000, 2) : 0);
  return {
    ackedInWindow,
    ackedTotal,
    failed,
    disconnects: disconnects - disconnectsBefore,
    p50Ms: pct(50),
    p99Ms: pct(99),
    maxMs: latency.count > 0 ? round(latency.max / 1000, 2) : 0,
    brokerCpuPercent,
    brokerRssEnd,
    benchCpuPercent,
    benchLoopDelayP99Ms: round(loopDelay.percentile(99) / 1e6, 1),
    otherCpuPercent,
  };
}
