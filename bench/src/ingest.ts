// `ingest`: N device connections publish QoS 1 telemetry as fast as a fixed window of in-flight
// messages allows, to a bare broker (aedes, the broker the hub embeds, with no hub work: the raw
// forwarding rate) and to the real hub, in alternating windows; the figure is the hub's rate of
// readings stored and queryable through its API, divided by the raw rate measured in the same
// run. This is the design target "telemetry ingest, MQTT to stored and queryable, at least 0.8 of
// the raw forwarding rate of the same broker". docs/benchmarks.md explains the figures.
//
// Both measurements use the same client harness: mqtt.js connections made here (not the agent,
// whose outbox would be measured too), one reading per message, `--inflight` messages outstanding
// per connection (the next is published when a PUBACK comes back). Each window is `--warmup-s`
// seconds of warm-up, then `--seconds` seconds counted. `--rounds` rounds of one window on each
// broker, in the order raw-hub, hub-raw, raw-hub…: the speed of these shared machines drifts by
// tens of percent within a minute, and alternating short windows puts both brokers under the same
// drift. Both brokers run in child processes of their own, so their CPU and memory are their own;
// the one not measured is idle. The hub is used through its public interfaces only: the CLI,
// POST /api/v1/devices for the tokens, MQTT for the load, GET .../telemetry to check what was stored
// (and /metrics for information).
//
// This file reads the flags and runs the windows; the parts live beside it: `ingest-load.ts` (the
// client harness and its counters), `ingest-raw.ts` (the raw side, with `raw-broker-process.ts`
// starting the broker), `ingest-hub.ts` (the hub side) and `ingest-verify.ts` (the read-back of
// what the hub stored).

import { availableParallelism } from 'node:os';
import {
  BenchFailure,
  type Benchmark,
  type Cleanups,
  type Figures,
  intFlag,
  parseFlagValues,
  progress,
  round,
  UsageError,
} from './harness.js';
import { PROFILED_STOP_GRACE_MS } from './hub-process.js';
import { openHub } from './ingest-hub.js';
import { drive, type LoadOptions, METRIC_NAMES, OTHER_CPU_WARN_PERCENT, type Side } from './ingest-load.js';
import { type BrokerStart, openRaw } from './ingest-raw.js';

/** Wait for a broker process to exit after SIGTERM, in ms. */
const STOP_GRACE_MS = 20_000;

const USAGE =
  '--devices N (default 50) --inflight N (messages outstanding per connection, default 32) ' +
  '--rounds N (one window on each broker per round, default 4) ' +
  '--seconds S (measured per window, default 5) --warmup-s S (per window, default 2) --metrics N (values per reading, 1 to 16, default 2) ' +
  '--hub-cpu-prof DIR --raw-cpu-prof DIR --semi-space-mb MB (both brokers under --max-semi-space-size)';

interface IngestFlags extends LoadOptions {
  rounds: number;
  hubCpuProf: string | undefined;
  rawCpuProf: string | undefined;
  /** V8's young generation for both brokers, MiB; undefined: Node's default. */
  semiSpaceMb: number | undefined;
}

function parseFlags(argv: readonly string[]): IngestFlags {
  const values = parseFlagValues(argv, [
    'devices',
    'inflight',
    'rounds',
    'seconds',
    'warmup-s',
    'metrics',
    'hub-cpu-prof',
    'raw-cpu-prof',
    'semi-space-mb',
  ]);
  return {
    devices: intFlag('devices', values.devices, 50, 1, 10_000),
    inflight: intFlag('inflight', values.inflight, 32, 1, 1000),
    rounds: intFlag('rounds', values.rounds, 4, 1, 100),
    seconds: intFlag('seconds', values.seconds, 5, 1, 600),
    warmupS: intFlag('warmup-s', values['warmup-s'], 2, 0, 60),
    metrics: intFlag('metrics', values.metrics, 2, 1, METRIC_NAMES.length),
    hubCpuProf: values['hub-cpu-prof'],
    rawCpuProf: values['raw-cpu-prof'],
    semiSpaceMb:
      values['semi-space-mb'] === undefined ? undefined : intFlag('semi-space-mb', values['semi-space-mb'], 0, 1, 1024),
  };
}

