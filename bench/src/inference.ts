// The `inference` benchmark: latency of the pump's bearing-anomaly model (the generated ONNX file
// committed in packages/sim/models/) on windows of simulated pump readings, as the agent runs it
// at the edge and as the hub runs it for devices that cannot, measured in the same run and taking
// turns, plus the TypeScript reference of the same weights for comparison, and separately the
// network hop a hub-placed model adds (a reading's trip through an MQTT broker to the hub).
// Design target: edge p99 under 1 ms.

import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createHistogram, monitorEventLoopDelay, type RecordableHistogram } from 'node:perf_hooks';
import { HubModels } from '@homeostat/hub';
import { MemoryModelStore, OnnxRunner, ReferenceRunner, WindowScorer } from '@homeostat/inference';
import type { ModelConfig } from '@homeostat/protocol';
import { loadPumpModel, PUMP_INPUTS, PumpHardware, SAMPLE_MS } from '@homeostat/sim';
import { connectAsync } from 'mqtt';
import { type Benchmark, type Cleanups, type Figures, intFlag, parseFlagValues, progress, round } from './harness.js';
import { startRawBroker } from './raw-broker-process.js';

const USAGE = '[--runs N] [--warmup N] [--devices N] [--hop-messages N]';

interface InferenceFlags {
  runs: number;
  warmup: number;
  devices: number;
  hopMessages: number;
}

function parseFlags(argv: readonly string[]): InferenceFlags {
  const v = parseFlagValues(argv, ['runs', 'warmup', 'devices', 'hop-messages']);
  return {
    runs: intFlag('runs', v.runs, 20_000, 100, 10_000_000),
    warmup: intFlag('warmup', v.warmup, 2_000, 0, 1_000_000),
    devices: intFlag('devices', v.devices, 100, 1, 100_000),
    hopMessages: intFlag('hop-messages', v['hop-messages'], 2_000, 0, 1_000_000),
  };
}

export const inferenceBenchmark: Benchmark = {
  summary: 'edge inference latency of the generated pump model (p50, p99), and the same model placed in the hub',
  usage: USAGE,
  run: (argv, cleanups) => runInference(parseFlags(argv), cleanups),
};

const us = (h: RecordableHistogram, p: number) => round(h.percentile(p) / 1000, 1);

/** What the edge path records besides its wall time. */
interface EdgeDetail {
  /** The process's CPU time over each call, ns. */
  cpu: RecordableHistogram;
  /** Wall time of the calls during which the process was not preempted, ns. */
  unpreempted: RecordableHistogram;
  preempted: number;
}

/**
 * Times `fn` into `hist` (wall time, ns), unless still warming up. With `detail`, also the CPU
 * time over the call and whether the kernel preempted the process during it (an involuntary
 * context switch): on a busy machine a call's wall time also holds the time it waited for a core,
 * and these tell the model's own cost from that wait.
 */
async function timed(
  hist: RecordableHistogram,
  record: boolean,
  fn: () => Promise<unknown>,
  detail?: EdgeDetail,
): Promise<void> {
  const switches = detail ? process.resourceUsage().involuntaryContextSwitches : 0;
  const c0 = detail ? process.cpuUsage() : undefined;
  const start = process.hrtime.bigint();
  await fn();
  const ns = Math.max(1, Number(process.hrtime.bigint() - start));
  if (!record) return;
  hist.record(ns);
  if (detail && c0) {
    const used = process.cpuUsage(c0);
    detail.cpu.record(Math.max(1, (used.user + used.system) * 1000));
    if (process.resourceUsage().involuntaryContextSwitches === switches) detail.unpreempted.record(ns);
    else detail.preempted++;
  }
}

/** Linux CPU pressure: the share of the last 10 s in which some runnable task waited for a CPU. */
function cpuPressure(): number | null {
  try {
    const some = readFileSync('/proc/pressure/cpu', 'utf8').match(/^some avg10=([\d.]+)/m);
    return some ? Number(some[1]) : null;
  } catch {
    return null;
  }
}

