// `crashed-module`: a deployment change brings a new version of a `function` module to three
// pumps; the new version assumes a running pump (it divides by the speed), so on the one pump on
// standby it throws at every sample and crash-loops. The hub's `module-crash-loop-rollback` policy
// (self-healing, `act` in the demo) rolls the change back on that pump only; the two running
// pumps keep the new version. Real clock: every figure is a latency.

import type { ModuleSpec } from '@homeostat/protocol';
import { DEMO_DESIRED, PumpHardware } from '@homeostat/sim';
import { sleep } from './harness.js';
import { doneActions, pollUntil, type Rig, type Scorecard } from './scenarios-rig.js';

const MODULE = 'flow-lpm';
const DEPLOYMENT = 'pump-flow';
const POLICY = 'module-crash-loop-rollback';

const flowModule = (source: string): ModuleSpec => ({
  name: MODULE,
  kind: 'function',
  config: { source, metrics: ['flow', 'speed'] },
  permissions: { metrics: ['flow', 'speed'] },
});
/** Version 1: the flow in litres a minute. */
const V1 = flowModule('function handle(s) { return { metrics: { flowLpm: (s.metrics.flow * 1000) / 60 } }; }');
/** Version 2 adds the flow per unit of speed, and throws when the pump stands still (0 / 0). */
const V2 = flowModule(
  [
    'function handle(s) {',
    '  const perSpeed = s.metrics.flow / s.metrics.speed;',
    "  if (!Number.isFinite(perSpeed)) throw new Error('flow per unit of speed is ' + perSpeed);",
    '  return { metrics: { flowLpm: (s.metrics.flow * 1000) / 60, flowPerSpeed: perSpeed } };',
    '}',
  ].join('\n'),
);

interface Reported {
  rev: string | null;
  state: string;
}

export async function crashedModule(rig: Rig): Promise<Scorecard> {
  const pumps = ['pump-11', 'pump-12', 'pump-13'];
  const standby = 'pump-13';
  for (const name of pumps) {
    const desired = { ...DEMO_DESIRED.pump, running: name !== standby };
    const token = await rig.device(name, { site: 'works', model: 'pm-400' }, desired);
    const pump = new PumpHardware({ seed: pumps.indexOf(name) + 1, running: name !== standby });
    await rig.agent(name, token, pump, null, { sampleMs: 100 });
  }
  const deploy = (spec: ModuleSpec) =>
    rig.api('PUT', `/api/v1/deployments/${DEPLOYMENT}`, { spec: { selector: 'model=pm-400', modules: [spec] } });
  const reported = async (name: string): Promise<Reported | undefined> =>
    (await rig.api('GET', `/api/v1/devices/${name}`)).twin.reported.state.modules?.[MODULE];
  const desiredRev = async (name: string): Promise<string> =>
    (await rig.api('GET', `/api/v1/devices/${name}`)).twin.desired.state.modules[MODULE].rev;
  const allAt = (rev: string) => async () => {
    for (const name of pumps) {
      const r = await reported(name);
      if (r?.rev !== rev || r.state !== 'running') return false;
    }
    return true;
  };

  await deploy(V1);
  const v1 = await pollUntil(async () => desiredRev(pumps[0] as string), 5000, 'version 1 written');
  await pollUntil(allAt(v1.value), 15_000, 'version 1 running on every pump');

  // The deployment change.
  const changedAt = Date.now();
  await deploy(V2);
  const v2 = (await pollUntil(async () => (await desiredRev(standby)) !== v1.value && desiredRev(standby), 5000, 'v2'))
    .value;
  const decided = await pollUntil(
    async () => (await rig.decisions(`?device=${standby}&policy=${POLICY}`))[0],
    20_000,
    'the rollback decision',
  );
  const healthy = await pollUntil(
    async () => {
      const r = await reported(standby);
      return r?.rev === v1.value && r.state === 'running';
    },
    15_000,
    `${MODULE} running its earlier version on ${standby}`,
  );
  // Still healthy a second later, and the running pumps still on the new version.
  await sleep(1000);
  const still = await reported(standby);
  const others = await Promise.all(pumps.filter((p) => p !== standby).map(reported));
  const othersKept = others.every((r) => r?.rev === v2 && r.state === 'running');
  const rolledBack = (await rig.api('GET', `/api/v1/devices/${standby}`)).twin.desired.state.modules[MODULE].rolledBack;
  const crashLoopAt = (await rig.events(standby)).find((e) => e.code === 'MODULE_CRASH_LOOP')?.ts ?? null;

  const all = await rig.decisions();
  const d = (await rig.decisions(`?device=${standby}&policy=${POLICY}`))[0] ?? decided.value;
  const elsewhere = all.filter((x) => x.devices.some((dev) => dev !== standby) || x.policy !== POLICY);
  const rollback = d.actions.find((a) => a.action === 'rollback-module');
  const goalKept =
    still?.rev === v1.value &&
    still.state === 'running' &&
    othersKept &&
    rolledBack?.from === v2 &&
    rollback?.state === 'done';
  return {
    scenario: 'crashed-module',
    degrees: 'self-healing=act',
    clock: 'real',
    // The change to the hub's decision (three crashes in between); the decision to the module
    // reported running its earlier version again.
    detectMs: d.createdAt - changedAt,
    mitigateMs: healthy.at - d.createdAt,
    actions: doneActions([d]),
    escalations: all.filter((x) => x.state === 'escalated').length,
    wrongActions: elsewhere.length,
    goalKept,
    notes:
      `${MODULE} ${v2} crash-looped on ${standby} (standby) ${crashLoopAt === null ? '?' : crashLoopAt - changedAt} ms after the change; ` +
      `rolled back there to ${v1.value}, ${still?.state ?? 'absent'}; ${pumps.length - 1} running pumps kept ${v2} ` +
      `(${othersKept ? 'running' : 'NOT running'}), no decision on them; decision ${d.state}`,
    figures: { crashLoopMs: crashLoopAt === null ? null : crashLoopAt - changedAt },
  };
}
