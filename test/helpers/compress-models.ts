// Small ONNX models for the compression tests (int8, fp16, prune): a CNN with Conv/MaxPool/Gemm
// and a transformer-style block with 3-D MatMuls plus an activation×activation MatMul that
// int8 methods must report as skipped. Seeded, so every run builds the same bytes.
import { buildModel, seededFloats, type InitializerSpec } from '../../tools/onnx-builder.js';

function weight(name: string, dims: number[], seed: number, fanIn: number): InitializerSpec {
  const n = dims.reduce((a, d) => a * d, 1);
  return { name, dtype: 'float32', dims, data: seededFloats(n, seed, 1 / Math.sqrt(fanIn)) };
}

/**
 * input "input" [batch,3,16,16] → Conv 3→8 (3×3, pad 1) → Relu → MaxPool 2×2 → Conv 8→16 (3×3)
 * → Relu → GlobalAveragePool → Flatten → Gemm(transB=1) 16→10 → output "output" [batch,10].
 */
export function smallCnnModel(seed = 1): Uint8Array {
  return buildModel({
    inputs: [{ name: 'input', dtype: 'float32', dims: ['batch', 3, 16, 16] }],
    outputs: [{ name: 'output', dtype: 'float32', dims: ['batch', 10] }],
    nodes: [
      { op: 'Conv', inputs: ['input', 'conv0_w', 'conv0_b'], outputs: ['c0'], attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
      { op: 'Relu', inputs: ['c0'], outputs: ['r0'] },
      { op: 'MaxPool', inputs: ['r0'], outputs: ['p0'], attributes: { kernel_shape: [2, 2], strides: [2, 2] } },
      { op: 'Conv', inputs: ['p0', 'conv1_w', 'conv1_b'], outputs: ['c1'], attributes: { kernel_shape: [3, 3] } },
      { op: 'Relu', inputs: ['c1'], outputs: ['r1'] },
      { op: 'GlobalAveragePool', inputs: ['r1'], outputs: ['gap'] },
      { op: 'Flatten', inputs: ['gap'], outputs: ['flat'], attributes: { axis: 1 } },
      { op: 'Gemm', inputs: ['flat', 'fc_w', 'fc_b'], outputs: ['output'], attributes: { transB: 1 } },
    ],
    initializers: [
      weight('conv0_w', [8, 3, 3, 3], seed, 27),
      weight('conv0_b', [8], seed + 1, 27),
      weight('conv1_w', [16, 8, 3, 3], seed + 2, 72),
      weight('conv1_b', [16], seed + 3, 72),
      weight('fc_w', [10, 16], seed + 4, 16),
      weight('fc_b', [10], seed + 5, 16),
    ],
    opset: 17,
    name: 'small-cnn',
  });
}

/**
 * input "input" [batch,seq,32] → MatMul [32,128] → Add bias → Relu → MatMul [128,32] → Add →
 * output "output" [batch,seq,32]; and "scores" = MatMul(input, Transpose(input, [0,2,1]))
 * [batch,seq,seq], an activation×activation product no int8 method can quantize.
 */
export function transformerModel(seed = 1): Uint8Array {
  return buildModel({
    inputs: [{ name: 'input', dtype: 'float32', dims: ['batch', 'seq', 32] }],
    outputs: [
      { name: 'output', dtype: 'float32', dims: ['batch', 'seq', 32] },
      { name: 'scores', dtype: 'float32', dims: ['batch', 'seq', 'seq'] },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['input', 'ff1_w'], outputs: ['ff1_mm'] },
      { op: 'Add', inputs: ['ff1_mm', 'ff1_b'], outputs: ['ff1_add'] },
      { op: 'Relu', inputs: ['ff1_add'], outputs: ['ff1_act'] },
      { op: 'MatMul', inputs: ['ff1_act', 'ff2_w'], outputs: ['ff2_mm'] },
      { op: 'Add', inputs: ['ff2_mm', 'ff2_b'], outputs: ['output'] },
      { op: 'Transpose', inputs: ['input'], outputs: ['input_t'], attributes: { perm: [0, 2, 1] } },
      { op: 'MatMul', inputs: ['input', 'input_t'], outputs: ['scores'] },
    ],
    initializers: [
      weight('ff1_w', [32, 128], seed, 32),
      weight('ff1_b', [128], seed + 1, 32),
      weight('ff2_w', [128, 32], seed + 2, 128),
      weight('ff2_b', [32], seed + 3, 128),
    ],
    opset: 17,
    name: 'transformer-block',
  });
}

/** Largest |ref - got| over the range of ref (max(ref) - min(ref)): a scale-free error for tolerances. */
export function relError(ref: Float32Array, got: Float32Array): number {
  let lo = Infinity;
  let hi = -Infinity;
  let err = 0;
  for (let i = 0; i < ref.length; i++) {
    lo = Math.min(lo, ref[i]!);
    hi = Math.max(hi, ref[i]!);
    err = Math.max(err, Math.abs(ref[i]! - got[i]!));
  }
  return err / (hi - lo);
}
