// The weather and the seeded randomness behind every noisy reading.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Environment } from './environment.js';
import { deriveSeed, Random, valueNoise } from './random.js';
import { HOUR_MS, SimTime, steps } from './sim-time.js';

test('the outside is coldest around 05:00 and warmest around 17:00, within mean ± amplitude', () => {
  const env = new Environment({ meanC: 8, amplitudeC: 5, noiseC: 0 });
  const day = 20_000 * 24 * HOUR_MS; // a midnight UTC
  const hourly = Array.from({ length: 24 }, (_, h) => env.outsideTemperatureC(day + h * HOUR_MS));
  assert.equal(hourly.indexOf(Math.min(...hourly)), 5);
  assert.equal(hourly.indexOf(Math.max(...hourly)), 17);
  assert.ok(Math.abs(Math.min(...hourly) - 3) < 1e-9 && Math.abs(Math.max(...hourly) - 13) < 1e-9);
  const local = new Environment({ noiseC: 0, utcOffsetHours: 2 });
  assert.ok(Math.abs(local.outsideTemperatureC(day + 3 * HOUR_MS) - env.outsideTemperatureC(day + 5 * HOUR_MS)) < 1e-9);
});

test('weather noise is small, smooth and a pure function of time and seed', () => {
  const a = new Environment({ seed: 1 });
  const b = new Environment({ seed: 1 });
  const quiet = new Environment({ seed: 1, noiseC: 0 });
  for (let m = 0; m < 600; m += 7) {
    const t = 1_764_000_000_000 + m * 60_000;
    assert.equal(a.outsideTemperatureC(t), b.outsideTemperatureC(t));
    assert.ok(Math.abs(a.outsideTemperatureC(t) - quiet.outsideTemperatureC(t)) <= 0.5 + 1e-9);
    // A minute later the temperature has moved by a few hundredths of a degree at most.
    assert.ok(Math.abs(a.outsideTemperatureC(t + 60_000) - a.outsideTemperatureC(t)) < 0.05);
  }
  assert.notEqual(new Environment({ seed: 2 }).outsideTemperatureC(0), a.outsideTemperatureC(0));
  for (let x = -5; x < 5; x += 0.37) assert.ok(Math.abs(valueNoise(9, x)) <= 1);
});

test('the PRNG replays from its seed and its deviates have the expected shape', () => {
  const draw = (seed: number) => Array.from({ length: 5 }, () => new Random(seed).next());
  assert.deepEqual(draw(1), draw(1));
  const r = new Random(123);
  const xs = Array.from({ length: 20_000 }, () => r.gaussian(2));
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  assert.ok(Math.abs(mean) < 0.05 && Math.abs(sd - 2) < 0.05, `${mean} ${sd}`);
  assert.ok(xs.every(Number.isFinite));
  assert.notEqual(deriveSeed(1, 'pump-01'), deriveSeed(1, 'pump-02'));
  assert.notEqual(deriveSeed(1, 'pump-01'), deriveSeed(2, 'pump-01'));
});

test('simulated time starts at its origin and runs timeScale times faster', () => {
  const time = new SimTime({ originMs: 1000, timeScale: 60 });
  assert.equal(time.toSim(1000), 1000);
  assert.equal(time.toSim(2000), 61_000);
  assert.throws(() => new SimTime({ timeScale: 0 }), RangeError);
  assert.deepEqual(steps(100, 15), { count: 7, dtS: 100 / 7 });
  assert.deepEqual(steps(0, 15), { count: 0, dtS: 0 });
  assert.equal(steps(1e9, 15, 1000).count, 1000);
});
