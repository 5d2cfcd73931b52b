// What a module sees of the device: its ModuleContext. Every call goes through the module's
// permissions (DESIGN: a module declares what it may touch, the agent denies the rest). In
// `enforce` mode (the default) a call outside them is denied: reads see nothing, actuate and raise
// throw ModuleDenied. In `audit` mode the call goes through and the violation is only recorded,
// so a new restriction can be tried on a working fleet before it is enforced. Either way the
// supervisor turns a violation into an event (rate-limited).

import type { Clock, Logger } from '@homeostat/kit';
import { isMetricName, type ModulePermissions, type WindowStat } from '@homeostat/protocol';
import type { RaiseEventInput } from '../agent.js';
import type { ActuatorValue, Metrics } from '../device/hardware.js';
import { type LocalStreams, type ModuleContext, ModuleDenied, type Sample } from './module.js';

export interface Violation {
  what: 'metric' | 'actuator' | 'event';
  target: string;
  /** true: the call was denied; false: audit mode let it through. */
  denied: boolean;
}

/** The module's permissions, with the protocol's defaults: every stream and event, no actuator. */
export class Permissions {
  readonly #metrics: ReadonlySet<string> | null;
  readonly #actuators: ReadonlySet<string>;
  readonly #events: ReadonlySet<string> | null;
  readonly audit: boolean;

  constructor(permissions: ModulePermissions | undefined) {
    this.#metrics = permissions?.metrics ? new Set(permissions.metrics) : null;
    this.#actuators = new Set(permissions?.actuators ?? []);
    this.#events = permissions?.events ? new Set(permissions.events) : null;
    this.audit = permissions?.mode === 'audit';
  }

  mayRead(metric: string): boolean {
    return this.#metrics === null || this.#metrics.has(metric);
  }

  mayActuate(actuator: string): boolean {
    return this.#actuators.has(actuator);
  }

  mayRaise(code: string | undefined): boolean {
    return this.#events === null || (code !== undefined && this.#events.has(code));
  }

  /**
   * The part of a sample the module receives: in enforce mode the metrics it may read (null when
   * none is left); in audit mode all of it, since only an explicit read can be told apart as a use.
   */
  deliverable(sample: Sample): Sample | null {
    if (this.#metrics === null || this.audit) return sample;
    const metrics: Metrics = {};
    let any = false;
    for (const [k, v] of Object.entries(sample.metrics)) {
      if (!this.#metrics.has(k)) continue;
      metrics[k] = v;
      any = true;
    }
    return any ? { ...sample, metrics } : null;
  }
}

export interface ContextDeps {
  name: string;
  permissions: Permissions;
  clock: Clock;
  logger: Logger;
  streams: LocalStreams;
  dataDir: string | null;
  /** False once this incarnation of the module was stopped or crashed: its late calls are dropped. */
  alive(): boolean;
  /** A derived sample (names and values checked) for the local streams, the other modules and upstream. */
  emit(sample: Sample): void;
  /** The hardware's actuate; throws when the device has no such actuator. */
  actuate(actuator: string, value: ActuatorValue, now: number): void;
  raise(event: RaiseEventInput): void;
  crashed(error: Error): void;
  violation(violation: Violation): void;
}

export function moduleContext(deps: ContextDeps): ModuleContext {
  const { name, permissions, clock, logger, dataDir } = deps;
  /** true when the call may go on; records the violation otherwise. */
  const allowed = (what: Violation['what'], target: string, ok: boolean): boolean => {
    if (ok) return true;
    deps.violation({ what, target, denied: !permissions.audit });
    return permissions.audit;
  };
  const readable = (metric: string) => allowed('metric', metric, permissions.mayRead(metric));
  const streams: LocalStreams = {
    latest: (metric) => (readable(metric) ? deps.streams.latest(metric) : undefined),
    stat: (metric: string, sizeMs: number, stat: WindowStat, now: number) =>
      readable(metric) ? deps.streams.stat(metric, sizeMs, stat, now) : undefined,
    window: (metric, sizeMs, now) => (readable(metric) ? deps.streams.window(metric, sizeMs, now) : []),
  };
  return {
    name,
    clock,
    logger,
    streams,
    dataDir,
    emit(metrics, ts) {
      if (!deps.alive()) return;
      const valid: Metrics = {};
      let any = false;
      for (const [k, v] of Object.entries(metrics)) {
        if (isMetricName(k) && typeof v === 'number' && Number.isFinite(v)) {
          valid[k] = v;
          any = true;
        } else logger.warn({ metric: k }, 'module: emitted metric ignored (invalid name or not a finite number)');
      }
      if (any) deps.emit({ ts: ts ?? clock.now(), metrics: valid, source: name });
    },
    actuate(actuator, value) {
      if (!deps.alive()) return;
      if (!allowed('actuator', actuator, permissions.mayActuate(actuator))) {
        throw new ModuleDenied(`module ${name} may not drive actuator ${actuator}`);
      }
      deps.actuate(actuator, value, clock.now());
    },
    raise(event) {
      if (!deps.alive()) return;
      if (!allowed('event', event.code ?? '(no code)', permissions.mayRaise(event.code))) {
        throw new ModuleDenied(`module ${name} may not raise event ${event.code ?? 'without a code'}`);
      }
      deps.raise({ ...event, data: { ...event.data, module: name } });
    },
    crashed(error) {
      if (deps.alive()) deps.crashed(error);
    },
  };
}
