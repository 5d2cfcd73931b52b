// Exponential backoff with full jitter: the wait before retry `attempt` (0-based) is a random
// value in [0, min(max, initial * factor^attempt)], so a fleet that lost its hub does not
// reconnect in lockstep.

export interface BackoffOptions {
  /** First ceiling, in ms. */
  initialMs: number;
  /** Largest ceiling, in ms. */
  maxMs: number;
  /** Growth per attempt. */
  factor?: number;
  /** Source of randomness in [0, 1); injected for tests. */
  random?: () => number;
}

export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const factor = options.factor ?? 2;
  const ceiling = Math.min(options.maxMs, options.initialMs * factor ** Math.max(0, attempt));
  const random = options.random ?? Math.random;
  return Math.round(ceiling * random());
}
