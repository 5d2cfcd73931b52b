// Simulated time. The demo may run the physics faster than the wall clock: the model is advanced
// by `elapsedMs × timeScale`. Absolute simulated time (used for the time of day) is therefore
// `originMs + (wallMs − originMs) × timeScale`, so the simulation starts at the wall time of its
// origin and then runs `timeScale` times faster.

export interface SimTimeOptions {
  /** The wall time (ms since the epoch) at which simulated and wall time coincide. Default 0. */
  originMs?: number;
  /** Simulated seconds per wall second; 1 = real time. Default 1. */
  timeScale?: number;
}

export class SimTime {
  readonly originMs: number;
  readonly timeScale: number;

  constructor(options: SimTimeOptions = {}) {
    const { originMs = 0, timeScale = 1 } = options;
    if (!Number.isFinite(originMs)) throw new RangeError('sim time: originMs must be finite');
    if (!(timeScale > 0 && Number.isFinite(timeScale))) {
      throw new RangeError('sim time: timeScale must be a positive finite number');
    }
    this.originMs = originMs;
    this.timeScale = timeScale;
  }

  /** The simulated time (ms since the epoch) at wall time `wallMs`. */
  toSim(wallMs: number): number {
    return this.originMs + (wallMs - this.originMs) * this.timeScale;
  }
}

/** 1 hour, in ms. */
export const HOUR_MS = 3_600_000;
/** 1 day, in ms. */
export const DAY_MS = 86_400_000;

/**
 * Splits `elapsedS` seconds into equal steps of at most `maxStepS`, but never more than `maxSteps`
 * of them: a very long jump takes longer steps, which the models tolerate because they integrate
 * each step in closed form (exponential decay) or clamp their state.
 */
export function steps(elapsedS: number, maxStepS: number, maxSteps = 200_000): { count: number; dtS: number } {
  if (!(elapsedS > 0)) return { count: 0, dtS: 0 };
  const count = Math.min(maxSteps, Math.max(1, Math.ceil(elapsedS / maxStepS)));
  return { count, dtS: elapsedS / count };
}
