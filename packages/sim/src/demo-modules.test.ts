// The demo's rules, run on the simulated hardware over simulated days with no hub: the proof that
// each rule does its job (a room holds its setpoint, a mower never strands, a pump's alarm comes
// before its bearing seizes).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ModuleSpec, parser } from '@homeostat/protocol';
import {
  DEMO_RULES,
  HEATER_REMOTE,
  MOWER_RETURN_TO_BASE,
  PUMP_BEARING_ALARM,
  PUMP_VIBRATION_ALARM,
  ROOM_HEATING,
} from './demo-modules.js';
import { planFleet } from './fleet-plan.js';
import type { MowerHardware } from './mower.js';
import { PumpHardware } from './pump.js';
import type { HeaterHardware, ThermostatHardware } from './room.js';
import { HOUR_MS } from './sim-time.js';
import { RuleBench } from './test-support.js';

/** 1 December, 08:00 UTC: the first simulated day has a cold night in it. */
const T0 = Date.UTC(2025, 11, 1, 8);
const MIN_MS = 60_000;

test('the demo modules are valid module specs, each rule on a kind that has its actuators', () => {
  const parse = parser(ModuleSpec);
  for (const [kind, specs] of Object.entries(DEMO_RULES)) {
    for (const spec of specs) {
      const parsed = parse.parse(spec);
      assert.ok(parsed.ok, `${spec.name}: ${parsed.ok ? '' : parsed.errors.join(', ')}`);
      const fleet = planFleet({ devices: 6, clockNow: () => T0 });
      const actuators = fleet.find((d) => d.kind === kind)?.hardware.capabilities().actuators ?? [];
      for (const a of spec.permissions?.actuators ?? []) assert.ok(actuators.includes(a), `${spec.name}: ${a}`);
    }
  }
});

test("room-heating: every demo room holds its setpoint within ±0.5 °C through a day, the heater in 'remote'", async () => {
  const fleet = planFleet({ devices: 8, kinds: ['thermostat'], clockNow: () => T0 });
  for (let r = 0; r < fleet.length; r += 2) {
    const thermostat = fleet[r]!.hardware as ThermostatHardware;
    const heater = fleet[r + 1]!.hardware as HeaterHardware;
    heater.applyDesired(HEATER_REMOTE, T0);
    const bench = new RuleBench(thermostat, T0);
    await bench.start([ROOM_HEATING]);
    let settledAt: number | null = null;
    let worst = 0;
    const powers = new Set<number>();
    for (let t = T0; t <= T0 + 24 * HOUR_MS; t += 30_000) {
      const { temperature = Number.NaN, setpoint = Number.NaN } = bench.sample(t);
      powers.add(heater.sample(t).power ?? -1);
      const error = Math.abs(temperature - setpoint);
      if (settledAt === null && error <= 0.25) settledAt = t;
      if (settledAt !== null) worst = Math.max(worst, error);
    }
    const room = fleet[r]!.labels.room;
    assert.ok(settledAt !== null && settledAt - T0 < 8 * HOUR_MS, `${room} reached its setpoint`);
    assert.ok(worst <= 0.5, `${room}: ${worst.toFixed(2)} °C off its setpoint at worst`);
    assert.deepEqual([...powers].sort(), [0, 1], `${room}: the heater obeyed the thermostat`);
    const switches = bench.decisions('room-heating');
    assert.ok(switches.length >= 4, `${room}: ${switches.length} decisions`);
    for (let i = 1; i < switches.length; i++) {
      assert.ok(switches[i]!.ts - switches[i - 1]!.ts >= MIN_MS, `${room}: a minute at least between switches`);
    }
  }
});

