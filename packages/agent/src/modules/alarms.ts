// The events the supervisor sends upstream about modules, with their codes in one place (listed
// in docs/errors.md): crashes, crash-loop entry, refusals, permission violations. Crashes and
// violations are rate-limited per module (and per target), so a module crashing in a tight loop or
// a rule denied on every sample cannot flood the outbox; the next event says how many were held back.

import type { Clock, Logger } from '@homeostat/kit';
import type { RaiseEventInput } from '../agent.js';
import type { Violation } from './context.js';

/** Crash events of one module at most this often, ms. */
const CRASH_EVENT_INTERVAL_MS = 1000;
/** Permission events per (module, what, target) at most this often, ms. */
const VIOLATION_EVENT_INTERVAL_MS = 60_000;
/** Rate-limit keys kept before old ones are pruned. */
const MAX_KEYS = 1000;

/** Who the event is about. */
export interface ModuleRef {
  name: string;
  rev: string | null;
}

export class ModuleAlarms {
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #raise: (event: RaiseEventInput) => void;
  readonly #limited = new Map<string, { at: number; suppressed: number }>();

  constructor(clock: Clock, logger: Logger, raise: (event: RaiseEventInput) => void) {
    this.#clock = clock;
    this.#logger = logger;
    this.#raise = raise;
  }

  crashed(m: ModuleRef, error: Error, restarts: number, restartInMs: number | null): void {
    this.#rateLimited(`crash:${m.name}`, CRASH_EVENT_INTERVAL_MS, {
      type: 'alarm',
      code: 'MODULE_CRASHED',
      severity: 'warning',
      message: `module ${m.name} crashed: ${error.message}`,
      data: { module: m.name, rev: m.rev, restarts, restartInMs },
    });
  }

  crashLoop(m: ModuleRef, error: Error, crashes: number, windowMs: number, delayMs: number): void {
    this.raise({
      type: 'alarm',
      code: 'MODULE_CRASH_LOOP',
      severity: 'critical',
      message: `module ${m.name} crashed ${crashes} times within ${windowMs} ms; restarting every ${delayMs} ms`,
      data: { module: m.name, rev: m.rev, crashes, error: error.message },
    });
  }

  refused(m: ModuleRef, kind: string | null, reason: string): void {
    this.raise({
      type: 'alarm',
      code: 'MODULE_REFUSED',
      severity: 'warning',
      message: `module ${m.name} refused: ${reason}`,
      data: { module: m.name, rev: m.rev, kind },
    });
  }

  violation(m: ModuleRef, v: Violation): void {
    const code = v.denied ? 'MODULE_PERMISSION_DENIED' : 'MODULE_PERMISSION_AUDIT';
    const verb = { metric: 'read stream', actuator: 'drive actuator', event: 'raise event' }[v.what];
    this.#logger.warn({ module: m.name, ...v }, 'modules: permission violation');
    this.#rateLimited(`${code}:${m.name}:${v.what}:${v.target}`, VIOLATION_EVENT_INTERVAL_MS, {
      type: v.denied ? 'alarm' : 'log',
      code,
      severity: 'warning',
      message: `module ${m.name} ${v.denied ? 'was denied' : 'would be denied'}: ${verb} ${v.target}`,
      data: { module: m.name, rev: m.rev, what: v.what, target: v.target },
    });
  }

  /** Any event (a module's own too); a full outbox is logged, never thrown at the module. */
  raise(event: RaiseEventInput): void {
    try {
      this.#raise(event);
    } catch (err) {
      this.#logger.error({ code: event.code, err: (err as Error).message }, 'modules: event not queued');
    }
  }

  #rateLimited(key: string, intervalMs: number, event: RaiseEventInput): void {
    const now = this.#clock.now();
    const last = this.#limited.get(key);
    if (last && now - last.at < intervalMs) {
      last.suppressed++;
      return;
    }
    // A module trying many targets must not grow this map for ever: forget what is a minute old.
    if (this.#limited.size > MAX_KEYS) {
      for (const [k, v] of this.#limited) if (now - v.at >= VIOLATION_EVENT_INTERVAL_MS) this.#limited.delete(k);
    }
    this.#limited.set(key, { at: now, suppressed: 0 });
    const suppressed = last?.suppressed ?? 0;
    this.raise(suppressed > 0 ? { ...event, data: { ...event.data, suppressed } } : event);
  }
}
