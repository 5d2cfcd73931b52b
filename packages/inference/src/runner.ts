// The InferenceRunner port: one model, loaded from its bytes and hash, warmed up, then run. The
// agent runs it at the edge and the hub runs the very same code for devices that cannot, so both
// sides import it from this package. Implementations: onnxruntime (OnnxRunner) and the pure
// TypeScript reference of the anomaly model family (ReferenceRunner); one contract suite for both.

import { createHash } from 'node:crypto';
import { HomeostatError } from '@homeostat/protocol';

/** A float32 tensor, row-major. */
export interface Tensor {
  data: Float32Array;
  dims: readonly number[];
}

export type Tensors = Record<string, Tensor>;

/** A model as an artifact: its bytes and the SHA-256 (hex) it is identified by. */
export interface ModelBytes {
  bytes: Uint8Array;
  sha256: string;
}

export interface ModelIo {
  name: string;
  /** Dimensions; -1 for a dimension the model leaves free (the batch). */
  dims: readonly number[];
}

export interface InferenceRunner {
  /** Execution providers this runner can use on this machine, e.g. `['cpu']`. */
  executionProviders(): readonly string[];
  /**
   * Verifies the hash (ERR_MODEL_HASH_MISMATCH), creates the session (ERR_MODEL_INVALID) and runs
   * it `warmupRuns` times on zeros before resolving: the first runs of a session allocate and pay
   * for lazy initialisation, and a session is declared ready only once they are behind it.
   */
  load(model: ModelBytes): Promise<void>;
  /** True between a successful load() and dispose(). */
  readonly ready: boolean;
  /** SHA-256 of the loaded model, or null. */
  readonly sha256: string | null;
  readonly inputs: readonly ModelIo[];
  readonly outputs: readonly ModelIo[];
  /** Runs the model; inputs not matching the model's are refused with ERR_MODEL_INPUT. */
  run(inputs: Tensors): Promise<Tensors>;
  /** Releases the session; run() is refused afterwards. */
  dispose(): Promise<void>;
}

/** A model opened by an implementation: what SessionRunner needs from it. */
export interface OpenedModel {
  inputs: ModelIo[];
  outputs: ModelIo[];
  run(inputs: Tensors): Promise<Tensors> | Tensors;
  release(): Promise<void> | void;
}

export interface RunnerOptions {
  /** Runs on zeros before load() resolves. Default 3. */
  warmupRuns?: number;
}

export const DEFAULT_WARMUP_RUNS = 3;

/**
 * What every runner promises, written once: hash check, replacing a loaded model, warm-up before
 * ready, input check, refusal after dispose. An implementation only opens bytes into a model.
 */
export abstract class SessionRunner implements InferenceRunner {
  readonly #warmupRuns: number;
  #model: OpenedModel | null = null;
  #sha256: string | null = null;

  constructor(options: RunnerOptions = {}) {
    this.#warmupRuns = options.warmupRuns ?? DEFAULT_WARMUP_RUNS;
  }

  abstract executionProviders(): readonly string[];
  /** Opens `bytes` (already verified); throws ERR_MODEL_INVALID when they are not a model. */
  protected abstract open(bytes: Uint8Array): Promise<OpenedModel>;

  get ready(): boolean {
    return this.#model !== null;
  }
  get sha256(): string | null {
    return this.#sha256;
  }
  get inputs(): readonly ModelIo[] {
    return this.#model?.inputs ?? [];
  }
  get outputs(): readonly ModelIo[] {
    return this.#model?.outputs ?? [];
  }

  async load(model: ModelBytes): Promise<void> {
    verifyModel(model);
    await this.dispose();
    const opened = await this.open(model.bytes);
    try {
      for (let i = 0; i < this.#warmupRuns; i++) await opened.run(zeroInputs(opened.inputs));
    } catch (err) {
      await opened.release();
      throw new HomeostatError('ERR_MODEL_INVALID', `warm-up run failed: ${(err as Error).message}`);
    }
    this.#model = opened;
    this.#sha256 = model.sha256.toLowerCase();
  }

  async run(inputs: Tensors): Promise<Tensors> {
    const model = this.#model;
    if (model === null) throw new HomeostatError('ERR_MODEL_INPUT', 'no model is loaded');
    checkInputs(model.inputs, inputs);
    return model.run(inputs);
  }

  async dispose(): Promise<void> {
    const model = this.#model;
    this.#model = null;
    this.#sha256 = null;
    await model?.release();
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Throws ERR_MODEL_HASH_MISMATCH unless `bytes` hash to `sha256`. */
export function verifyModel(model: ModelBytes): void {
  const actual = sha256Hex(model.bytes);
  if (actual !== model.sha256.toLowerCase()) {
    throw new HomeostatError('ERR_MODEL_HASH_MISMATCH', `model bytes hash to ${actual}, announced as ${model.sha256}`);
  }
}

/** Throws ERR_MODEL_INPUT unless `inputs` has exactly the model's inputs, with matching shapes. */
export function checkInputs(declared: readonly ModelIo[], inputs: Tensors): void {
  const problems: string[] = [];
  for (const io of declared) {
    const t = inputs[io.name];
    if (t === undefined) {
      problems.push(`${io.name}: missing`);
      continue;
    }
    const count = t.dims.reduce((a, b) => a * b, 1);
    if (count !== t.data.length)
      problems.push(`${io.name}: dims ${t.dims} hold ${count} values, data has ${t.data.length}`);
    const fits = t.dims.length === io.dims.length && io.dims.every((d, i) => d === -1 || d === t.dims[i]);
    if (!fits) problems.push(`${io.name}: dims [${t.dims}] do not fit [${io.dims}]`);
  }
  for (const name of Object.keys(inputs)) {
    if (!declared.some((io) => io.name === name)) problems.push(`${name}: not an input of the model`);
  }
  if (problems.length > 0) throw new HomeostatError('ERR_MODEL_INPUT', undefined, problems);
}

/** Zeros for every input, the batch dimension at 1: what warm-up runs feed. */
export function zeroInputs(declared: readonly ModelIo[]): Tensors {
  const out: Tensors = {};
  for (const io of declared) {
    const dims = io.dims.map((d) => (d === -1 ? 1 : d));
    out[io.name] = { data: new Float32Array(dims.reduce((a, b) => a * b, 1)), dims };
  }
  return out;
}
