// Models the hub runs for devices that cannot (placement "hub": the device lacks the execution
// provider or the memory the model requires). The same WindowScorer and runner as on a device,
// fed from the device's telemetry as it arrives instead of its local streams: for each device a
// short buffer of the input metrics, for each model one warmed-up session shared by every device
// it serves. The outputs come back as derived readings of that device, stored like its own.

import { type InferenceRunner, type ModelStore, WindowScorer } from '@homeostat/inference';
import type { ModelConfig } from '@homeostat/protocol';

export interface HubModelsDeps {
  /** Model files by hash (the hub's artifact store). */
  store: ModelStore;
  /** A new runner per model (an OnnxRunner in the hub). */
  createRunner(): InferenceRunner;
}

/** A value the hub derived for a device: store it as that device's reading. */
export interface DerivedReading {
  ts: number;
  metric: string;
  value: number;
}

interface Placed {
  config: ModelConfig;
  scorer: WindowScorer;
  lastRunAt: number;
}

interface Shared {
  runner: InferenceRunner;
  users: number;
}

export class HubModels {
  readonly #deps: HubModelsDeps;
  /** Sessions by model hash, shared by every device whose model the hub runs. */
  readonly #sessions = new Map<string, Promise<Shared>>();
  /** By device, then module name. */
  readonly #placed = new Map<string, Map<string, Placed>>();
  /** By device: recent values of each metric its models read, oldest first. */
  readonly #buffers = new Map<string, Map<string, { ts: number; value: number }[]>>();

  constructor(deps: HubModelsDeps) {
    this.#deps = deps;
  }

  /** Runs `config` for `deviceId` from now on (replacing that module's previous model). */
  async place(deviceId: string, module: string, config: ModelConfig): Promise<void> {
    const shared = await this.#session(config.artifact.sha256);
    // Counted before the old placement goes, so replacing a model by itself keeps its session.
    shared.users++;
    await this.remove(deviceId, module);
    const scorer = new WindowScorer(shared.runner, config.inputs);
    const modules = this.#placed.get(deviceId) ?? new Map<string, Placed>();
    this.#placed.set(deviceId, modules);
    modules.set(module, { config, scorer, lastRunAt: Number.NEGATIVE_INFINITY });
  }

  async remove(deviceId: string, module: string): Promise<void> {
    const placed = this.#placed.get(deviceId)?.get(module);
    if (!placed) return;
    this.#placed.get(deviceId)!.delete(module);
    if (this.#placed.get(deviceId)!.size === 0) {
      this.#placed.delete(deviceId);
      this.#buffers.delete(deviceId);
    }
    const sha256 = placed.config.artifact.sha256;
    const shared = await this.#sessions.get(sha256)!;
    if (--shared.users === 0) {
      this.#sessions.delete(sha256);
      await shared.runner.dispose();
    }
  }

  /** Takes one reading of a device; returns what its hub-placed models derived from it. */
  async onReading(deviceId: string, ts: number, metrics: Record<string, number>): Promise<DerivedReading[]> {
    const modules = this.#placed.get(deviceId);
    if (!modules) return [];
    const buffer = this.#record(deviceId, modules, ts, metrics);
    const out: DerivedReading[] = [];
    for (const placed of modules.values()) {
      const { inputs, output, everyMs = 0 } = placed.config;
      if (ts - placed.lastRunAt < everyMs) continue;
      placed.lastRunAt = ts;
      const value = await placed.scorer.score((m) =>
        (buffer.get(m) ?? []).filter((v) => v.ts > ts - inputs.windowMs && v.ts <= ts).map((v) => v.value),
      );
      if (value !== null) out.push({ ts, metric: output.metric, value });
    }
    return out;
  }

  async close(): Promise<void> {
    for (const [deviceId, modules] of [...this.#placed]) {
      for (const module of [...modules.keys()]) await this.remove(deviceId, module);
    }
  }

  /** Appends the values the device's models read, and forgets those older than any window. */
  #record(deviceId: string, modules: Map<string, Placed>, ts: number, metrics: Record<string, number>) {
    const buffer = this.#buffers.get(deviceId) ?? new Map<string, { ts: number; value: number }[]>();
    this.#buffers.set(deviceId, buffer);
    let keepMs = 0;
    for (const { config } of modules.values()) keepMs = Math.max(keepMs, config.inputs.windowMs);
    for (const { config } of modules.values()) {
      for (const metric of config.inputs.metrics) {
        const values = buffer.get(metric) ?? [];
        buffer.set(metric, values);
        const value = metrics[metric];
        // Two models reading one metric must not append it twice.
        if (value !== undefined && values.at(-1)?.ts !== ts) values.push({ ts, value });
        while (values.length > 0 && values[0]!.ts <= ts - keepMs) values.shift();
      }
    }
    return buffer;
  }

  #session(sha256: string): Promise<Shared> {
    let session = this.#sessions.get(sha256);
    if (!session) {
      session = (async () => {
        const bytes = await this.#deps.store.get(sha256);
        if (!bytes) throw new Error(`model ${sha256} is not in the hub's model store`);
        const runner = this.#deps.createRunner();
        await runner.load({ bytes, sha256 });
        return { runner, users: 0 };
      })();
      this.#sessions.set(sha256, session);
      session.catch(() => this.#sessions.delete(sha256));
    }
    return session;
  }
}
