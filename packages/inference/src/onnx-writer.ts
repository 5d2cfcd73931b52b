// Writes an anomaly model card as an ONNX file: the graph of anomaly-model.ts, standard ops of
// opset 13 only (Sub, Div, MatMul, Mul, ReduceMean), weights as float32 initialisers (the decoder
// stored transposed, so the graph needs no Transpose). Development-time only (the generator and the tests): it needs
// `onnx-proto`, a dev dependency, and is exported on its own subpath so the runtime never loads it.
// The bytes depend only on the card: no timestamps, fields always in the same order.

import { createRequire } from 'node:module';
import type { onnx as OnnxNs } from 'onnx-proto';
import { type AnomalyModelCard, anomalyWeights, INPUT_NAME, OUTPUT_NAME } from './anomaly-model.js';
import { inputNames } from './features.js';

const require = createRequire(import.meta.url);
const { onnx } = require('onnx-proto') as { onnx: typeof OnnxNs };

export const OPSET = 13;
/** ONNX IR version 8 (ONNX 1.10+), which every onnxruntime since 1.10 reads. */
const IR_VERSION = 8;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

function floats(name: string, dims: number[], values: Float32Array): OnnxNs.ITensorProto {
  // Little-endian whatever the host, as the ONNX spec wants raw_data.
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  for (const [i, v] of values.entries()) view.setFloat32(i * 4, v, true);
  return { name, dims, dataType: FLOAT, rawData: raw };
}

function tensorType(name: string, dims: (number | string)[]): OnnxNs.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function node(opType: string, input: string[], output: string, attribute: OnnxNs.IAttributeProto[] = []) {
  return { opType, input, output: [output], name: output, attribute };
}

/** The ONNX bytes of `card`. */
export function anomalyModelOnnx(card: AnomalyModelCard): Uint8Array {
  const w = anomalyWeights(card);
  const F = w.features;
  const K = w.components;
  const decoder = new Float32Array(K * F);
  for (let i = 0; i < F; i++) for (let k = 0; k < K; k++) decoder[k * F + i] = w.encoder[i * K + k]!;
  const graph: OnnxNs.IGraphProto = {
    name: 'anomaly_pca',
    initializer: [
      floats('mean', [F], w.mean),
      floats('scale', [F], w.scale),
      floats('encoder', [F, K], w.encoder),
      floats('decoder', [K, F], decoder),
      floats('gain', [1], Float32Array.of(w.gain)),
    ],
    node: [
      node('Sub', [INPUT_NAME, 'mean'], 'centered'),
      node('Div', ['centered', 'scale'], 'z'),
      node('MatMul', ['z', 'encoder'], 'latent'),
      node('MatMul', ['latent', 'decoder'], 'reconstruction'),
      node('Sub', ['z', 'reconstruction'], 'residual'),
      node('Mul', ['residual', 'residual'], 'squared'),
      node('ReduceMean', ['squared'], 'mse', [
        { name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [1] },
        { name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 1 },
      ]),
      node('Mul', ['mse', 'gain'], OUTPUT_NAME),
    ],
    input: [tensorType(INPUT_NAME, ['N', F])],
    output: [tensorType(OUTPUT_NAME, ['N', 1])],
  };
  const model: OnnxNs.IModelProto = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'homeostat',
    producerVersion: '1',
    docString: card.description,
    graph,
    metadataProps: [
      { key: 'homeostat.format', value: card.format },
      { key: 'homeostat.features', value: inputNames(card.inputs).join(',') },
      { key: 'homeostat.threshold', value: String(card.threshold) },
    ],
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}
