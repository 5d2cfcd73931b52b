// `scenarios`: fault scenarios against a simulated fleet, the real hub (in this process) and real
// agents, each scored: time to detect, time to mitigate, actions, escalations, wrong actions,
// goal kept. Degrees: the demo's (self-healing act, self-protection approve) and the device loop
// policies of DEVICE_LOOP_POLICIES (act). docs/benchmarks.md (## scenarios) explains them.
//
// Real time where the figure is a real latency (detection, hand-over, rollback); the battery runs
// on a FakeClock (simulated hours in seconds) against the same real hub, the worn bearing on the
// simulator's time scale (×600). The crashed module (scenarios-module.ts) and the worn bearing
// (scenarios-pump.ts) run the demo's workloads through real deployments.

import { FakeClock } from '@homeostat/kit';
import {
  DEMO_DESIRED,
  DEVICE_LOOP_POLICIES,
  HEATER_REMOTE,
  HeaterHardware,
  MowerHardware,
  Room,
  ThermostatHardware,
} from '@homeostat/sim';
import mqtt from 'mqtt';
import { BenchFailure, type Benchmark, type Figures, progress, sleep } from './harness.js';
import { crashedModule } from './scenarios-module.js';
import { wornBearing } from './scenarios-pump.js';
import {
  doneActions,
  HEARTBEAT_MS,
  loopCodes,
  pollUntil,
  type Rig,
  type Scorecard,
  startRig,
} from './scenarios-rig.js';

const TARGET_DETECT_MS = 2 * HEARTBEAT_MS;
const TARGET_HANDOVER_MS = 1000;

/** A room of the demo: thermostat, heater in remote mode; optionally a backup thermostat. */
type Via = Awaited<ReturnType<Rig['proxy']>> | null;

/** `via` carries the thermostat's link, `heaterVia` the heater's (default the same). */
async function room(rig: Rig, site: string, n: string, via: Via, backup: boolean, heaterVia: Via = via) {
  const r = new Room({ initialTemperatureC: 21 });
  const labels = (model: string, extra: Record<string, string> = {}) => ({ site, model, room: n, ...extra });
  const th = `${n}-thermostat`;
  const ht = `${n}-heater`;
  const thermostat = new ThermostatHardware(r, { setpointC: 21 });
  const heater = new HeaterHardware(r, { mode: 'remote', setpointC: 21 });
  const heaterDesired = { ...DEMO_DESIRED.heater, ...HEATER_REMOTE, ...DEVICE_LOOP_POLICIES.heater };
  const thToken = await rig.device(th, labels('th-100'), { setpoint: 21 });
  const htToken = await rig.device(ht, labels('ht-200'), heaterDesired);
  const agents = [await rig.agent(th, thToken, thermostat, via), await rig.agent(ht, htToken, heater, heaterVia)];
  if (backup) {
    const name = `${n}-backup`;
    const token = await rig.device(name, labels('th-100', { 'backup-for': th }));
    agents.push(await rig.agent(name, token, new ThermostatHardware(r, { setpointC: 21 }), null));
  }
  return { th, ht, heater, agents };
}

async function deadThermostat(rig: Rig): Promise<Scorecard> {
  const own = await rig.proxy();
  const r = await room(rig, 'home', 'room-01', own, true, null);
  // Two more rooms: one silent device of seven is a device, not the site's network.
  await room(rig, 'home', 'room-02', null, false);
  await room(rig, 'home', 'room-03', null, false);
  await pollUntil(
    async () => (await rig.api('GET', `/api/v1/devices/${r.th}`)).status.liveness.state === 'online',
    5000,
    'online',
  );
  await sleep(3 * HEARTBEAT_MS);
  // The thermostat dies silently: its connection stays open and nothing comes through any more.
  own.setDelay(3_600_000);
  const killedAt = Date.now();
  await pollUntil(
    async () => (await rig.api('GET', `/api/v1/devices/${r.th}`)).status.liveness.state === 'offline',
    10_000,
    'offline',
  );
  const handed = await pollUntil(
    async () => {
      const [d] = await rig.decisions(`?device=${r.th}`);
      const over = d?.actions.find((a) => a.action === 'hand-over' && a.state === 'done');
      return over ? d : null;
    },
    10_000,
    'hand-over',
  );
  const applied = await pollUntil(
    async () => {
      const dev = await rig.api('GET', `/api/v1/devices/${r.ht}`);
      return dev.twin.reported.state.mode === 'auto';
    },
    10_000,
    'heater in auto',
  );
  const all = await rig.decisions();
  const d = handed.value;
  const offlineSince = (await rig.api('GET', `/api/v1/devices/${r.th}`)).status.liveness.since as number;
  return {
    scenario: 'dead-thermostat',
    degrees: 'self-healing=act',
    clock: 'real',
    // Both from the hub's own timestamps: when liveness turned offline, when the hand-over finished.
    detectMs: offlineSince - killedAt,
    mitigateMs: (d.actions.find((a) => a.action === 'hand-over')?.finishedAt ?? Number.NaN) - offlineSince,
    actions: doneActions(all),
    escalations: all.filter((x) => x.state === 'escalated').length,
    wrongActions: all.filter((x) => x.policy !== 'room-thermostat-silent' || !x.devices.includes(r.th)).length,
    goalKept: applied.value === true && d.actions.every((a) => a.state === 'done'),
    notes: `decision ${d.state}; heater reported auto ${applied.at - offlineSince} ms after detection`,
  };
}