async function runInference(flags: InferenceFlags, cleanups: Cleanups): Promise<Figures> {
  const model = loadPumpModel();
  const inputs = model.card.mean.length;
  progress(`model ${model.onnx.sha256.slice(0, 12)}…, ${model.onnx.bytes.length} bytes, ${inputs} inputs`);
  const figures: Figures = {
    model: model.onnx.sha256,
    modelBytes: model.onnx.bytes.length,
    inputs,
    runs: flags.runs,
    warmupRuns: flags.warmup,
    hubDevices: flags.devices,
    loadAverage1mStart: round(loadavg()[0]!, 2),
    cpuPressurePercentStart: cpuPressure(),
  };

  // Edge: the agent's runner and scorer, in process, on the windows its local streams hold.
  const t0 = performance.now();
  const edge = new OnnxRunner();
  await edge.load(model.onnx);
  figures.loadAndWarmupMs = round(performance.now() - t0, 1);
  figures.executionProviders = edge.executionProviders().join(',');
  const reference = new ReferenceRunner();
  await reference.load(model.cardBytes);
  // Hub: its HubModels, one session for the model, serving `devices` pumps whose readings arrive
  // in turn; each reading is scored over its device's last window (everyMs unset: every reading).
  const store = new MemoryModelStore();
  await store.put(model.onnx);
  const hub = new HubModels({ store, createRunner: () => new OnnxRunner() });
  const config: ModelConfig = {
    artifact: { sha256: model.onnx.sha256, size: model.onnx.bytes.length },
    inputs: PUMP_INPUTS,
    output: model.card.output,
  };
  const pumps = Array.from(
    { length: flags.devices },
    (_, d) =>
      new PumpHardware({ seed: 1000 + d, initialWear: (d % 10) / 10, wearPerRunHour: 0, speed: 0.5 + (d % 6) / 10 }),
  );
  for (let d = 0; d < flags.devices; d++) await hub.place(`pump-${d}`, 'bearing', config);

  // The edge device's own stream: a window of the last readings of pump 0, per metric.
  const perWindow = PUMP_INPUTS.windowMs / SAMPLE_MS;
  const edgeWindow: Record<string, number[]> = Object.fromEntries(PUMP_INPUTS.metrics.map((m) => [m, []]));
  const edgeScorer = new WindowScorer(edge, PUMP_INPUTS);
  const referenceScorer = new WindowScorer(reference, PUMP_INPUTS);
  const edgePump = new PumpHardware({ seed: 999, initialWear: 0.3, wearPerRunHour: 0 });
  const hist = { edge: createHistogram(), hub: createHistogram(), reference: createHistogram() };
  const edgeDetail: EdgeDetail = { cpu: createHistogram(), unpreempted: createHistogram(), preempted: 0 };
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  let emptyWindows = 0;
  // The three take turns, one reading each, so they share the machine's noise; warm-up excluded
  // (and the first window of every hub device is filled during it).
  const total = Math.max(flags.warmup, flags.devices * perWindow) + flags.runs;
  for (let i = 0; i < total; i++) {
    const record = i >= total - flags.runs;
    const ts = i * SAMPLE_MS;
    const reading = edgePump.sample(ts);
    for (const m of PUMP_INPUTS.metrics) {
      const values = edgeWindow[m]!;
      values.push(reading[m]!);
      if (values.length > perWindow) values.shift();
    }
    const valuesOf = (m: string) => edgeWindow[m]!;
    await timed(hist.edge, record, () => edgeScorer.score(valuesOf), edgeDetail);
    await timed(hist.reference, record, () => referenceScorer.score(valuesOf));
    const d = i % flags.devices;
    // Each hub device reads once a second: its readings are `devices` loop turns apart.
    const hubTs = Math.floor(i / flags.devices) * SAMPLE_MS;
    const hubReading = pumps[d]!.sample(hubTs);
    await timed(hist.hub, record, async () => {
      if ((await hub.onReading(`pump-${d}`, hubTs, hubReading)).length === 0) emptyWindows++;
    });
    if (i > 0 && i % 10_000 === 0) progress(`${i} of ${total} readings`);
  }
  loop.disable();

  // The runner alone on a ready row: the rest of `edge` is building the row from the window.
  const row = { features: { data: new Float32Array(inputs), dims: [1, inputs] } };
  const runOnly = createHistogram();
  for (let i = 0; i < flags.warmup + flags.runs; i++) await timed(runOnly, i >= flags.warmup, () => edge.run(row));
  await edge.dispose();
  await reference.dispose();
  await hub.close();

  for (const [name, h] of Object.entries(hist)) {
    figures[`${name}P50Us`] = us(h, 50);
    figures[`${name}P99Us`] = us(h, 99);
    figures[`${name}MaxUs`] = us(h, 100);
  }
  figures.edgeCpuP50Us = us(edgeDetail.cpu, 50);
  figures.edgeCpuP99Us = us(edgeDetail.cpu, 99);
  figures.edgePreemptedPercent = round((100 * edgeDetail.preempted) / flags.runs, 2);
  figures.edgeUnpreemptedP50Us = us(edgeDetail.unpreempted, 50);
  figures.edgeUnpreemptedP99Us = us(edgeDetail.unpreempted, 99);
  figures.hubEmptyWindows = emptyWindows;
  figures.edgeRunOnlyP50Us = us(runOnly, 50);
  figures.edgeRunOnlyP99Us = us(runOnly, 99);
  figures.edgeP99UnderTarget = (figures.edgeP99Us as number) < 1000;
  figures.benchLoopDelayP99Ms = round(loop.percentile(99) / 1e6, 1);
  if (flags.hopMessages > 0) Object.assign(figures, await measureHop(flags.hopMessages, cleanups));
  figures.loadAverage1mEnd = round(loadavg()[0]!, 2);
  figures.cpuPressurePercentEnd = cpuPressure();
  progress(
    `edge p50 ${figures.edgeP50Us} µs p99 ${figures.edgeP99Us} µs; hub p50 ${figures.hubP50Us} µs ` +
      `p99 ${figures.hubP99Us} µs; reference p50 ${figures.referenceP50Us} µs p99 ${figures.referenceP99Us} µs`,
  );
  return figures;
}

