// `rollout` and `bad-update`: a signed release rolled out by the hub's rollout controller to N
// simulated devices (the real agent, through SimFleet, in this process) against a hub process.
// `rollout` ships a good release and times the rollout, wave by wave, with the hub's CPU and
// memory; `bad-update` ships a release that fails its probe on every device and measures the share
// of the fleet that installed it before the rollout halted, and the time until every such device
// runs the old version again. docs/benchmarks.md explains the figures and the strategy chosen.
//
// The keys, the signature and the push go through the real CLI (`keys init`, `artifacts sign`,
// `artifacts push`); the devices are created through the API with the trusted-keys list in their
// desired `trust` and provisioned with the root public key, as a factory would.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FirmwareHealth, firmwareImage } from '@homeostat/agent';
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
import { getJson, provisionDevices, sample, scrapeMetrics } from './hub-api.js';
import { type HubProcess, REPO_ROOT, startHubProcess } from './hub-process.js';
import { CpuMeter, rssBytes } from './proc.js';

const CLI = join(REPO_ROOT, 'packages/cli/dist/main.js');
const SEED = 1;
const FIRMWARE = 'sim-fw';
const MODELS = ['th-100', 'ht-200', 'mw-300', 'pm-400'];
/** Heartbeats every 5 s: the fleet is alive, and the load measured is the rollout's. */
const HEARTBEAT_MS = 5000;
const POLL_MS = 250;
/** Agents started per second. */
const CONNECT_PER_S = 400;
/**
 * The probe, scaled down from a field device's minutes: the new version is judged after 2 s up
 * (link back, modules started), and has 10 s to pass before it is rolled back.
 */
const PROBE = { windowMs: 10_000, everyMs: 500, minUpMs: 2000 };
/**
 * A canary of 10, then 1 %, 10 %, 50 % and every device, each wave soaking 2 s (scaled down from
 * minutes) behind the gates: 90 % install success and no more alarms per device than twice the
 * devices not yet updated. maxUnavailable is high (half the fleet) so a wave is not throttled by
 * it: on a healthy fleet the gates and the abort criterion, not the pace, are the safety.
 */
const strategy = (n: number) => ({
  canary: 10,
  waves: [0.01, 0.1, 0.5, 1],
  maxUnavailable: Math.max(10, Math.floor(n / 2)),
  soakMs: 2000,
  deviceTimeoutMs: 120_000,
});
const GATES = { minSuccessRate: 0.9, behaviour: [{ signal: 'alarms', maxRatio: 2 }] };
const ABORT = { failureRate: 0.5, minDevices: 3 };

const USAGE =
  '--devices N (default 10000 for rollout, 1000 for bad-update) --deadline-s S (default 600) --hub-cpu-prof DIR --hub-heap-mb MB';

export const rolloutBenchmark: Benchmark = {
  summary: 'a good release rolled out to N devices in waves behind health gates: total and per-wave times',
  usage: USAGE,
  run: (argv, cleanups) => runRollout('ok', argv, cleanups, 10_000),
};

export const badUpdateBenchmark: Benchmark = {
  summary: 'a release failing its probe everywhere: share of the fleet that installed it, time back to the old version',
  usage: USAGE,
  run: (argv, cleanups) => runRollout('fail-probe', argv, cleanups, 1000),
};

