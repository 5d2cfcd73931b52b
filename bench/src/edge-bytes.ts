// `edge-bytes`: bytes the demo fleet sends upstream over one simulated hour with injected
// anomalies, raw against the demo's edge aggregation (issue 3: "target 20 times fewer bytes and
// every injected anomaly still raised as an alarm"). docs/benchmarks.md explains the figures.
//
// Two runs of the same hour: the same fleet (planFleet, the demo mix, same seed), the same
// simulated start (a fixed winter night, so the weather is the same), the same anomalies at the
// same simulated times. Each run has its own hub process (fresh data) and its own fleet of real
// agents on a FakeClock, advanced one simulated second at a time as fast as the hub keeps up.
// The agents reach the hub through a counting proxy (mqtt-meter.ts): the bytes are those on the
// wire, MQTT framing included. Run 1 sends every reading (the demo's telemetry settings with mode
// raw), run 2 runs the demo's settings (1-minute summaries, raw for the first minute of an
// abnormal episode). Each injected anomaly must have raised its alarm in run 2, as read back from
// the hub's events API.

import { availableParallelism } from 'node:os';
import type { Agent } from '@homeostat/agent';
import { FakeClock } from '@homeostat/kit';
import type { TelemetrySettings } from '@homeostat/protocol';
import { DEMO_DESIRED, type PlannedDevice, planFleet, SimFleet, SimHardware } from '@homeostat/sim';
import { type Anomaly, planAnomalies } from './edge-anomalies.js';
import {
  BenchFailure,
  type Benchmark,
  type Cleanups,
  type Figures,
  intFlag,
  parseFlagValues,
  progress,
  round,
  sleep,
  UsageError,
  withDeadline,
} from './harness.js';
import { getJson, provisionDevices } from './hub-api.js';
import { startHubProcess } from './hub-process.js';
import { type Count, startMqttMeter } from './mqtt-meter.js';

/** 2026-01-15 02:00 UTC: a winter night (about 2 to 5 °C outside), the same for every run. */
const START_MS = Date.UTC(2026, 0, 15, 2, 0, 0);
const HOUR_S = 3600;
/** The demo's sampling and heartbeat periods, ms. */
const SAMPLE_MS = 1000;
const HEARTBEAT_MS = 1000;
/** The clock waits while the fleet's outboxes hold more than this per device (the hub keeps up). */
const BACKLOG_PER_DEVICE = 20;
const POLL_MS = 5;
const SETUP_TIMEOUT_MS = 60_000;
const DRAIN_TIMEOUT_MS = 300_000;
const STOP_TIMEOUT_MS = 30_000;
const TARGET_RATIO = 20;

const USAGE =
  '--devices N (default 20, the demo fleet) --seed N (default 1) ' +
  "--window-s S and --stats LIST (instead of the demo's 60 s and min,max,avg, to explore)";

interface EdgeFlags {
  devices: number;
  seed: number;
  windowS: number | undefined;
  stats: TelemetrySettings['stats'] | undefined;
}

function parseFlags(argv: readonly string[]): EdgeFlags {
  const values = parseFlagValues(argv, ['devices', 'seed', 'window-s', 'stats']);
  const stats = values.stats?.split(',');
  const known = ['min', 'max', 'avg', 'count', 'p95', 'last'];
  if (stats?.some((s) => !known.includes(s))) throw new UsageError(`--stats: a list of ${known.join(', ')}`);
  return {
    devices: intFlag('devices', values.devices, 20, 2, 1000),
    seed: intFlag('seed', values.seed, 1, 0, 2 ** 31 - 1),
    windowS: values['window-s'] === undefined ? undefined : intFlag('window-s', values['window-s'], 10, 1, 3600),
    stats: stats as TelemetrySettings['stats'],
  };
}

export const edgeBytesBenchmark: Benchmark = {
  summary: 'bytes upstream over a simulated hour with anomalies: raw against edge aggregation, alarms kept',
  usage: USAGE,
  run: (argv, cleanups) => runEdgeBytes(parseFlags(argv), cleanups),
};

type Mode = 'raw' | 'aggregate';