/**
 * What a hub-placed model adds before it can score: the reading's trip from the device to the hub.
 * Measured on loopback through the broker the hub embeds (aedes, in a child process), one QoS 1
 * telemetry message at a time, from the device's publish to the hub's subscriber receiving it.
 */
async function measureHop(messages: number, cleanups: Cleanups): Promise<Figures> {
  const broker = await startRawBroker([], 10_000);
  cleanups.add('stop the raw broker', () => broker.stop(), broker.kill);
  const device = await connectAsync(broker.url, { clientId: 'pump-0', reconnectPeriod: 0 });
  const hubClient = await connectAsync(broker.url, { clientId: 'hub', reconnectPeriod: 0 });
  cleanups.add('close the MQTT clients', async () => {
    await device.endAsync(true);
    await hubClient.endAsync(true);
  });
  const topic = 'homeostat/v1/pump-0/telemetry';
  await hubClient.subscribeAsync(topic, { qos: 1 });
  const hop = createHistogram();
  let arrived: (() => void) | null = null;
  hubClient.on('message', () => arrived?.());
  const warmup = Math.min(200, messages);
  for (let i = 0; i < warmup + messages; i++) {
    const payload = JSON.stringify({
      seq: i + 1,
      ts: i * SAMPLE_MS,
      metrics: { vibration: 1.2, flow: 30, speed: 0.8 },
    });
    const got = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    await timed(hop, i >= warmup, async () => {
      await device.publishAsync(topic, payload, { qos: 1 });
      await got;
    });
  }
  progress(`network hop to the hub: p50 ${us(hop, 50)} µs, p99 ${us(hop, 99)} µs`);
  return { hopMessages: messages, hopP50Us: us(hop, 50), hopP99Us: us(hop, 99), hopMaxUs: us(hop, 100) };
}