async function runRollout(
  health: FirmwareHealth,
  argv: readonly string[],
  cleanups: Cleanups,
  defaultDevices: number,
): Promise<Figures> {
  const values = parseFlagValues(argv, ['devices', 'deadline-s', 'hub-cpu-prof', 'hub-heap-mb']);
  const n = intFlag('devices', values.devices, defaultDevices, 20, 50_000);
  const deadlineS = intFlag('deadline-s', values['deadline-s'], 600, 10, 7200);
  // With --hub-heap-mb, the hub runs under `--max-old-space-size`: what its memory takes on a budget.
  const heapMb =
    values['hub-heap-mb'] === undefined ? undefined : intFlag('hub-heap-mb', values['hub-heap-mb'], 0, 64, 65_536);
  const nodeFlags = [
    ...(values['hub-cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${values['hub-cpu-prof']}`] : []),
    ...(heapMb === undefined ? [] : [`--max-old-space-size=${heapMb}`]),
  ];
  const figures: Figures = {
    devices: n,
    release: health,
    probeWindowMs: PROBE.windowMs,
    probeMinUpMs: PROBE.minUpMs,
    strategy: JSON.stringify(strategy(n)),
    node: process.version,
    cpus: availableParallelism(),
    ...(heapMb === undefined ? {} : { hubHeapMb: heapMb }),
  };
  try {
    await measure(health, n, deadlineS, nodeFlags, cleanups, figures);
    return figures;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new BenchFailure((err as Error).message, figures);
  }
}

async function measure(
  health: FirmwareHealth,
  n: number,
  deadlineS: number,
  nodeFlags: string[],
  cleanups: Cleanups,
  figures: Figures,
) {
  // With --hub-cpu-prof, the hub writes a CPU profile to that directory when it stops.
  const hub = await startHubProcess({ nodeFlags });
  cleanups.add('stop the hub', () => hub.stop(), hub.kill);
  progress(`hub: pid ${hub.pid}, ${hub.httpUrl}`);
  const work = mkdtempSync(join(tmpdir(), 'homeostat-bench-rollout-'));
  cleanups.add('remove the keys', async () => rmSync(work, { recursive: true, force: true }));
  const { trust, rootKey } = release(hub, work, health);

  const plan = planFleet({ devices: n, seed: SEED, clockNow: () => Date.now() });
  const tokens = await provisionDevices(
    hub.httpUrl,
    hub.adminToken,
    plan.map((d) => ({ name: d.name, labels: d.labels, desired: { trust } })),
    32,
  );
  progress(`provisioned ${n} devices`);
  let paced = 0;
  const t0 = performance.now();
  const fleet = new SimFleet({
    hubUrl: hub.mqttUrl,
    apiUrl: hub.httpUrl,
    devices: n,
    seed: SEED,
    provisioning: {
      kind: 'credentials',
      // Paced: a storm of 10,000 connections at once overflowed the hub broker's stack (mqemitter)
      // in a first run; a fleet comes up over time, and the rollout, not the storm, is measured.
      provide: async (d) => {
        await sleep(Math.max(0, t0 + (paced++ * 1000) / CONNECT_PER_S - performance.now()));
        return { id: d.name, token: tokens.get(d.name) ?? '' };
      },
    },
    dataDir: null,
    heartbeatMs: HEARTBEAT_MS,
    sampleMs: 60_000,
    startConcurrency: 64,
    rootKey,
    firmware: { name: FIRMWARE, version: '1.0.0' },
    updateProbe: PROBE,
  });
  cleanups.add('stop the agents', () => withDeadline(fleet.stop(), 60_000, 'stopping the agents'));
  await withDeadline(
    (async () => {
      await fleet.start();
      while (sample(await scrapeMetrics(hub.httpUrl), 'homeostat_mqtt_connections') < n) await sleep(POLL_MS);
    })(),
    300_000,
    `connecting ${n} devices`,
  );
  progress(`${n} devices connected; settling 5 s`);
  await sleep(5000);

  const cpu = new CpuMeter(hub.pid);
  cpu.start();
  let rssMax = rssBytes(hub.pid);
  const rolloutStart = performance.now();
  const seconds = () => (performance.now() - rolloutStart) / 1000;
  const res = await fetch(`${hub.httpUrl}/api/v1/rollouts/fw`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      spec: {
        selector: '',
        artifact: { name: FIRMWARE, version: '1.1.0' },
        strategy: strategy(n),
        gates: GATES,
        abort: ABORT,
      },
    }),
  });
  if (res.status >= 300) throw new Error(`PUT rollout: ${res.status} ${await res.text()}`);
  await res.text();

  const waveDone: (number | null)[] = [];
  let finishedAt: number | null = null;
  let backAt: number | null = null;
  let status: RolloutStatus | null = null;
  let lastReport = 0;
  while (seconds() < deadlineS) {
    status = ((await getJson(hub.httpUrl, hub.adminToken, '/api/v1/rollouts/fw')) as { status: RolloutStatus }).status;
    rssMax = Math.max(rssMax, rssBytes(hub.pid));
    status.waves.forEach((w, i) => {
      if (waveDone[i] == null && w.targeted > 0 && w.succeeded + w.failed >= w.targeted) waveDone[i] = seconds();
    });
    const finished = status.phase === 'complete' || status.phase === 'halted';
    if (finished && finishedAt === null) finishedAt = seconds();
    const installed = status.waves.reduce((sum, w) => sum + w.started, 0);
    // Every device that installed the bad release went back by itself (its probe failed).
    if (status.phase === 'halted' && status.counts.updating === 0 && status.counts.rolledBack >= installed)
      backAt = seconds();
    if (seconds() - lastReport >= 5) {
      lastReport = seconds();
      const c = status.counts;
      progress(
        `${seconds().toFixed(0)} s: ${status.phase}, wave ${status.wave}, ${c.succeeded} succeeded, ${c.failed} failed, ${c.updating} updating`,
      );
    }
    if (status.phase === 'complete' || backAt !== null) break;
    await sleep(POLL_MS);
  }
  figures.hubCpuPercent = round(cpu.percent(), 1);
  figures.hubMaxRssMiB = round(rssMax / MiB, 1);
  if (status === null) throw new Error('no rollout status');
  const started = status.waves.reduce((sum, w) => sum + w.started, 0);
  Object.assign(figures, {
    phase: status.phase,
    succeeded: status.counts.succeeded,
    failed: status.counts.failed,
    rolledBack: status.counts.rolledBack,
    startedDevices: started,
    totalSeconds: finishedAt === null ? null : round(finishedAt, 1),
    waveSeconds: JSON.stringify(waveDone.map((s) => (s == null ? null : round(s, 1)))),
    waveSizes: JSON.stringify(status.waves.map((w) => w.targeted)),
    halt: status.halt === null ? null : status.halt.reason,
  });
  if (health === 'ok') {
    if (status.phase !== 'complete') throw new Error(`the rollout did not complete in ${deadlineS} s: ${status.phase}`);
  } else {
    figures.installedShare = round(started / n, 4);
    figures.installedPercent = round((100 * started) / n, 2);
    figures.secondsUntilAllBack = backAt === null ? null : round(backAt, 1);
    if (status.phase !== 'halted') throw new Error(`the rollout did not halt in ${deadlineS} s: ${status.phase}`);
    if (backAt === null) throw new Error('not every device that installed it went back within the deadline');
  }
  progress(`done: ${JSON.stringify(figures)}`);
}

