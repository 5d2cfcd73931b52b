// `worn-bearing`: a pump whose drive-end bearing wears out, on the simulator's time scale (×600:
// ten simulated minutes a second, a sample a simulated minute). The demo's `pump-condition`
// deployment puts the edge ONNX model `pump-bearing-anomaly` and its alarm rule on it; the alarm
// reaches the hub, whose `pump-bearing-wear` policy slows the pump and writes a work order with
// the device's history. Scored: the wear and the simulated hours left before the bearing would have
// seized at its old speed when the hub decided, and whether it did not seize by then.

import { Readable } from 'node:stream';
import type { ModuleSpec } from '@homeostat/protocol';
import {
  DEMO_DESIRED,
  DEVICE_LOOP_POLICIES,
  demoDeployments,
  loadPumpModel,
  PumpHardware,
  SimTime,
} from '@homeostat/sim';
import { sleep } from './harness.js';
import { type Decision, doneActions, pollUntil, type Rig, type Scorecard } from './scenarios-rig.js';

/** Simulated seconds per wall second, and the agent's sampling period (one a simulated minute). */
const TIME_SCALE = 600;
const SAMPLE_MS = 100;
/** The demo's model windows count samples of one a second: 30 samples here, a tenth of the wall time. */
const SAMPLES_PER_DEMO_SECOND = 1000 / SAMPLE_MS;
const START_WEAR = 0.3;
/** Wear per running hour at full speed: at 0.8, from 0.3 to seized in 3.5 simulated hours (21 s). */
const WEAR_PER_RUN_HOUR = 0.25;
const START_SPEED = 0.8;
const HOUR_MS = 3_600_000;

/** The demo's pump deployment on this time scale: rules scaled, the model's windows in samples. */
function pumpDeployment(): { name: string; request: ReturnType<typeof demoDeployments>[number]['request'] } {
  const deployed = demoDeployments(loadPumpModel(), { timeScale: TIME_SCALE });
  const pump = deployed.find((d) => d.name === 'pump-condition');
  if (!pump) throw new Error('scenario: the demo has no pump-condition deployment');
  const modules = pump.request.spec.modules.map((m): ModuleSpec => {
    if (m.kind !== 'model') return m;
    const { inputs, everyMs = 5000 } = m.config;
    const windowMs = inputs.windowMs / SAMPLES_PER_DEMO_SECOND;
    return {
      ...m,
      config: { ...m.config, inputs: { ...inputs, windowMs }, everyMs: everyMs / SAMPLES_PER_DEMO_SECOND },
    };
  });
  return { name: pump.name, request: { ...pump.request, spec: { ...pump.request.spec, modules } } };
}

export async function wornBearing(rig: Rig): Promise<Scorecard> {
  const model = loadPumpModel();
  await rig.blob(model.onnx.sha256, Readable.from([Buffer.from(model.onnx.bytes)]));
  const deployment = pumpDeployment();
  await rig.api('PUT', `/api/v1/deployments/${deployment.name}`, deployment.request);
  const name = 'pump-01';
  const token = await rig.device(
    name,
    { site: 'plant', model: 'pm-400' },
    { ...DEMO_DESIRED.pump, ...DEVICE_LOOP_POLICIES.pump },
  );
  const startAt = Date.now();
  const pump = new PumpHardware({
    time: new SimTime({ originMs: startAt, timeScale: TIME_SCALE }),
    seed: 7,
    initialWear: START_WEAR,
    wearPerRunHour: WEAR_PER_RUN_HOUR,
    speed: START_SPEED,
  });
  await rig.agent(name, token, pump, null, {
    apiUrl: rig.httpUrl,
    sampleMs: SAMPLE_MS,
    executionProviders: () => ['cpu'],
  });
  // Its speed setting as it stands (an empty desired state changes nothing).
  const speedNow = () => Number(pump.applyDesired({}, Date.now()).speed);
  // Watched every 5 ms: when the pump first runs slower, and whether its bearing seizes.
  let slowedAt: number | null = null;
  let seizedAt: number | null = null;
  const watch = setInterval(() => {
    const now = Date.now();
    if (slowedAt === null && speedNow() < START_SPEED) slowedAt = now;
    if (seizedAt === null && pump.failed) seizedAt = now;
  }, 5);
  // Seizure at the old speed, in wall ms from now, for the pump as it stands.
  const seizesInMs = (wear: number) => ((1 - wear) / (WEAR_PER_RUN_HOUR * START_SPEED)) * (HOUR_MS / TIME_SCALE);
  let decided: { at: number; value: { d: Decision; wear: number } };
  try {
    decided = await pollUntil(
      async () => {
        if (seizedAt !== null) throw new Error('scenario: the bearing seized before the hub decided');
        const [d] = await rig.decisions(`?device=${name}&policy=pump-bearing-wear`);
        return d ? { d, wear: pump.wear } : null;
      },
      seizesInMs(START_WEAR) + 10_000,
      'the bearing-wear decision',
    );
    await pollUntil(async () => slowedAt !== null, 10_000, 'the pump slowed');
    // Watch it run past the time it would have seized at its old speed, and a tenth more.
    await sleep(1.1 * seizesInMs(decided.value.wear));
  } finally {
    clearInterval(watch);
  }
  const wearAtDetect = decided.value.wear;
  const decidedAt = decided.value.d.createdAt;
  const d: Decision = (await rig.decisions(`?device=${name}&policy=pump-bearing-wear`))[0] ?? decided.value.d;
  const orders = (await rig.api('GET', `/api/v1/incidents?device=${name}`)).items as {
    type: string;
    id: string;
    history?: { events?: unknown[]; reported?: unknown };
  }[];
  const order = orders.find((i) => i.type === 'work-order');
  const historyEvents = order?.history?.events?.length ?? 0;
  const alarm = (await rig.events(name)).find((e) => e.code === 'BEARING_WEAR');
  const hoursLeft = (seizesInMs(wearAtDetect) * TIME_SCALE) / HOUR_MS;
  const all = await rig.decisions();
  const kept =
    alarm !== undefined &&
    slowedAt !== null &&
    seizedAt === null &&
    historyEvents > 0 &&
    order?.history?.reported !== undefined;
  return {
    scenario: 'worn-bearing',
    degrees: 'self-healing=act',
    clock: `real, sim ×${TIME_SCALE}`,
    // From the pump's start with a worn bearing (already past what the model learnt as healthy) to
    // the hub's decision; then to the pump running slower.
    detectMs: decidedAt - startAt,
    mitigateMs: slowedAt === null ? null : slowedAt - decidedAt,
    actions: doneActions([d]),
    escalations: all.filter((x) => x.state === 'escalated').length,
    wrongActions: all.filter((x) => x.policy !== 'pump-bearing-wear').length,
    goalKept: kept && ['succeeded', 'verified'].includes(d.state),
    notes:
      `edge model's BEARING_WEAR ${alarm ? 'raised' : 'MISSING'}; hub decided at wear ${wearAtDetect.toFixed(2)}, ${hoursLeft.toFixed(1)} simulated h ` +
      `before it would have seized at speed ${START_SPEED}; slowed to ${speedNow()} and ${seizedAt === null ? 'not seized' : 'SEIZED'} by then ` +
      `(wear ${pump.wear.toFixed(2)}); work order ${order?.id ?? 'missing'} with ${historyEvents} events of history; decision ${d.state}`,
    figures: {
      wearAtDetect: round(wearAtDetect),
      hoursBeforeSeizure: round(hoursLeft),
      workOrderEvents: historyEvents,
    },
  };
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
