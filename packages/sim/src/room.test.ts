// The room's physics: heating, cooling, the heater's own control loop, stability over long jumps.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Environment } from './environment.js';
import { HeaterHardware, Room, ThermostatHardware } from './room.js';
import { HOUR_MS, SimTime } from './sim-time.js';

const MIN_MS = 60_000;
/** Constant weather, so equilibria are exact. */
const still = (meanC: number) => new Environment({ meanC, amplitudeC: 0, noiseC: 0 });

test('at full power the room warms monotonically toward T_out + P/UA, above the outside', () => {
  const outsideC = 5;
  const room = new Room({ environment: still(outsideC), initialTemperatureC: 12 });
  const heater = new HeaterHardware(room);
  heater.applyDesired({ mode: 'manual', power: 1 }, 0);
  const equilibriumC = outsideC + heater.maxPowerW / room.lossWPerK;
  let previous = room.temperatureC;
  for (let h = 1; h <= 48; h++) {
    heater.sample(h * HOUR_MS);
    assert.ok(room.temperatureC > previous, `warming at hour ${h}`);
    assert.ok(room.temperatureC < equilibriumC, 'never overshoots the equilibrium');
    previous = room.temperatureC;
  }
  // 48 h is ~8.6 time constants (C/UA = 5.6 h): the gap has closed to well under 1 %.
  assert.ok(equilibriumC - room.temperatureC < 0.05, `${room.temperatureC} near ${equilibriumC}`);
  assert.ok(room.temperatureC > outsideC + 10);
});

test('with the heater off the room cools toward the outside and never below it', () => {
  const outsideC = 4;
  const room = new Room({ environment: still(outsideC), initialTemperatureC: 22 });
  const heater = new HeaterHardware(room, { mode: 'off' });
  const thermostat = new ThermostatHardware(room);
  thermostat.sample(0); // a model starts at the first time it is asked about
  let previous = room.temperatureC;
  for (let h = 1; h <= 48; h++) {
    thermostat.sample(h * HOUR_MS);
    assert.ok(room.temperatureC < previous && room.temperatureC > outsideC, `cooling at hour ${h}`);
    previous = room.temperatureC;
  }
  assert.ok(room.temperatureC - outsideC < 0.01);
  assert.equal(heater.sample(48 * HOUR_MS).energyWh, 0);
});

test('the heater in auto holds the room within setpoint ± 0.7 °C through a day of weather', () => {
  const env = new Environment({ seed: 7 });
  const room = new Room({ environment: env, initialTemperatureC: 20.5 });
  const heater = new HeaterHardware(room, { setpointC: 21 });
  const thermostat = new ThermostatHardware(room, { seed: 3 });
  const powers = new Set<number>();
  let coldest = Number.POSITIVE_INFINITY;
  for (let m = 0; m <= 24 * 60; m++) {
    const t = thermostat.sample(m * MIN_MS);
    const h = heater.sample(m * MIN_MS);
    powers.add(h.power ?? -1);
    coldest = Math.min(coldest, env.outsideTemperatureC(m * MIN_MS));
    assert.ok(Math.abs((t.temperature ?? 0) - 21) <= 0.7, `minute ${m}: ${t.temperature}`);
  }
  assert.deepEqual([...powers].sort(), [0, 1], 'bang-bang: fully on or off');
  assert.ok(coldest < 5, 'the day had a cold night to fight');
  const energyWh = heater.sample(24 * 60 * MIN_MS).energyWh ?? 0;
  // Energy ≈ the envelope's losses over the day, which sit between 0 and full power for 24 h.
  assert.ok(energyWh > 10_000 && energyWh < 48_000, `${energyWh} Wh`);
});