interface RolloutStatus {
  phase: string;
  wave: number;
  counts: { succeeded: number; failed: number; rolledBack: number; updating: number };
  waves: { targeted: number; started: number; succeeded: number; failed: number }[];
  halt: { reason: string } | null;
}

/** Keys, a signed simulated firmware image of version 1.1.0, pushed: all through the CLI. */
function release(hub: HubProcess, dir: string, health: FirmwareHealth) {
  const env = { ...process.env, HOMEOSTAT_CONFIG: join(dir, 'config.json') };
  const cli = (...args: string[]) =>
    execFileSync(process.execPath, [CLI, ...args], { env, cwd: dir, encoding: 'utf8' });
  cli('keys', 'init', '--dir', join(dir, 'keys'));
  const trust = JSON.parse(readFileSync(join(dir, 'keys', 'trusted-keys.json'), 'utf8'));
  const rootKey = JSON.parse(readFileSync(join(dir, 'keys', 'root.pub.json'), 'utf8'));
  const file = join(dir, `${FIRMWARE}-1.1.0.json`);
  writeFileSync(file, firmwareImage(FIRMWARE, '1.1.0', health));
  const key = join(dir, 'keys', `signing-${trust.signed.keys[0].keyId}.key`);
  cli(
    'artifacts',
    'sign',
    file,
    '--name',
    FIRMWARE,
    '--version',
    '1.1.0',
    ...MODELS.flatMap((m) => ['--target-model', m]),
    '--key',
    key,
  );
  cli('login', '--server', hub.httpUrl, '--token', hub.adminToken);
  cli('artifacts', 'push', file);
  return { trust, rootKey };
}
