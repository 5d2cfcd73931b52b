// Polls a condition on real time, for integration tests whose progress depends on sockets.

export interface WaitForOptions {
  /** Give up after this long, in ms (real time). Default 3000. */
  timeoutMs?: number;
  /** Poll period, in ms. Default 5. */
  intervalMs?: number;
  /** Named in the timeout error. */
  message?: string;
  /** Runs before each poll, e.g. to move a FakeClock forward while waiting. */
  onPoll?: () => void | Promise<void>;
}

/** Resolves with the first truthy value `predicate` returns; rejects when the time is up. */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const intervalMs = options.intervalMs ?? 5;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await options.onPoll?.();
    const value = await predicate();
    if (value) return value as NonNullable<T>;
    if (Date.now() >= deadline) {
      throw new Error(`waitFor: timed out after ${timeoutMs} ms${options.message ? `: ${options.message}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
