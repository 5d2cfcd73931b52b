// The InferenceRunner on onnxruntime-node (CPU). One session per runner, one thread per session:
// the models are tiny, and on a 2-core device a spinning intra-op pool would take a core from the
// agent for nothing.

import { createRequire } from 'node:module';
import { HomeostatError } from '@homeostat/protocol';
import type * as Ort from 'onnxruntime-node';
import { type ModelIo, type OpenedModel, SessionRunner, type Tensors } from './runner.js';

// onnxruntime-node is CommonJS with a native binding; loaded on first use so that importing this
// package (e.g. for placement or features) costs nothing where no model runs.
const require = createRequire(import.meta.url);
let ortModule: typeof Ort | undefined;
function ort(): typeof Ort {
  ortModule ??= require('onnxruntime-node') as typeof Ort;
  return ortModule;
}

/**
 * The providers onnxruntime-node can use here: those shipped inside the package (`bundled`) that
 * this runner enables. GPU providers are not bundled (the install skips their download), and
 * WebGPU, bundled on some platforms, needs an adapter a headless device rarely has: the runner
 * only uses the CPU provider, so that is what it reports.
 */
export function onnxExecutionProviders(): string[] {
  return ort()
    .listSupportedBackends()
    .filter((b) => b.bundled && USED_PROVIDERS.includes(b.name))
    .map((b) => b.name);
}

const USED_PROVIDERS = ['cpu'];

export class OnnxRunner extends SessionRunner {
  executionProviders(): readonly string[] {
    return onnxExecutionProviders();
  }

  protected async open(bytes: Uint8Array): Promise<OpenedModel> {
    let session: Ort.InferenceSession;
    try {
      session = await ort().InferenceSession.create(bytes, {
        executionProviders: USED_PROVIDERS,
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
    } catch (err) {
      throw new HomeostatError('ERR_MODEL_INVALID', `onnxruntime: ${(err as Error).message}`);
    }
    return {
      inputs: ioOf(session.inputNames, session.inputMetadata),
      outputs: ioOf(session.outputNames, session.outputMetadata),
      async run(inputs: Tensors): Promise<Tensors> {
        const result = await session.run(toOrt(inputs));
        const out: Tensors = {};
        for (const [name, value] of Object.entries(result)) {
          out[name] = { data: value.data as Float32Array, dims: value.dims };
        }
        return out;
      },
      release: () => session.release(),
    };
  }
}

function toOrt(inputs: Tensors): Record<string, Ort.Tensor> {
  const Tensor = ort().Tensor;
  const feeds: Record<string, Ort.Tensor> = {};
  for (const [name, t] of Object.entries(inputs)) feeds[name] = new Tensor('float32', t.data, t.dims);
  return feeds;
}

/** Names and shapes as the session declares them; a symbolic dimension (the batch) is -1. */
function ioOf(names: readonly string[], metadata: readonly Ort.InferenceSession.ValueMetadata[]): ModelIo[] {
  return names.map((name, i) => {
    const m = metadata[i];
    const shape = m?.isTensor ? m.shape : [];
    return { name, dims: shape.map((d) => (typeof d === 'number' ? d : -1)) };
  });
}
