// Seeded randomness for the simulator: every noise source draws from a PRNG built from a seed,
// so a test (or a demo recording) replays the same readings. Math.random is never used here.

/** A 32-bit PRNG (mulberry32): small, fast and good enough for sensor noise. */
export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A float in [min, max). */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** A normal deviate with mean 0 and standard deviation `sigma` (Box-Muller). */
  gaussian(sigma = 1): number {
    // 1 - next() is in (0, 1], so the logarithm stays finite.
    const u = 1 - this.next();
    const v = this.next();
    return sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/**
 * Mixes a seed with a text (a device name, a purpose) into a new 32-bit seed, so each device gets
 * its own stream and adding a device never changes another device's readings.
 */
export function deriveSeed(seed: number, text: string): number {
  // FNV-1a over the text, started from the seed, then a final avalanche.
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return hashInt(h);
}

/** A stateless hash of an integer to [0, 2^32): the base of time-indexed (pure) noise. */
export function hashInt(n: number): number {
  let h = n >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Smooth noise in [-1, 1] as a pure function of `x` (value noise: random knots at integers,
 * cosine-interpolated between them). Used where a reading must depend on the time only, not on
 * how often it was read.
 */
export function valueNoise(seed: number, x: number): number {
  const i = Math.floor(x);
  const f = x - i;
  const a = knot(seed, i);
  const b = knot(seed, i + 1);
  const w = (1 - Math.cos(Math.PI * f)) / 2;
  return a + (b - a) * w;
}

function knot(seed: number, i: number): number {
  // Knot indices can exceed 32 bits only after ~40 000 years of 15-minute knots; fold them anyway.
  const lo = i >>> 0;
  const hi = Math.floor(i / 4294967296) >>> 0;
  return (hashInt(hashInt(seed ^ lo) ^ hi) / 4294967296) * 2 - 1;
}