async function sitePartition(rig: Rig): Promise<Scorecard> {
  const site = await rig.proxy();
  const rooms: Awaited<ReturnType<typeof room>>[] = [];
  for (let i = 1; i <= 3; i++) rooms.push(await room(rig, 'annex', `annex-${i}`, site, false));
  await sleep(3 * HEARTBEAT_MS);
  site.cut();
  const cutAt = Date.now();
  const held = await pollUntil(
    async () =>
      (await rig.decisions('?policy=room-thermostat-silent')).find(
        (d) => d.state === 'held' && d.devices.some((x) => x.startsWith('annex-')),
      ),
    10_000,
    'held decision',
  );
  // Long enough for the heaters' own loops to go to safe mode (3 heartbeats), then heal.
  await sleep(5 * HEARTBEAT_MS);
  site.restore();
  const back = await pollUntil(
    async () => {
      const codes = await Promise.all(rooms.map(async (r) => loopCodes(await rig.events(r.ht))));
      return codes.every((c) => c.join() === 'SAFE_MODE_ENTERED,SAFE_MODE_EXITED') ? codes : null;
    },
    15_000,
    'safe mode entered and left, reported in order',
  );
  const annex = (await rig.decisions()).filter((d) => d.devices.some((x) => x.startsWith('annex-')));
  const wrong = annex.filter((d) => d.state !== 'held').length + doneActions(annex);
  const remote = rooms.every((r) => r.heater.applyDesired({}, Date.now()).mode === 'remote');
  return {
    scenario: 'site-partition',
    degrees: 'self-healing=act, device safeMode=act',
    clock: 'real',
    detectMs: held.at - cutAt,
    mitigateMs: null,
    actions: 2 * back.value.length,
    escalations: 0,
    wrongActions: wrong,
    goalKept: wrong === 0 && remote,
    notes: `hub: ${annex.length} decision(s), held; heaters: safe mode on their own, back to remote after the cut (${back.at - cutAt} ms)`,
  };
}

async function rogueFlood(rig: Rig): Promise<Scorecard> {
  const name = 'rogue-1';
  const token = await rig.device(name, { site: 'lab', model: 'th-100' });
  const client = await mqtt.connectAsync(rig.mqttUrl, {
    clientId: name,
    username: name,
    password: token,
    reconnectPeriod: 0,
  });
  const start = Date.now();
  for (let i = 0; i < 150; i++) client.publish(`homeostat/v1/${name}/telemetry`, '{not json', { qos: 0 });
  const decided = await pollUntil(
    async () => (await rig.decisions(`?device=${name}`))[0],
    10_000,
    'quarantine decision',
  );
  await client.endAsync(true).catch(() => {});
  const d = decided.value;
  const lifecycle = (await rig.api('GET', `/api/v1/devices/${name}`)).status.lifecycle;
  return {
    scenario: 'rogue-flood',
    degrees: 'self-protection=approve',
    clock: 'real',
    detectMs: decided.at - start,
    mitigateMs: null,
    actions: doneActions([d]),
    escalations: 0,
    // At `approve`, quarantining before a person approves would be wrong.
    wrongActions: d.state === 'awaiting-approval' && lifecycle !== 'quarantined' ? 0 : 1,
    goalKept: d.policy === 'quarantine-on-publish-flood' && d.state === 'awaiting-approval',
    notes: `decision ${d.policy} ${d.state}: quarantine waits for a person`,
  };
}

