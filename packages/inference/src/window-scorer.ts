// Window in, score out: the step a model module repeats, the same on the device and in the hub
// (which feeds it from the telemetry it stores for a device whose model it runs). Builds the input
// row from each input stream's values over the window, runs the model, returns the first output.

import { type InputSpec, inputRow } from './features.js';
import type { InferenceRunner } from './runner.js';

export class WindowScorer {
  readonly #runner: InferenceRunner;
  readonly #inputs: InputSpec;
  readonly #row: Float32Array;

  constructor(runner: InferenceRunner, inputs: InputSpec) {
    this.#runner = runner;
    this.#inputs = inputs;
    this.#row = new Float32Array(inputs.metrics.length * inputs.features.length);
  }

  /**
   * The model's first output for the window whose values `valuesOf` gives per metric, or null when
   * a metric has no value in it (nothing to score). Throws when the output is not a finite number.
   */
  async score(valuesOf: (metric: string) => readonly number[]): Promise<number | null> {
    const row = inputRow(this.#inputs, valuesOf, this.#row);
    if (row === null) return null;
    const input = this.#runner.inputs[0]?.name ?? 'features';
    const output = this.#runner.outputs[0]?.name ?? 'score';
    // A copy: the runtime may hold on to the input while the next window is being built.
    const out = await this.#runner.run({ [input]: { data: row.slice(), dims: [1, row.length] } });
    const value = out[output]?.data[0];
    if (value === undefined || !Number.isFinite(value)) throw new Error(`model output ${output}: ${value}`);
    return value;
  }
}