export const ingestBenchmark: Benchmark = {
  summary: 'QoS 1 telemetry as fast as N devices send it: hub readings stored per second / raw aedes rate',
  usage: USAGE,
  run: (argv, cleanups) => runIngest(parseFlags(argv), cleanups),
};

async function runIngest(flags: IngestFlags, cleanups: Cleanups): Promise<Figures> {
  // Filled in as the run goes, so a run that fails still reports how far it got.
  const figures: Figures = {
    devices: flags.devices,
    inflight: flags.inflight,
    rounds: flags.rounds,
    seconds: flags.seconds,
    warmupSeconds: flags.warmupS,
    metrics: flags.metrics,
    ...(flags.semiSpaceMb === undefined ? {} : { semiSpaceMb: flags.semiSpaceMb }),
    node: process.version,
    cpus: availableParallelism(),
  };
  try {
    progress(
      `ingest: ${flags.devices} devices, ${flags.inflight} in flight each, ${flags.metrics} metrics per reading, ` +
        `${flags.rounds} rounds of ${flags.warmupS} s warm-up + ${flags.seconds} s measured on each broker`,
    );
    const raw = await openRaw(flags, brokerStart(flags.rawCpuProf, flags.semiSpaceMb), cleanups);
    const hub = await openHub(flags, brokerStart(flags.hubCpuProf, flags.semiSpaceMb), cleanups);
    const roundRatios: number[] = [];
    for (let r = 0; r < flags.rounds; r++) {
      const order: Side[] = r % 2 === 0 ? [raw, hub] : [hub, raw];
      for (const side of order) {
        side.windows.push(await drive(side.devices, flags, side.hooks));
        await side.settle();
      }
      const acked = (side: Side) => side.windows[side.windows.length - 1]!.ackedInWindow;
      roundRatios.push(round(acked(hub) / acked(raw), 3));
      progress(`round ${r + 1} of ${flags.rounds}: PUBACKs hub / raw ${roundRatios[r]}`);
    }
    figures.roundAckedRatios = roundRatios.join(' ');
    const rawRate = raw.finish(figures);
    const hubRates = await hub.finish(figures);
    figures.ratio = round(hubRates.storedPerSec / rawRate.ackedPerSec, 3);
    // Other work on the machine slows one broker's windows and not the other's: such a ratio means little.
    figures.disturbed =
      Number(figures.rawOtherCpuPercent) > OTHER_CPU_WARN_PERCENT ||
      Number(figures.hubOtherCpuPercent) > OTHER_CPU_WARN_PERCENT;
    figures.ackedRatio = round(hubRates.ackedPerSec / rawRate.ackedPerSec, 3);
    progress(
      `raw ${Math.round(rawRate.ackedPerSec)} msgs/s, hub ${Math.round(hubRates.ackedPerSec)} acked/s and ` +
        `${Math.round(hubRates.storedPerSec)} stored/s: ratio ${figures.ratio} (target 0.8)` +
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

/**
 * A broker's process, under `node --cpu-prof` when a profile directory is given, and with V8's
 * young generation set when `semiSpaceMb` is (the same for both brokers: the comparison stays fair).
 */
function brokerStart(cpuProfDir: string | undefined, semiSpaceMb: number | undefined): BrokerStart {
  const semi = semiSpaceMb === undefined ? [] : [`--max-semi-space-size=${semiSpaceMb}`];
  return cpuProfDir
    ? { nodeFlags: [...semi, '--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`], stopGraceMs: PROFILED_STOP_GRACE_MS }
    : { nodeFlags: semi, stopGraceMs: STOP_GRACE_MS };
}
