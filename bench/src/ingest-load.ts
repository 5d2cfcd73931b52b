// The client harness of the `ingest` benchmark, the same for both brokers: N mqtt.js connections
// (not the agent, whose outbox would be measured too), each publishing QoS 1 telemetry, one
// reading per message, with `inflight` messages outstanding (the next is published when a PUBACK
// comes back); a warm-up, then a counted window. It keeps the state of every message by seq, for
// the read-back check (`ingest-verify.ts`), and measures the broker's CPU, ours and the rest of the
// machine's over the window.

import { monitorEventLoopDelay, type RecordableHistogram } from 'node:perf_hooks';
import { topics } from '@homeostat/protocol';
import { connectAsync, type MqttClient } from 'mqtt';
import { type Cleanups, forEachLimited, progress, round, sleep, withDeadline } from './harness.js';
import { CpuMeter, cpuSeconds, machineBusySeconds, rssBytes } from './proc.js';

/** Connections opened at once. */
const CONNECT_CONCURRENCY = 32;
/** Deadline for opening all N connections, in ms. */
const CONNECT_DEADLINE_MS = 120_000;
/** Deadline for the PUBACKs still outstanding when the window closes, in ms. */
const DRAIN_DEADLINE_MS = 30_000;
/** Other processes using more than this share of a core during a window make a disturbed run, %. */
export const OTHER_CPU_WARN_PERCENT = 15;
const PROGRESS_MS = 2000;
/** Metric names of a reading: `--metrics N` takes the first N. */
export const METRIC_NAMES = [
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

/** What shapes the load: the flags of `ingest` that both phases share. */
export interface LoadOptions {
  devices: number;
  inflight: number;
  seconds: number;
  warmupS: number;
  metrics: number;
}

/** State of a message, by seq. */
export const SENT = 1;
export const ACKED_WARMUP = 2;
export const ACKED_WINDOW = 3;
export const ACKED_LATE = 4;
export const FAILED = 5;

export interface Conn {
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

/** One phase's connections, and what they saw besides PUBACKs. */
export interface Devices {
  conns: Conn[];
  /** Connections closed by the broker, not by us. */
  disconnects: number;
  /** Error notices of the hub (`homeostat/v1/{id}/errors`): a refused message is acknowledged too. */
  refused: number;
  firstRefusal: string | undefined;
}

export function deviceNames(n: number): string[] {
  const width = String(n).length;
  return Array.from({ length: n }, (_, i) => `ingest-${String(i + 1).padStart(width, '0')}`);
}

export async function connectDevices(
  url: string,
  creds: readonly { name: string; password: string }[],
  cleanups: Cleanups,
): Promise<Devices> {
  const devices: Devices = { conns: [], disconnects: 0, refused: 0, firstRefusal: undefined };
  const conns = devices.conns;
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
        if (!conn.closing) devices.disconnects++;
      });
      client.on('error', () => {});
      const errors = topics.errors(name);
      client.on('message', (topic, payload) => {
        if (topic !== errors) return;
        devices.refused++;
        devices.firstRefusal ??= payload.toString('utf8').slice(0, 300);
      });
      await client.subscribeAsync(errors, { qos: 0 });
    }),
    CONNECT_DEADLINE_MS,
    `connecting ${creds.length} devices`,
  );
  return devices;
}

export async function closeDevices(conns: readonly Conn[]): Promise<void> {
  await Promise.all(
    conns.map(async (c) => {
      if (c.closing) return;
      c.closing = true;
      await withDeadline(c.client.endAsync(), 10_000, `closing ${c.name}`).catch(() => c.client.end(true));
    }),
  );
}

export interface DriveHooks {
  label: string;
  brokerPid: number;
  onWindowStart(): void;
  onWindowEnd(): void;
  /** Publish-to-PUBACK latency over the window is recorded here (µs), across windows. */
  latency: RecordableHistogram;
}

export interface DriveResult {
  /** PUBACKs counted in the window, by the time they arrived. */
  ackedInWindow: number;
  ackedTotal: number;
  failed: number;
  disconnects: number;
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
export async function drive(devices: Devices, load: LoadOptions, hooks: DriveHooks): Promise<DriveResult> {
  const conns = devices.conns;
  const disconnectsBefore = devices.disconnects;
  const latency = hooks.latency;
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  const brokerCpu = new CpuMeter(hooks.brokerPid);
  const benchCpu = new CpuMeter(process.pid);
  const start = performance.now();
  const t0 = start + load.warmupS * 1000;
  const t1 = t0 + load.seconds * 1000;
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
    c.client.publish(c.topic, payloadOf(seq, ts, load.metrics), { qos: 1 }, (err) => {
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
      otherCpuPercent = (100 * (otherCpu() - other0)) / load.seconds;
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
    for (const c of conns) for (let i = 0; i < load.inflight; i++) send(c);
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
  return {
    ackedInWindow,
    ackedTotal,
    failed,
    disconnects: devices.disconnects - disconnectsBefore,
    brokerCpuPercent,
    brokerRssEnd,
    benchCpuPercent,
    benchLoopDelayP99Ms: round(loopDelay.percentile(99) / 1e6, 1),
    otherCpuPercent,
  };
}

/** What the windows of one broker add up to: counts summed, CPU averaged, the worst of the rest. */
export interface Windows extends DriveResult {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** One broker under the client harness, measured window after window (`ingest.ts` alternates them). */
export interface Side {
  hooks: DriveHooks;
  devices: Devices;
  windows: DriveResult[];
  /** Waits for what the end of a window started (the hub's check that its readings are queryable). */
  settle(): Promise<void>;
}

/** A side's windows added up, and the seconds they counted. */
export function sumWindows(side: Side, load: LoadOptions): Windows & { seconds: number } {
  const { windows } = side;
  const latency = side.hooks.latency;
  const sum = (f: (w: DriveResult) => number) => windows.reduce((n, w) => n + f(w), 0);
  const mean = (f: (w: DriveResult) => number) => (windows.length > 0 ? sum(f) / windows.length : 0);
  const max = (f: (w: DriveResult) => number) => windows.reduce((n, w) => Math.max(n, f(w)), 0);
  const pct = (p: number) => (latency.count > 0 ? round(latency.percentile(p) / 1000, 2) : 0);
  return {
    ackedInWindow: sum((w) => w.ackedInWindow),
    ackedTotal: sum((w) => w.ackedTotal),
    failed: sum((w) => w.failed),
    disconnects: sum((w) => w.disconnects),
    brokerCpuPercent: mean((w) => w.brokerCpuPercent),
    brokerRssEnd: windows[windows.length - 1]?.brokerRssEnd ?? 0,
    benchCpuPercent: mean((w) => w.benchCpuPercent),
    benchLoopDelayP99Ms: max((w) => w.benchLoopDelayP99Ms),
    otherCpuPercent: max((w) => w.otherCpuPercent),
    p50Ms: pct(50),
    p99Ms: pct(99),
    maxMs: latency.count > 0 ? round(latency.max / 1000, 2) : 0,
    seconds: load.seconds * windows.length,
  };
}