async function batteryDrain(rig: Rig): Promise<Scorecard> {
  const clock = new FakeClock(Date.UTC(2026, 5, 1, 9));
  const mower = new MowerHardware({ initial: { state: 'mowing', coveragePercent: 20, batteryPercent: 60 } });
  const name = 'mower-01';
  const token = await rig.device(
    name,
    { site: 'garden', model: 'mw-300' },
    {
      ...DEMO_DESIRED.mower,
      ...DEVICE_LOOP_POLICIES.mower,
    },
  );
  await rig.agent(name, token, mower, null, { clock, sampleMs: 5000, heartbeatMs: 60_000 });
  await pollUntil(
    async () => (await rig.api('GET', `/api/v1/devices/${name}`)).twin.reported.desiredVersion >= 1,
    5000,
    'desired applied',
  );
  // A failing cell: 3 %/min more for 15 simulated minutes.
  mower.inject({ type: 'battery-drain', percentPerMin: 3 }, clock.now());
  const faultAt = clock.now();
  let returnedAt: number | null = null;
  let homeAt: number | null = null;
  let lowest = 100;
  let coverageAtReturn = 0;
  for (let t = 0; t < 4 * 3_600_000; t += 5000) {
    await clock.advance(5000);
    if (t === 15 * 60_000) mower.clear('battery-drain', clock.now());
    lowest = Math.min(lowest, mower.batteryPercent);
    if (returnedAt === null && mower.mode === 'dock') {
      returnedAt = clock.now();
      coverageAtReturn = mower.coveragePercent;
    }
    if (returnedAt !== null && homeAt === null && ['charging', 'docked'].includes(mower.state)) homeAt = clock.now();
    if (mower.state === 'stranded') break;
  }
  const events = await pollUntil(
    async () => {
      const e = await rig.events(name);
      return e.some((x) => x.code === 'BATTERY_GUARD_RETURN') ? e : null;
    },
    10_000,
    'BATTERY_GUARD_RETURN at the hub',
  );
  const resumed = mower.coveragePercent > coverageAtReturn;
  return {
    scenario: 'battery-drain',
    degrees: 'device batteryGuard=act (no return-to-base rule deployed)',
    clock: 'fake',
    detectMs: returnedAt === null ? null : returnedAt - faultAt,
    mitigateMs: returnedAt !== null && homeAt !== null ? homeAt - returnedAt : null,
    actions: events.value.filter((e) => e.type === 'action').length,
    escalations: 0,
    wrongActions: 0,
    goalKept: mower.state !== 'stranded' && resumed,
    notes: `lowest battery ${lowest.toFixed(1)} %; coverage ${coverageAtReturn.toFixed(1)} % at the return, ${mower.coveragePercent.toFixed(1)} % after (resumed where it stopped)`,
  };
}

const SCENARIOS: Record<string, (rig: Rig) => Promise<Scorecard>> = {
  'dead-thermostat': deadThermostat,
  'site-partition': sitePartition,
  'rogue-flood': rogueFlood,
  'battery-drain': batteryDrain,
  'crashed-module': crashedModule,
  'worn-bearing': wornBearing,
};

function table(cards: readonly Scorecard[]): string {
  const ms = (v: number | null) => (v === null ? '-' : String(Math.round(v)));
  const rows = cards.map(
    (c) =>
      `| ${c.scenario} | ${c.degrees} | ${c.clock} | ${ms(c.detectMs)} | ${ms(c.mitigateMs)} | ${c.actions} | ${c.escalations} | ${c.wrongActions} | ${c.goalKept ? 'yes' : 'no'} | ${c.notes} |`,
  );
  return [
    '| scenario | degrees | clock | detect ms | mitigate ms | actions | escalations | wrong actions | goal kept | notes |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

export const scenariosBenchmark: Benchmark = {
  summary: 'fault scenarios against the real hub and agents on simulated hardware, with a scorecard each',
  usage: '--only NAME[,NAME] (default all)',
  async run(argv, cleanups) {
    const onlyAt = argv.indexOf('--only');
    const only = onlyAt >= 0 ? (argv[onlyAt + 1] ?? '').split(',') : Object.keys(SCENARIOS);
    const cards: Scorecard[] = [];
    for (const name of only) {
      const scenario = SCENARIOS[name];
      if (!scenario) throw new Error(`unknown scenario ${name}: ${Object.keys(SCENARIOS).join(', ')}`);
      progress(`scenario ${name}`);
      const rig = await startRig(cleanups);
      try {
        cards.push(await scenario(rig));
      } finally {
        await rig.close();
      }
      progress(`scenario ${name}: ${JSON.stringify(cards.at(-1))}`);
    }
    process.stderr.write(`${table(cards)}\n`);
    const figures: Figures = { targetDetectMs: TARGET_DETECT_MS, targetHandOverMs: TARGET_HANDOVER_MS };
    for (const c of cards) {
      const key = c.scenario.replace(/-(\w)/g, (_, ch: string) => ch.toUpperCase());
      figures[`${key}DetectMs`] = c.detectMs;
      figures[`${key}MitigateMs`] = c.mitigateMs;
      figures[`${key}Actions`] = c.actions;
      figures[`${key}WrongActions`] = c.wrongActions;
      figures[`${key}GoalKept`] = c.goalKept;
      for (const [k, v] of Object.entries(c.figures ?? {})) figures[`${key}${k[0]?.toUpperCase()}${k.slice(1)}`] = v;
    }
    const dead = cards.find((c) => c.scenario === 'dead-thermostat');
    // Zero wrong actions everywhere, the partition included.
    figures.met =
      cards.every((c) => c.goalKept && c.wrongActions === 0) &&
      (dead === undefined ||
        ((dead.detectMs ?? Infinity) <= TARGET_DETECT_MS && (dead.mitigateMs ?? Infinity) < TARGET_HANDOVER_MS));
    if (!figures.met) throw new BenchFailure('a scenario missed its goal or target', figures);
    return figures;
  },
};
