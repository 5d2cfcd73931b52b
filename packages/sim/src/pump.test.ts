// The pump's bearing wear, its vibration signature and its failure.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PumpHardware } from './pump.js';
import { HOUR_MS } from './sim-time.js';

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

test('vibration and bearing temperature grow with wear', () => {
  const levels = [0, 0.2, 0.4, 0.6, 0.8, 0.95];
  const readings = levels.map((w) => {
    const pump = new PumpHardware({ initialWear: w, wearPerRunHour: 0, speed: 1, seed: 11 });
    const samples = Array.from({ length: 40 }, (_, i) => pump.sample(i * HOUR_MS));
    return {
      vibration: mean(samples.map((s) => s.vibration ?? 0)),
      band: mean(samples.map((s) => s.vibrationBearing ?? 0)),
      bearingC: mean(samples.slice(10).map((s) => s.bearingTemperature ?? 0)),
    };
  });
  for (let i = 1; i < readings.length; i++) {
    const [a, b] = [readings[i - 1]!, readings[i]!];
    assert.ok(b.vibration > a.vibration, `vibration at w=${levels[i]}`);
    assert.ok(b.band > a.band, `bearing band at w=${levels[i]}`);
    assert.ok(b.bearingC > a.bearingC, `bearing temperature at w=${levels[i]}`);
  }
  // New: ISO 10816 zone A; nearly worn out: zone D.
  assert.ok(readings[0]!.vibration < 1.8 && readings.at(-1)!.vibration > 7.1);
});

test('a wearing pump trends up hour after hour, then its bearing fails at w = 1', () => {
  const pump = new PumpHardware({ initialWear: 0.5, wearPerRunHour: 0.05, speed: 1, seed: 3 });
  const hourly: number[] = [];
  let h = 0;
  let before = pump.sample(0);
  while (!pump.failed && h < 100) {
    h++;
    const window = Array.from({ length: 6 }, (_, i) => pump.sample((h - 1) * HOUR_MS + i * 600_000));
    hourly.push(mean(window.map((s) => s.vibration ?? 0)));
    if (!pump.failed) before = window.at(-1)!;
  }
  assert.ok(pump.failed && pump.wear === 1);
  assert.ok(h >= 9 && h <= 11, `failed after ${h} h (0.5 wear at 0.05 per hour)`);
  const rising = hourly.slice(1, -1).filter((v, i) => v > hourly[i]!).length;
  assert.ok(rising >= (hourly.length - 2) * 0.7, `mostly rising: ${hourly.map((v) => v.toFixed(2))}`);
  const failed = pump.sample(h * HOUR_MS + 1);
  assert.equal(failed.flow, 0);
  assert.equal(failed.speed, 0);
  assert.ok((failed.vibration ?? 0) > 2 * (before.vibration ?? 0), 'vibration spikes');
  assert.ok((failed.pressure ?? 0) < (before.pressure ?? 0));
  const runHours = failed.runHours;
  assert.equal(pump.sample((h + 5) * HOUR_MS).runHours, runHours, 'a seized pump does not run');
  assert.deepEqual(pump.applyDesired({ speed: 0.5 }, (h + 5) * HOUR_MS), { running: true, speed: 0.5, failed: true });
  pump.replaceBearing((h + 6) * HOUR_MS);
  const fixed = pump.sample((h + 7) * HOUR_MS);
  assert.ok((fixed.flow ?? 0) > 0 && (fixed.vibration ?? 99) < 2);
});

test('flow and pressure follow the pump curve: more speed, more of both; stopped, none', () => {
  const pump = new PumpHardware({ seed: 1 });
  const at = (speed: number, t: number) => {
    pump.applyDesired({ speed, running: true }, t);
    return pump.sample(t);
  };
  const slow = at(0.5, 0);
  const fast = at(1, 1000);
  assert.ok((fast.flow ?? 0) > (slow.flow ?? 0) && (fast.pressure ?? 0) > (slow.pressure ?? 0));
  // Below the speed that lifts the static head, the pump only churns.
  assert.equal(at(0.3, 2000).flow, 0);
  pump.applyDesired({ running: false }, 3000);
  const stopped = pump.sample(3000);
  assert.equal(stopped.flow, 0);
  assert.equal(stopped.speed, 0);
  assert.ok((stopped.vibration ?? 1) < 0.2);
  assert.deepEqual(pump.applyDesired({ running: 'yes', speed: 2 }, 4000), {
    running: false,
    speed: 0.3,
    failed: false,
  });
});

test('the speed and running actuators slow and stop the pump, and a worn bearing then wears slower', () => {
  const pump = new PumpHardware({ initialWear: 0.6, wearPerRunHour: 0.01, speed: 1, seed: 2 });
  const full = pump.sample(0);
  pump.actuate('speed', 0.5, 0);
  // An unrelated twin update re-applies the desired speed it always had: no new order.
  assert.equal(pump.applyDesired({ speed: 1 }, 0).speed, 0.5);
  const wearBefore = pump.wear;
  const slow = pump.sample(10 * HOUR_MS);
  assert.equal(slow.speed, 0.5);
  assert.ok((slow.vibration ?? 99) < (full.vibration ?? 0) && (slow.flow ?? 99) < (full.flow ?? 0));
  assert.ok(Math.abs(pump.wear - wearBefore - 0.05) < 1e-9, 'wear at half the rate of full speed');
  pump.actuate('running', false, 10 * HOUR_MS);
  const stopped = pump.sample(11 * HOUR_MS);
  assert.equal(stopped.speed, 0);
  assert.equal(stopped.flow, 0);
  pump.actuate('running', true, 11 * HOUR_MS);
  pump.actuate('speed', true, 11 * HOUR_MS);
  assert.equal(pump.sample(12 * HOUR_MS).speed, 1, 'a boolean speed is full or nothing');
  assert.throws(() => pump.actuate('running', 1, 12 * HOUR_MS), /running takes a boolean/);
  assert.throws(() => pump.actuate('speed', -0.1, 12 * HOUR_MS), /0\.\.1 or a boolean/);
  assert.throws(() => pump.actuate('motor', 1, 12 * HOUR_MS), /no actuator 'motor'/);
});
