// The weather outside: a daily sinusoid of the outside temperature plus slow smooth noise. It is a
// pure function of the simulated time, so rooms that share it (one environment per site) agree,
// and reading it often or rarely gives the same value.

import { hashInt, valueNoise } from './random.js';
import { HOUR_MS } from './sim-time.js';

export interface EnvironmentOptions {
  /** Daily mean outside temperature, °C. Default 8 (a mild European winter day). */
  meanC?: number;
  /** Half the daily swing, °C. Default 5 (3 °C at dawn, 13 °C mid-afternoon). */
  amplitudeC?: number;
  /** Hour of the day (local time, 0..24) of the coldest moment. Default 5 (05:00). */
  coldestHour?: number;
  /** Local time minus UTC, hours; the sinusoid follows local time. Default 0. */
  utcOffsetHours?: number;
  /** Amplitude of the weather noise, °C. Default 0.5. */
  noiseC?: number;
  /** Seed of the weather noise. Default 1. */
  seed?: number;
}

/** Spacing of the weather-noise knots: the noise changes over an hour or so, not per reading. */
const NOISE_KNOT_MS = 60 * 60_000;

export class Environment {
  readonly meanC: number;
  readonly amplitudeC: number;
  readonly coldestHour: number;
  readonly utcOffsetHours: number;
  readonly noiseC: number;
  readonly #seed: number;

  constructor(options: EnvironmentOptions = {}) {
    this.meanC = options.meanC ?? 8;
    this.amplitudeC = options.amplitudeC ?? 5;
    this.coldestHour = options.coldestHour ?? 5;
    this.utcOffsetHours = options.utcOffsetHours ?? 0;
    this.noiseC = options.noiseC ?? 0.5;
    this.#seed = hashInt(options.seed ?? 1);
  }

  /** The outside temperature, °C, at the simulated time `simMs` (ms since the epoch). */
  outsideTemperatureC(simMs: number): number {
    const hour = (simMs / HOUR_MS + this.utcOffsetHours) % 24;
    // The cosine peaks at the coldest hour; the minus sign turns that peak into the minimum.
    const daily = -this.amplitudeC * Math.cos((2 * Math.PI * (hour - this.coldestHour)) / 24);
    return this.meanC + daily + this.noiseC * valueNoise(this.#seed, simMs / NOISE_KNOT_MS);
  }
}