test('mower-return-to-base: the mower goes home before it strands, charges, and finishes the lawn', async () => {
  const plan = () => planFleet({ devices: 1, kinds: ['mower'], clockNow: () => T0 })[0]!.hardware as MowerHardware;
  // Without the rule, the demo's mower-01 (on the lawn at 30 %) is stranded within the hour.
  const alone = plan();
  for (let t = T0; t <= T0 + HOUR_MS && alone.state !== 'stranded'; t += 5000) alone.sample(t);
  assert.equal(alone.state, 'stranded');

  const mower = plan();
  const bench = new RuleBench(mower, T0);
  await bench.start([MOWER_RETURN_TO_BASE]);
  let lowest = 100;
  let coverage = mower.coveragePercent;
  let finishedAt: number | null = null;
  for (let t = T0; t <= T0 + 10 * HOUR_MS; t += 5000) {
    bench.sample(t);
    assert.notEqual(mower.state, 'stranded');
    assert.ok(mower.coveragePercent >= coverage, 'coverage kept across every trip home');
    coverage = mower.coveragePercent;
    lowest = Math.min(lowest, mower.batteryPercent);
    if (finishedAt === null && coverage >= 100) finishedAt = t;
  }
  const trips = bench.raised('RETURN_TO_BASE');
  assert.ok(trips.length >= 2, `${trips.length} trips home`);
  assert.ok(lowest > 20, `battery never below ${lowest.toFixed(1)} %`);
  assert.ok(finishedAt !== null, 'the lawn was finished');
  // Each trip home was followed by mowing again, from the coverage it had reached.
  assert.deepEqual(
    bench.decisions('mower-return-to-base').map((e) => e.code),
    trips.flatMap(() => ['RULE_ACTIVATED', 'RULE_DEACTIVATED']),
  );
  assert.equal(mower.state, 'docked', 'home at the end, the lawn done');
});

/**
 * A stand-in for the edge anomaly model (someone else's module): the vibration RMS over the last
 * 10 minutes on ISO 10816's scale, 0 at 1.8 mm/s (zone A/B) and 0.5 at 4.5 mm/s (zone C, not
 * fit for long-term running), published every minute as `bearingAnomaly`.
 */
function standInModel(bench: RuleBench, now: number): void {
  const window = bench.store.window('vibration', 10 * MIN_MS, now);
  const rms = Math.sqrt(window.reduce((sum, p) => sum + p.value * p.value, 0) / window.length);
  const score = Math.min(1, Math.max(0, (rms - 1.8) / 5.4));
  bench.publish({ ts: now, metrics: { bearingAnomaly: score }, source: 'bearing-model' });
}

/** Runs a pump with the pump rules and the stand-in model, a sample a minute; returns when it failed. */
async function runPump(pump: PumpHardware, hours: number) {
  const bench = new RuleBench(pump, T0);
  await bench.start([PUMP_BEARING_ALARM, PUMP_VIBRATION_ALARM]);
  let failedAt: number | null = null;
  const wearAt = new Map<string, number>();
  for (let t = T0; t <= T0 + hours * HOUR_MS; t += MIN_MS) {
    bench.sample(t);
    standInModel(bench, t);
    if (failedAt === null && pump.failed) failedAt = t;
    for (const e of bench.events)
      if (e.type === 'alarm' && !wearAt.has(e.code ?? '')) wearAt.set(e.code ?? '', pump.wear);
  }
  return { bench, failedAt, wearAt };
}

test('pump-bearing-alarm: a wearing bearing raises its alarm hours before it seizes; a healthy pump raises none', async () => {
  // 0.5 worn, 0.05 per hour at full speed: it seizes after about 10 hours.
  const { bench, failedAt, wearAt } = await runPump(
    new PumpHardware({ initialWear: 0.5, wearPerRunHour: 0.05, speed: 1, seed: 3 }),
    12,
  );
  assert.ok(failedAt !== null, 'the bearing seized');
  const [alarm, ...repeats] = bench.raised('BEARING_WEAR');
  assert.ok(alarm !== undefined && repeats.length === 0, 'raised once');
  assert.equal(alarm.severity, 'critical');
  assert.ok(failedAt - alarm.ts >= 3 * HOUR_MS, `${((failedAt - alarm.ts) / HOUR_MS).toFixed(1)} h of warning`);
  assert.ok((wearAt.get('BEARING_WEAR') ?? 0) > 0.6, 'not while the bearing was still healthy');
  const zoneD = bench.raised('VIBRATION_ZONE_D')[0];
  assert.ok(
    zoneD !== undefined && zoneD.ts > alarm.ts && zoneD.ts < failedAt,
    'the fallback fires later, still in time',
  );

  // The demo's worn pump (pump-02) is warned about before it fails too; a healthy one never.
  const [healthy, worn] = planFleet({ devices: 2, kinds: ['pump'], clockNow: () => T0 }).map(
    (d) => d.hardware as PumpHardware,
  );
  const demo = await runPump(worn!, 16);
  const demoAlarm = demo.bench.raised('BEARING_WEAR')[0];
  assert.ok(demo.failedAt !== null && demoAlarm !== undefined && demoAlarm.ts < demo.failedAt);
  const quiet = await runPump(healthy!, 24);
  assert.deepEqual(
    quiet.bench.events.filter((e) => e.type === 'alarm'),
    [],
  );
});
