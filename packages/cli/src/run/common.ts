// Shared pieces of the run commands: integer flags, waiting for Ctrl-C, free ports.

import { createServer } from 'node:net';
import { UsageError } from '../errors.js';

export function intFlag(name: string, min: number, max: number) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new UsageError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    }
    return n;
  };
}

/**
 * Resolves with the signal's name on the first SIGINT or SIGTERM, and keeps the process alive
 * until then: the runtime's own timers are unref'd, and an agent waiting to reconnect has no
 * open socket, so nothing else holds the event loop.
 */
export function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const keepAlive = setInterval(() => {}, 1 << 30);
    const done = (signal: string) => {
      clearInterval(keepAlive);
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve(signal);
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}

/** `preferred` when it can be bound on `host`, else 0 (the system picks a free port). */
export function portOrFree(preferred: number, host: string): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(0));
    probe.listen(preferred, host, () => probe.close(() => resolve(preferred)));
  });
}
