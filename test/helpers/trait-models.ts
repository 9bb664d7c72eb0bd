// Small ONNX models, each with one trait that real models have and this repository's own do not:
// a Conv that needs hundreds of samples, an output whose dimension 0 is not the batch, a 0-d
// input, a state tensor with the batch in dimension 1, inputs sharing a symbolic dim, a Gather
// that refuses some ids, weights in an external data file.
import onnxProto from 'onnx-proto';
import { buildModel, seededFloats } from '../../tools/onnx-builder.js';

const { onnx } = onnxProto;

/** Samples the Conv kernel spans: more than any made-up warm-up input has (1 or 512). */
export const CONV_KERNEL = 600;

/** input [batch, 1, samples] → Conv (1 → 1 channel, kernel CONV_KERNEL) → output [batch, 1, frames]. */
export function longConvModel(): Uint8Array {
  return buildModel({
    inputs: [{ name: 'input', dtype: 'float32', dims: ['batch', 1, 'samples'] }],
    outputs: [{ name: 'output', dtype: 'float32', dims: ['batch', 1, 'frames'] }],
    nodes: [{ op: 'Conv', inputs: ['input', 'w'], outputs: ['output'], attributes: { kernel_shape: [CONV_KERNEL] } }],
    initializers: [{ name: 'w', dtype: 'float32', dims: [1, 1, CONV_KERNEL], data: seededFloats(CONV_KERNEL, 7, 0.05) }],
    name: 'long-conv',
  });
}

/**
 * x [batch, 3] → coords of its positive elements ["count", 2] (NonZero, as detectors emit one row
 * per detection): dimension 0 is symbolic but it counts hits, not rows.
 */
export function hitsModel(): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', dtype: 'float32', dims: ['batch', 3] }],
    outputs: [{ name: 'coords', dtype: 'int64', dims: ['count', 2] }],
    nodes: [
      { op: 'Greater', inputs: ['x', 'zero'], outputs: ['positive'] },
      { op: 'NonZero', inputs: ['positive'], outputs: ['nz'] },
      { op: 'Transpose', inputs: ['nz'], outputs: ['coords'], attributes: { perm: [1, 0] } },
    ],
    initializers: [{ name: 'zero', dtype: 'float32', dims: [], data: new Float32Array([0]) }],
    name: 'hits',
  });
}

/** x [batch, 4] × scale [] (a 0-d input) → y [batch, 4]. */
export function scaledModel(): Uint8Array {
  return buildModel({
    inputs: [
      { name: 'x', dtype: 'float32', dims: ['batch', 4] },
      { name: 'scale', dtype: 'float32', dims: [] },
    ],
    outputs: [{ name: 'y', dtype: 'float32', dims: ['batch', 4] }],
    nodes: [{ op: 'Mul', inputs: ['x', 'scale'], outputs: ['y'] }],
    name: 'scaled',
  });
}

/** x [batch, 8] and a recurrent state h [2, batch, 8] → y = x + h[0] [batch, 8], hn = h + 1 [2, batch, 8]. */
export function stateModel(): Uint8Array {
  return buildModel({
    inputs: [
      { name: 'x', dtype: 'float32', dims: ['batch', 8] },
      { name: 'h', dtype: 'float32', dims: [2, 'batch', 8] },
    ],
    outputs: [
      { name: 'y', dtype: 'float32', dims: ['batch', 8] },
      { name: 'hn', dtype: 'float32', dims: [2, 'batch', 8] },
    ],
    nodes: [
      { op: 'Gather', inputs: ['h', 'zero'], outputs: ['h0'], attributes: { axis: 0 } },
      { op: 'Add', inputs: ['x', 'h0'], outputs: ['y'] },
      { op: 'Add', inputs: ['h', 'one'], outputs: ['hn'] },
    ],
    initializers: [
      { name: 'zero', dtype: 'int64', dims: [], data: new BigInt64Array([0n]) },
      { name: 'one', dtype: 'float32', dims: [], data: new Float32Array([1]) },
    ],
    name: 'state',
  });
}

/** input_ids and attention_mask, both int64 [batch, seq] → masked = ids × mask [batch, seq]. */
export function maskedIdsModel(): Uint8Array {
  return buildModel({
    inputs: [
      { name: 'input_ids', dtype: 'int64', dims: ['batch', 'seq'] },
      { name: 'attention_mask', dtype: 'int64', dims: ['batch', 'seq'] },
    ],
    outputs: [{ name: 'masked', dtype: 'int64', dims: ['batch', 'seq'] }],
    nodes: [{ op: 'Mul', inputs: ['input_ids', 'attention_mask'], outputs: ['masked'] }],
    name: 'masked-ids',
  });
}

/** Rows in the embedding table: an id outside [-VOCAB, VOCAB) makes onnxruntime refuse the run. */
export const VOCAB = 10;

/** ids int64 [batch, seq] → Gather from a [VOCAB, 4] table → embeddings [batch, seq, 4]. */
export function embeddingModel(): Uint8Array {
  return buildModel({
    inputs: [{ name: 'ids', dtype: 'int64', dims: ['batch', 'seq'] }],
    outputs: [{ name: 'embeddings', dtype: 'float32', dims: ['batch', 'seq', 4] }],
    nodes: [{ op: 'Gather', inputs: ['table', 'ids'], outputs: ['embeddings'], attributes: { axis: 0 } }],
    initializers: [{ name: 'table', dtype: 'float32', dims: [VOCAB, 4], data: seededFloats(VOCAB * 4, 3) }],
    name: 'embedding',
  });
}

/**
 * The same model with every initializer moved to `dataFile` (ONNX external data, as exporters
 * write models over 2 GB): the .onnx bytes and the data file's bytes.
 */
export function withExternalData(bytes: Uint8Array, dataFile: string): { model: Uint8Array; data: Uint8Array } {
  const model = onnx.ModelProto.decode(bytes);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const t of model.graph!.initializer!) {
    const raw = t.rawData!;
    t.externalData = [
      onnx.StringStringEntryProto.create({ key: 'location', value: dataFile }),
      onnx.StringStringEntryProto.create({ key: 'offset', value: String(offset) }),
      onnx.StringStringEntryProto.create({ key: 'length', value: String(raw.length) }),
    ];
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.rawData = new Uint8Array(0);
    chunks.push(raw);
    offset += raw.length;
  }
  const data = new Uint8Array(offset);
  let at = 0;
  for (const c of chunks) {
    data.set(c, at);
    at += c.length;
  }
  return { model: onnx.ModelProto.encode(model).finish(), data };
}

/** x [time, 4] → running sum along dimension 0 (CumSum): dims follow the rows, values mix them, as an LSTM's over time do. */
export function runningSumModel(): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', dtype: 'float32', dims: ['time', 4] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: ['time', 4] }],
    nodes: [{ op: 'CumSum', inputs: ['x', 'axis'], outputs: ['y'] }],
    initializers: [{ name: 'axis', dtype: 'int64', dims: [], data: new BigInt64Array([0n]) }],
    name: 'running-sum',
  });
}
