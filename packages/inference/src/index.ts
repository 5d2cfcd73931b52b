// Inference shared by the agent (at the edge) and the hub (for devices that cannot run a model):
// the same runner, features and placement on both sides. The ONNX writer is on its own subpath
// (`@homeostat/inference/onnx-writer`), for the generator and the tests only.
export {
  ANOMALY_MODEL_FORMAT,
  type AnomalyModelCard,
  type AnomalyWeights,
  anomalyScore,
  anomalyWeights,
  INPUT_NAME,
  OUTPUT_NAME,
  parseAnomalyCard,
} from './anomaly-model.js';
export { featureOf, type InputSpec, inputNames, inputRow } from './features.js';
export { DirModelStore, MemoryModelStore, type ModelStore } from './model-store.js';
export { OnnxRunner, onnxExecutionProviders } from './onnx-runner.js';
export { type ModelRequirements, type Placement, type PlacementDecision, placement } from './placement.js';
export { ReferenceRunner } from './reference-runner.js';
export {
  DEFAULT_WARMUP_RUNS,
  type InferenceRunner,
  type ModelBytes,
  type ModelIo,
  type OpenedModel,
  type RunnerOptions,
  SessionRunner,
  sha256Hex,
  type Tensor,
  type Tensors,
  verifyModel,
} from './runner.js';
export { WindowScorer } from './window-scorer.js';
