// The `aggregate` module kind: the edge aggregate stage (edge/aggregate.ts) run as a module. The
// agent has one telemetry stage, which every reading on its way upstream goes through; it runs the
// desired `telemetry` settings by default. While an aggregate module runs, the stage runs that
// module's settings instead; when it stops, the stage goes back to the settings under it (another
// aggregate module still running, the newest first, or else the desired `telemetry` key).

import type { TelemetrySettings } from '@homeostat/protocol';
import type { ModuleKindRunner } from './module.js';

export class TelemetryStage {
  readonly #onChange: (settings: TelemetrySettings) => void;
  #default: TelemetrySettings = { mode: 'raw' };
  /** Modules holding the stage, oldest first; the last one's settings run. */
  readonly #held: { owner: string; settings: TelemetrySettings }[] = [];

  /** `onChange` receives the settings to run whenever they change. */
  constructor(onChange: (settings: TelemetrySettings) => void) {
    this.#onChange = onChange;
  }

  get current(): TelemetrySettings {
    return this.#held.at(-1)?.settings ?? this.#default;
  }

  /** The desired `telemetry` settings: they run when no aggregate module does. */
  setDefault(settings: TelemetrySettings): void {
    this.#default = settings;
    if (this.#held.length === 0) this.#onChange(settings);
  }

  use(owner: string, settings: TelemetrySettings): void {
    this.#drop(owner);
    this.#held.push({ owner, settings });
    this.#onChange(settings);
  }

  release(owner: string): void {
    const wasCurrent = this.#held.at(-1)?.owner === owner;
    this.#drop(owner);
    if (wasCurrent) this.#onChange(this.current);
  }

  #drop(owner: string): void {
    const i = this.#held.findIndex((h) => h.owner === owner);
    if (i >= 0) this.#held.splice(i, 1);
  }
}

export function aggregateKind(stage: TelemetryStage): ModuleKindRunner<'aggregate'> {
  return {
    kind: 'aggregate',
    async start(spec, ctx) {
      stage.use(ctx.name, spec.config);
      return {
        stop: async () => stage.release(ctx.name),
      };
    },
  };
}
