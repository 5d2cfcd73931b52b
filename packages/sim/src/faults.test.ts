// Injected faults: what each one does to the readings and to the device.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Environment } from './environment.js';
import { PowerLossError } from './faults.js';
import { MowerHardware } from './mower.js';
import { PumpHardware } from './pump.js';
import { HeaterHardware, Room, ThermostatHardware } from './room.js';
import { HOUR_MS } from './sim-time.js';

const stillRoom = (initialTemperatureC: number) =>
  new Room({ environment: new Environment({ meanC: 0, amplitudeC: 0, noiseC: 0 }), initialTemperatureC });

test('a stuck sensor repeats its last readings while the world moves on, until cleared', () => {
  const room = stillRoom(20);
  const thermostat = new ThermostatHardware(room);
  const last = thermostat.sample(0);
  thermostat.inject('sensor-stuck', 0);
  assert.deepEqual(thermostat.activeFaults(), ['sensor-stuck']);
  const stuck = thermostat.sample(3 * HOUR_MS);
  assert.equal(stuck.temperature, last.temperature);
  assert.equal(stuck.humidity, last.humidity);
  assert.ok(room.temperatureC < 15, 'the room cooled meanwhile');
  thermostat.clear('sensor-stuck');
  assert.ok(Math.abs((thermostat.sample(3 * HOUR_MS).temperature ?? 0) - room.temperatureC) < 0.1);
});

test('sensor noise widens the spread of the readings but not of discrete ones', () => {
  const pump = new PumpHardware({ wearPerRunHour: 0, seed: 8 });
  const spread = (n: number, from: number) => {
    const xs = Array.from({ length: n }, (_, i) => pump.sample(from + i * 1000).flow ?? 0);
    const m = xs.reduce((a, b) => a + b, 0) / n;
    return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / n);
  };
  const quiet = spread(200, 0);
  pump.inject({ type: 'sensor-noise', sigma: 0.1 });
  const noisy = spread(200, 1_000_000);
  assert.ok(noisy > 5 * quiet, `${quiet} -> ${noisy}`);
  assert.equal(pump.sample(2_000_000).speed, 0.8);
});

test('drift shifts one reading by an offset growing with simulated time', () => {
  const room = stillRoom(20);
  const heater = new HeaterHardware(room, { mode: 'off' });
  const thermostat = new ThermostatHardware(room);
  heater.sample(0);
  thermostat.inject({ type: 'drift', perHour: 0.5 }, 0);
  for (const h of [2, 4, 8]) {
    const t = thermostat.sample(h * HOUR_MS);
    const offset = (t.temperature ?? 0) - room.temperatureC;
    assert.ok(Math.abs(offset - 0.5 * h) < 0.06, `offset ${offset} after ${h} h`);
  }
  thermostat.clear('drift');
  assert.ok(Math.abs((thermostat.sample(9 * HOUR_MS).temperature ?? 0) - room.temperatureC) < 0.06);
});

test('power loss makes the device unreachable and its actuators stop', () => {
  const room = stillRoom(20);
  const heater = new HeaterHardware(room, { setpointC: 20 });
  const thermostat = new ThermostatHardware(room);
  thermostat.sample(0);
  heater.inject('power-loss', 0);
  assert.throws(() => heater.sample(HOUR_MS), PowerLossError);
  assert.throws(() => heater.applyDesired({ setpoint: 21 }, HOUR_MS), PowerLossError);
  thermostat.sample(6 * HOUR_MS);
  assert.ok(room.temperatureC < 12, 'an unpowered heater does not heat');
  heater.clear(undefined, 6 * HOUR_MS);
  assert.deepEqual(heater.activeFaults(), []);
  const coldC = room.temperatureC;
  thermostat.sample(12 * HOUR_MS);
  assert.ok(room.temperatureC > coldC + 5, 'heating again once power is back');

  const mower = new MowerHardware({ initial: { state: 'mowing', batteryPercent: 50, coveragePercent: 40 } });
  mower.sample(0);
  mower.inject('power-loss', 0);
  assert.throws(() => mower.sample(HOUR_MS), /no power/);
  mower.clear('power-loss', 2 * HOUR_MS);
  assert.equal(mower.batteryPercent, 50, 'a mower without power stands still');
  assert.equal(mower.coveragePercent, 40);
});

test('an open window cools the room below what its heater holds; closed, the heater brings it back', () => {
  const rooms = [stillRoom(20), stillRoom(20)];
  const [open, closed] = rooms.map((room) => {
    const heater = new HeaterHardware(room, { setpointC: 20, maxPowerW: 2500 });
    return { room, heater, thermostat: new ThermostatHardware(room) };
  }) as [Devices, Devices];
  for (const d of [open, closed]) d.thermostat.sample(0);
  open.thermostat.inject({ type: 'window-open' }, 0);
  assert.deepEqual(open.thermostat.activeFaults(), ['window-open']);
  for (const d of [open, closed]) d.thermostat.sample(HOUR_MS);
  assert.ok(closed.room.temperatureC > 19.5, `closed: ${closed.room.temperatureC}`);
  assert.ok(open.room.temperatureC < 10, `open: ${open.room.temperatureC}`);
  // Either device of the room closes it.
  open.heater.inject('window-open', HOUR_MS);
  open.heater.clear('window-open', HOUR_MS);
  open.thermostat.sample(12 * HOUR_MS);
  assert.ok(open.room.temperatureC > 19.5, `closed again: ${open.room.temperatureC}`);
});

interface Devices {
  room: Room;
  heater: HeaterHardware;
  thermostat: ThermostatHardware;
}

test('bearing damage makes the wear jump and the pump vibrate in zone D; clearing it does not heal', () => {
  const pump = new PumpHardware({ initialWear: 0.1, wearPerRunHour: 0, speed: 1, seed: 4 });
  assert.ok((pump.sample(0).vibration ?? 0) < 1.8);
  pump.inject({ type: 'bearing-damage' }, 1000);
  assert.equal(pump.wear, 0.95);
  const vibration = Array.from({ length: 20 }, (_, i) => pump.sample(2000 + i * 1000).vibration ?? 0);
  assert.ok(Math.min(...vibration) > 7.1, `zone D: ${Math.min(...vibration)}`);
  pump.clear('bearing-damage', 30_000);
  assert.equal(pump.wear, 0.95);
  pump.inject({ type: 'bearing-damage', wear: 1 }, 31_000);
  assert.equal(pump.failed, true, 'a bearing damaged to the end seizes');
  pump.replaceBearing(32_000);
  assert.equal(pump.wear, 0);
});

test('a battery drain empties a mower even on its base', () => {
  const mower = new MowerHardware({ initial: { state: 'docked', batteryPercent: 90 } });
  mower.sample(0);
  mower.inject({ type: 'battery-drain', percentPerMin: 4 }, 0);
  mower.sample(20 * 60_000);
  assert.ok(mower.batteryPercent < 60, `charging 2 %/min, draining 4: ${mower.batteryPercent}`);
  mower.clear('battery-drain', 20 * 60_000);
  mower.sample(40 * 60_000);
  assert.ok(mower.batteryPercent > 80, `charging again: ${mower.batteryPercent}`);
});

test('a physical fault injected into a device it does not concern is refused', () => {
  assert.throws(() => new PumpHardware().inject('window-open', 0), RangeError);
  assert.throws(() => new MowerHardware().inject('bearing-damage', 0), RangeError);
  assert.throws(() => new ThermostatHardware(stillRoom(20)).inject('battery-drain', 0), RangeError);
});