test('a month-long jump stays stable and matches small steps', () => {
  const make = () => {
    const room = new Room({ environment: new Environment({ seed: 2 }), initialTemperatureC: 15 });
    const heater = new HeaterHardware(room, { setpointC: 20 });
    return { room, heater };
  };
  const jump = make();
  jump.heater.sample(0);
  jump.heater.sample(30 * 24 * HOUR_MS);
  assert.ok(Number.isFinite(jump.room.temperatureC));
  assert.ok(Math.abs(jump.room.temperatureC - 20) < 0.7, `${jump.room.temperatureC}`);
  const small = make();
  for (let m = 0; m <= 6 * 60; m++) small.heater.sample(m * MIN_MS);
  const big = make();
  big.heater.sample(0);
  big.heater.sample(6 * HOUR_MS);
  assert.ok(Math.abs(small.room.temperatureC - big.room.temperatureC) < 0.3);
  // A year in one step exceeds the step budget: longer steps, still bounded and finite.
  const year = make();
  year.heater.applyDesired({ mode: 'off' }, 0);
  year.heater.sample(365 * 24 * HOUR_MS);
  assert.ok(year.room.temperatureC > -5 && year.room.temperatureC < 20);
});

test('timeScale runs the physics faster than the wall clock', () => {
  const fast = new Room({ environment: still(0), initialTemperatureC: 20 });
  const fastHeater = new HeaterHardware(fast, { mode: 'off', time: new SimTime({ originMs: 0, timeScale: 60 }) });
  const slow = new Room({ environment: still(0), initialTemperatureC: 20 });
  const slowHeater = new HeaterHardware(slow, { mode: 'off' });
  fastHeater.sample(0);
  slowHeater.sample(0);
  fastHeater.sample(HOUR_MS); // one wall hour = 60 simulated hours
  slowHeater.sample(HOUR_MS);
  assert.ok(fast.temperatureC < 0.1, `${fast.temperatureC}`);
  assert.ok(slow.temperatureC > 15);
});

test('two devices of one room advance it once per time, in any order', () => {
  const run = (both: boolean) => {
    const room = new Room({ environment: new Environment({ seed: 5 }), initialTemperatureC: 17 });
    const heater = new HeaterHardware(room);
    const thermostat = new ThermostatHardware(room);
    for (let m = 0; m <= 180; m += 3) {
      if (both) thermostat.sample(m * MIN_MS);
      heater.sample(m * MIN_MS);
      if (both) thermostat.sample(m * MIN_MS);
    }
    return room.temperatureC;
  };
  assert.equal(run(true), run(false));
});

test('the thermostat keeps and reports a valid setpoint and the humidity falls as the room warms', () => {
  const room = new Room({ environment: still(5), initialTemperatureC: 15 });
  const thermostat = new ThermostatHardware(room);
  assert.deepEqual(thermostat.applyDesired({ setpoint: 22.5, other: 1 }, 0), { setpoint: 22.5 });
  assert.deepEqual(thermostat.applyDesired({ setpoint: 40 }, 0), { setpoint: 22.5 });
  assert.deepEqual(thermostat.applyDesired({ setpoint: '21' }, 0), { setpoint: 22.5 });
  const cold = thermostat.sample(0);
  assert.equal(cold.setpoint, 22.5);
  const heater = new HeaterHardware(room);
  heater.applyDesired({ mode: 'manual', power: 1 }, 0);
  const warm = thermostat.sample(6 * HOUR_MS);
  assert.ok((warm.temperature ?? 0) > (cold.temperature ?? 0) + 5);
  assert.ok((warm.humidity ?? 100) < (cold.humidity ?? 0) - 10, `${cold.humidity} -> ${warm.humidity}`);
});

