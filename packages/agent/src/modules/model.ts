// The `model` module kind: an ONNX model fed from local streams. At start it finds the model by
// hash (the cache in the data directory, else the artifact source), decides where it runs (here,
// or in the hub when the device does not meet the model's requirements), loads and warms the
// session up; then on each new hardware sample (or every `everyMs`) it builds the input row from
// the windows of its input streams, runs the model and emits the first output as a derived metric
// (rules read it, and it goes upstream). The step itself is @homeostat/inference's WindowScorer,
// which the hub runs for a model placed there.

import {
  type InferenceRunner,
  type ModelStore,
  type Placement,
  type PlacementDecision,
  placement,
  WindowScorer,
} from '@homeostat/inference';
import type { Capabilities, ModelConfig, ModuleSpec } from '@homeostat/protocol';
import type { HealthResult, ModuleContext, ModuleKindRunner, RunningModule, Sample } from './module.js';

export interface ModelKindDeps {
  /** The device's capabilities, its execution providers included. */
  capabilities(): Capabilities;
  /** Model files by hash; a DirModelStore under the data directory, or memory. */
  store: ModelStore;
  /** Fetches an artifact's bytes when the store does not have them; absent: store only. */
  fetchArtifact?(artifact: ModelConfig['artifact']): Promise<Uint8Array>;
  /** A new runner per module (an OnnxRunner on a device). */
  createRunner(): InferenceRunner;
}

type ModelSpec = Extract<ModuleSpec, { kind: 'model' }>;

/** Where this config runs on a device with these capabilities. */
export function placeModel(config: ModelConfig, capabilities: Capabilities): PlacementDecision {
  if (config.placement === 'edge' || config.placement === 'hub') return { placement: config.placement, reasons: [] };
  const req = config.requires ?? {};
  return placement(
    {
      ...(req.executionProviders ? { executionProviders: req.executionProviders } : {}),
      ...(req.memoryBytes !== undefined ? { memoryMb: req.memoryBytes / (1024 * 1024) } : {}),
    },
    capabilities,
  );
}

export class ModelKind implements ModuleKindRunner<'model'> {
  readonly kind = 'model' as const;
  readonly #deps: ModelKindDeps;

  constructor(deps: ModelKindDeps) {
    this.#deps = deps;
  }

  async start(spec: ModelSpec, ctx: ModuleContext): Promise<RunningModule> {
    const config = spec.config;
    const decision = placeModel(config, this.#deps.capabilities());
    if (decision.placement === 'hub') {
      ctx.logger.info({ module: ctx.name, reasons: decision.reasons }, 'model placed in the hub');
      return hubPlaced(decision);
    }
    const bytes = await this.#bytes(config.artifact);
    const runner = this.#deps.createRunner();
    await runner.load({ bytes, sha256: config.artifact.sha256 });
    return new ModelPipeline(config, runner, ctx);
  }

  async #bytes(artifact: ModelConfig['artifact']): Promise<Uint8Array> {
    const cached = await this.#deps.store.get(artifact.sha256);
    if (cached) return cached;
    if (!this.#deps.fetchArtifact) throw new Error(`model ${artifact.sha256} is not in the model cache`);
    const bytes = await this.#deps.fetchArtifact(artifact);
    await this.#deps.store.put({ bytes, sha256: artifact.sha256 });
    return bytes;
  }
}

/** A model module whose model runs in the hub: nothing to do here but say so. */
function hubPlaced(decision: PlacementDecision): RunningModule {
  return {
    placement: () => 'hub',
    health: () => ({ healthy: true, detail: `runs in the hub: ${decision.reasons.join('; ')}` }),
    stop: async () => {},
  };
}

/**
 * The running model: windows in, score out. One run at a time: a sample that arrives while the
 * previous run is still in flight does not queue another (the next sample will see fresher data).
 */
export class ModelPipeline implements RunningModule {
  readonly #config: ModelConfig;
  readonly #runner: InferenceRunner;
  readonly #ctx: ModuleContext;
  readonly #scorer: WindowScorer;
  #busy = false;
  #lastRunAt = Number.NEGATIVE_INFINITY;
  #runs = 0;
  #skipped = 0;

  constructor(config: ModelConfig, runner: InferenceRunner, ctx: ModuleContext) {
    this.#config = config;
    this.#runner = runner;
    this.#ctx = ctx;
    this.#scorer = new WindowScorer(runner, config.inputs);
  }

  placement(): Placement {
    return 'edge';
  }

  onSample(sample: Sample): void {
    if (sample.source !== undefined) return; // derived metrics, our own included
    const every = this.#config.everyMs ?? 0;
    if (this.#busy || sample.ts - this.#lastRunAt < every) return;
    this.#lastRunAt = sample.ts;
    this.#busy = true;
    this.score(sample.ts)
      .catch((err: Error) => this.#ctx.crashed(err))
      .finally(() => {
        this.#busy = false;
      });
  }

  /** Scores the window ending at `now` and emits it; false when a stream has no value in it. */
  async score(now: number): Promise<boolean> {
    const { inputs, output } = this.#config;
    const value = await this.#scorer.score((m) =>
      this.#ctx.streams.window(m, inputs.windowMs, now).map((v) => v.value),
    );
    if (value === null) {
      this.#skipped++;
      return false;
    }
    this.#runs++;
    this.#ctx.emit({ [output.metric]: value }, now);
    return true;
  }

  health(): HealthResult {
    if (!this.#runner.ready) return { healthy: false, detail: 'model not loaded' };
    return { healthy: true, detail: `${this.#runs} runs, ${this.#skipped} windows without data` };
  }

  async stop(): Promise<void> {
    await this.#runner.dispose();
  }
}