/** The demo's desired state of `kind`, with its telemetry in `mode` (and the window and stats of the flags). */
function desiredFor(kind: string, mode: Mode, flags: EdgeFlags): Record<string, unknown> {
  const desired = DEMO_DESIRED[kind] ?? {};
  const telemetry = desired.telemetry as TelemetrySettings | undefined;
  if (telemetry === undefined) return desired;
  return {
    ...desired,
    telemetry: {
      ...telemetry,
      mode,
      ...(flags.windowS !== undefined ? { window: { kind: 'tumbling', sizeMs: flags.windowS * 1000 } } : {}),
      ...(flags.stats !== undefined ? { stats: flags.stats } : {}),
    },
  };
}

/** Telemetry on the wire, told apart by its metric names: a summary's are `{metric}.{stat}`. */
function classify(kind: string, payload: Buffer): string {
  if (kind !== 'telemetry') return kind;
  return /"metrics":\{"[A-Za-z0-9_]+\./.test(payload.toString('utf8')) ? 'telemetry-summary' : 'telemetry-raw';
}

interface Alarm {
  device: string;
  code: string;
}

interface HourRun {
  upstream: Map<string, Count>;
  downstreamBytes: number;
  alarms: Alarm[];
  disconnects: number;
  refused: number;
  wallSeconds: number;
}

/** The demo's settings, as the pumps run them (every kind has the same window and stats). */
const demoPump = DEMO_DESIRED.pump?.telemetry as TelemetrySettings | undefined;

async function runEdgeBytes(flags: EdgeFlags, cleanups: Cleanups): Promise<Figures> {
  const plan = planFleet({ devices: flags.devices, seed: flags.seed, clockNow: () => START_MS });
  const anomalies = planAnomalies(plan);
  const figures: Figures = {
    devices: plan.length,
    seed: flags.seed,
    simSeconds: HOUR_S,
    simStart: new Date(START_MS).toISOString(),
    windowS: flags.windowS ?? (demoPump?.window?.sizeMs ?? 0) / 1000,
    stats: (flags.stats ?? demoPump?.stats ?? []).join(','),
    anomaliesInjected: anomalies.length,
    anomalies: anomalies.map((a) => `${a.device}: ${a.what} at ${a.atS} s -> ${a.alarm}`).join('; '),
    node: process.version,
    cpus: availableParallelism(),
  };
  const started = performance.now();
  const runs = {} as Record<Mode, HourRun>;
  try {
    for (const mode of ['raw', 'aggregate'] as const) {
      runs[mode] = await runHour(mode, plan, anomalies, flags, cleanups);
      Object.assign(figures, runFigures(mode === 'raw' ? 'raw' : 'agg', runs[mode], anomalies));
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new BenchFailure((err as Error).message, figures);
  }
  const raw = upstreamBytes(runs.raw.upstream);
  const agg = upstreamBytes(runs.aggregate.upstream);
  figures.ratio = round(raw / agg, 2);
  figures.telemetryRatio = round(
    bytesOf(runs.raw.upstream, TELEMETRY) / bytesOf(runs.aggregate.upstream, TELEMETRY),
    2,
  );
  figures.targetRatio = TARGET_RATIO;
  figures.targetMet = raw / agg >= TARGET_RATIO;
  figures.wallSeconds = round((performance.now() - started) / 1000, 1);
  progress(
    `raw ${raw} bytes, aggregated ${agg} bytes: ${figures.ratio}x fewer (target ${TARGET_RATIO}); ` +
      `${figures.aggMissedAnomalies} of ${anomalies.length} anomalies missed`,
  );
  const expected = plan.length * HOUR_S;
  const problems = [
    (figures.aggMissedAnomalies as number) > 0 ? `${figures.aggMissedAnomalies} anomalies raised no alarm` : '',
    figures.rawTelemetryRawMessages !== expected
      ? `raw run: ${figures.rawTelemetryRawMessages} readings on the wire, ${expected} expected`
      : '',
    runs.raw.refused + runs.aggregate.refused > 0 ? 'the hub refused messages' : '',
  ].filter(Boolean);
  if (problems.length > 0) throw new BenchFailure(problems.join('; '), figures);
  return figures;
}

const TELEMETRY = ['telemetry-raw', 'telemetry-summary'];

const bytesOf = (counts: Map<string, Count>, kinds: readonly string[]) =>
  kinds.reduce((sum, k) => sum + (counts.get(k)?.bytes ?? 0), 0);
const packetsOf = (counts: Map<string, Count>, kinds: readonly string[]) =>
  kinds.reduce((sum, k) => sum + (counts.get(k)?.packets ?? 0), 0);

/** Every byte device-to-hub but the heartbeats', which are reported apart. */
function upstreamBytes(counts: Map<string, Count>): number {
  return bytesOf(
    counts,
    [...counts.keys()].filter((k) => k !== 'heartbeat'),
  );
}

function runFigures(prefix: 'raw' | 'agg', run: HourRun, anomalies: readonly Anomaly[]): Figures {
  const c = run.upstream;
  const publishes = [...c.keys()].filter(
    (k) => !['heartbeat', 'connect', 'puback', 'subscribe', 'ping', 'disconnect'].includes(k),
  );
  const perAnomaly = anomalies.map((a) => run.alarms.filter((x) => x.device === a.device && x.code === a.alarm).length);
  const outside = run.alarms.filter((x) => !anomalies.some((a) => a.device === x.device && a.alarm === x.code));
  return {
    [`${prefix}Bytes`]: upstreamBytes(c),
    [`${prefix}Messages`]: packetsOf(c, publishes),
    [`${prefix}TelemetryBytes`]: bytesOf(c, TELEMETRY),
    [`${prefix}TelemetryRawBytes`]: bytesOf(c, ['telemetry-raw']),
    [`${prefix}TelemetryRawMessages`]: packetsOf(c, ['telemetry-raw']),
    [`${prefix}TelemetrySummaryMessages`]: packetsOf(c, ['telemetry-summary']),
    [`${prefix}EventBytes`]: bytesOf(c, ['events']),
    [`${prefix}OtherBytes`]: upstreamBytes(c) - bytesOf(c, [...TELEMETRY, 'events']),
    [`${prefix}HeartbeatBytes`]: bytesOf(c, ['heartbeat']),
    [`${prefix}HeartbeatMessages`]: packetsOf(c, ['heartbeat']),
    [`${prefix}DownstreamBytes`]: run.downstreamBytes,
    [`${prefix}AlarmsPerAnomaly`]: perAnomaly.join(','),
    [`${prefix}MissedAnomalies`]: perAnomaly.filter((n) => n === 0).length,
    [`${prefix}AlarmsOutsideAnomalies`]: outside.length,
    [`${prefix}AlarmsOutsideList`]: outside.map((x) => `${x.device} ${x.code}`).join(', '),
    [`${prefix}Disconnects`]: run.disconnects,
    [`${prefix}WallSeconds`]: round(run.wallSeconds, 1),
  };
}

/** One simulated hour of the fleet in `mode`, against a hub of its own. */
async function runHour(
  mode: Mode,
  plan: readonly PlannedDevice[],
  anomalies: readonly Anomaly[],
  flags: EdgeFlags,
  cleanups: Cleanups,
): Promise<HourRun> {
  const wallStart = performance.now();
  const hub = await startHubProcess();
  cleanups.add(`stop the ${mode} hub`, () => hub.stop(), hub.kill);
  progress(`${mode}: hub pid ${hub.pid}; provisioning ${plan.length} devices`);
  const tokens = await provisionDevices(
    hub.httpUrl,
    hub.adminToken,
    plan.map((d) => ({ name: d.name, labels: d.labels, desired: desiredFor(d.kind, mode, flags) })),
    8,
  );
  const meter = await startMqttMeter(hub.mqttUrl, classify);
  cleanups.add(`close the ${mode} meter`, () => meter.close());
  const clock = new FakeClock(START_MS);
  const fleet = new SimFleet({
    hubUrl: meter.url,
    devices: flags.devices,
    seed: flags.seed,
    dataDir: null,
    clock,
    sampleMs: SAMPLE_MS,
    heartbeatMs: HEARTBEAT_MS,
    provisioning: { kind: 'credentials', provide: async (d) => ({ id: d.name, token: tokens.get(d.name)! }) },
  });
  const stopFleet = () => stopOnFakeClock(fleet, clock);
  cleanups.add(`stop the ${mode} fleet`, stopFleet);
  await fleet.start();
  let disconnects = 0;
  let refused = 0;
  for (const agent of fleet.agents) {
    agent.events.on('disconnected', () => disconnects++);
    agent.events.on('error-notice', (n) => {
      if (refused++ === 0) progress(`${mode}: the hub refused a message: ${n.code} ${n.message}`);
    });
  }
  await withDeadline(desiredApplied(hub.httpUrl, hub.adminToken, plan, fleet.agents), SETUP_TIMEOUT_MS, 'setup');

  // The hour, one simulated second at a time; anomalies injected at their simulated second.
  const hardware = new Map(fleet.devices.map((d) => [d.name, d.hardware]));
  const backlog = () => fleet.agents.reduce((sum, a) => sum + a.outboxSize, 0);
  for (let s = 0; s < HOUR_S; s++) {
    for (const a of anomalies) {
      const hw = hardware.get(a.device);
      if (!(hw instanceof SimHardware)) throw new Error(`${a.device}: not simulated hardware`);
      if (a.atS === s) hw.inject(a.fault, clock.now());
      if (a.clearAtS === s) hw.clear(a.fault.type, clock.now());
    }
    await clock.advance(1000);
    while (backlog() > BACKLOG_PER_DEVICE * plan.length) await sleep(POLL_MS);
    if ((s + 1) % 600 === 0) progress(`${mode}: ${(s + 1) / 60} simulated minutes`);
  }
  await withDeadline(
    (async () => {
      while (backlog() > 0 || fleet.connectedCount < plan.length) await sleep(POLL_MS * 4);
    })(),
    DRAIN_TIMEOUT_MS,
    'draining the outboxes',
  );
  // Every entry left an outbox on its PUBACK, which the hub sends after storing: all is in.
  const upstream = meter.upstream();
  const downstreamBytes = meter.downstreamBytes();
  const alarms = await deviceAlarms(hub.httpUrl, hub.adminToken);
  const hourDisconnects = disconnects;
  await stopFleet();
  await meter.close();
  await hub.stop();
  const wallSeconds = (performance.now() - wallStart) / 1000;
  progress(`${mode}: done in ${wallSeconds.toFixed(1)} s, ${alarms.length} alarms`);
  return { upstream, downstreamBytes, alarms, disconnects: hourDisconnects, refused, wallSeconds };
}

/** Waits until every device has connected and reported its desired state applied. */
async function desiredApplied(
  httpUrl: string,
  token: string,
  plan: readonly PlannedDevice[],
  agents: readonly Agent[],
): Promise<void> {
  const waiting = new Set(plan.map((d) => d.name));
  while (waiting.size > 0) {
    await sleep(100);
    if (agents.some((a) => !a.connected)) continue;
    for (const name of [...waiting]) {
      const d = (await getJson(httpUrl, token, `/api/v1/devices/${name}`)) as {
        twin: { desired: { version: number }; reported: { desiredVersion: number | null } };
      };
      if (d.twin.reported.desiredVersion === d.twin.desired.version) waiting.delete(name);
    }
  }
}

/** The alarms devices raised, from the hub's event log. */
async function deviceAlarms(httpUrl: string, token: string): Promise<Alarm[]> {
  const out: Alarm[] = [];
  let after = 0;
  for (;;) {
    const page = (await getJson(httpUrl, token, `/api/v1/events?type=alarm&after=${after}&limit=1000`)) as {
      items: { id: number; device: string | null; source: string; code: string | null }[];
    };
    for (const e of page.items) {
      if (e.source === 'device' && e.device !== null) out.push({ device: e.device, code: e.code ?? '' });
    }
    if (page.items.length < 1000) return out;
    after = page.items.at(-1)!.id;
  }
}

/** Stops the fleet; its agents wait for their DISCONNECT on the fake clock, which must move meanwhile. */
async function stopOnFakeClock(fleet: SimFleet, clock: FakeClock): Promise<void> {
  let stopped = false;
  const stopping = fleet.stop().finally(() => {
    stopped = true;
  });
  await withDeadline(
    (async () => {
      while (!stopped) {
        await clock.advance(500);
        await sleep(20);
      }
      await stopping;
    })(),
    STOP_TIMEOUT_MS,
    'stopping the fleet',
  );
}
