// The InferenceRunner in plain TypeScript, for the anomaly model family: its "model bytes" are the
// model card (UTF-8 JSON), hashed like an ONNX file. It is the reference the ONNX output is checked
// against, a fallback where onnxruntime has no binary, and the baseline of the benchmark.

import { HomeostatError } from '@homeostat/protocol';
import { anomalyScore, anomalyWeights, INPUT_NAME, OUTPUT_NAME, parseAnomalyCard } from './anomaly-model.js';
import { type OpenedModel, SessionRunner, type Tensors } from './runner.js';

export class ReferenceRunner extends SessionRunner {
  executionProviders(): readonly string[] {
    return ['cpu'];
  }

  protected async open(bytes: Uint8Array): Promise<OpenedModel> {
    let card: unknown;
    try {
      card = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch (err) {
      throw new HomeostatError('ERR_MODEL_INVALID', `model card: ${(err as Error).message}`);
    }
    const weights = anomalyWeights(parseAnomalyCard(card));
    return {
      inputs: [{ name: INPUT_NAME, dims: [-1, weights.features] }],
      outputs: [{ name: OUTPUT_NAME, dims: [-1, 1] }],
      run(inputs: Tensors): Tensors {
        const x = inputs[INPUT_NAME]!;
        const rows = x.dims[0] ?? 1;
        return { [OUTPUT_NAME]: { data: anomalyScore(weights, x.data, rows), dims: [rows, 1] } };
      },
      release() {},
    };
  }
}