test('the heater reports what it runs and ignores invalid settings', () => {
  const room = new Room({ environment: still(5), initialTemperatureC: 18 });
  const heater = new HeaterHardware(room);
  assert.deepEqual(heater.applyDesired({ setpoint: 21 }, 0), { mode: 'auto', setpoint: 21, power: 1 });
  assert.deepEqual(heater.applyDesired({ setpoint: 2, mode: 'turbo', power: 3 }, 0), {
    mode: 'auto',
    setpoint: 21,
    power: 1,
  });
  assert.deepEqual(heater.applyDesired({ mode: 'manual', power: 0.25 }, 0), {
    mode: 'manual',
    setpoint: 21,
    power: 0.25,
  });
  assert.deepEqual(heater.applyDesired({ mode: 'off' }, 0), { mode: 'off', setpoint: 21, power: 0 });
  const s = heater.sample(HOUR_MS);
  assert.ok(Math.abs((s.supplyTemperature ?? 0) - room.temperatureC) < 1, 'an idle heater is at room temperature');
});

test("a heater in 'remote' runs at its thermostat's call for heat, and stops when the thermostat goes silent", () => {
  const room = new Room({ environment: still(5), initialTemperatureC: 18 });
  const heater = new HeaterHardware(room);
  const thermostat = new ThermostatHardware(room);
  assert.deepEqual(heater.applyDesired({ mode: 'remote' }, 0), { mode: 'remote', setpoint: 20, power: 0 });
  thermostat.actuate('heater', true, 0);
  assert.equal(heater.sample(MIN_MS).power, 1);
  const warm = room.temperatureC;
  assert.ok(warm > 18, 'heating from the moment of the call');
  thermostat.actuate('heater', 0.5, 2 * MIN_MS);
  assert.equal(heater.sample(3 * MIN_MS).power, 0.5);
  thermostat.inject('power-loss', 4 * MIN_MS);
  assert.equal(heater.sample(5 * MIN_MS).power, 0, 'a silent link is no call for heat');
  assert.throws(() => thermostat.actuate('heater', true, 5 * MIN_MS), /no power/);
  thermostat.clear('power-loss', 6 * MIN_MS);
  assert.equal(heater.sample(7 * MIN_MS).power, 0.5, 'the call is back with the power');
  thermostat.actuate('heater', false, 8 * MIN_MS);
  assert.equal(heater.sample(HOUR_MS).power, 0);
  assert.ok(room.temperatureC < warm + 1);
  // 'auto' keeps its own firmware and ignores the thermostat.
  thermostat.actuate('heater', true, HOUR_MS);
  heater.applyDesired({ mode: 'auto', setpoint: 10 }, HOUR_MS);
  assert.equal(heater.sample(HOUR_MS + MIN_MS).power, 0);
});

test('the thermostat and heater actuators refuse unknown names and values they cannot take', () => {
  const room = new Room({ environment: still(5) });
  const heater = new HeaterHardware(room);
  const thermostat = new ThermostatHardware(room);
  assert.throws(() => thermostat.actuate('heater', 2, 0), /0\.\.1 or a boolean/);
  assert.throws(() => thermostat.actuate('heater', 'on', 0), /0\.\.1 or a boolean/);
  assert.throws(() => thermostat.actuate('setpoint', 21, 0), /no actuator 'setpoint'/);
  assert.throws(() => heater.actuate('heater', 1, 0), /no actuator 'heater'/);
  assert.equal(room.callForHeat(), 0);
});

test('the heating element sets the manual output; an unchanged desired power does not undo it', () => {
  const room = new Room({ environment: still(5), initialTemperatureC: 18 });
  const heater = new HeaterHardware(room, { mode: 'manual' });
  heater.actuate('heatingElement', 0.75, 0);
  assert.equal(heater.sample(MIN_MS).power, 0.75);
  // The twin re-applies its whole desired state on any update: the same power is no new order.
  assert.equal(heater.applyDesired({ mode: 'manual', power: 0 }, MIN_MS).power, 0.75);
  assert.equal(heater.applyDesired({ mode: 'manual', power: 0.2 }, MIN_MS).power, 0.2, 'a new order wins');
  assert.equal(heater.applyDesired({ mode: 'manual', power: 0.2 }, MIN_MS).power, 0.2);
  heater.actuate('heatingElement', false, 2 * MIN_MS);
  assert.equal(heater.sample(3 * MIN_MS).power, 0);
});
