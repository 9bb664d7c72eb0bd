// fp16: float32 weights are stored as float16, halving the file, and each is read through a
// Cast(to=FLOAT) that takes over the weight's old name, so every consumer, input and output
// stays float32. onnxruntime folds these Casts into float32 constants at load: compute and
// speed stay those of the float32 model, only the stored weights lose precision.
//
// Why not float16 activations: onnxruntime-node 1.30's CPU provider does run float16
// MatMul/Gemm/Conv/Add/Relu/… (measured on an AVX-512 EPYC: MatMul faster, Conv slower or
// equal), but the gain depends on the CPU and float16 activations can overflow, so the
// default stays the form that is exact about what it changes and runs the same everywhere.
import { f32ToF16 } from '../float16.js';
import { ELEM, GraphIndex, floatData, makeNode, makeTensor } from './graph.js';
import type { MethodResult } from './method.js';
import { encodeModel, type ModelProto, type NodeProto, type TensorProto } from './onnx-file.js';

const F16_MAX = 65504;

export interface Float16Weight {
  bits: Uint16Array;
  /** Non-zero values that became ±0 (too small for float16's smallest subnormal, 2^-24). */
  underflowed: number;
}

/** Rounds every value to float16, or returns the largest |value| when one overflows float16. */
export function toFloat16Bits(data: Float32Array): Float16Weight | { overflow: number } {
  let maxAbs = 0;
  for (const v of data) if (Number.isFinite(v) && Math.abs(v) > maxAbs) maxAbs = Math.abs(v);
  if (maxAbs > F16_MAX) return { overflow: maxAbs };
  const bits = new Uint16Array(data.length);
  let underflowed = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    const b = f32ToF16(v);
    bits[i] = b;
    if (v !== 0 && (b & 0x7fff) === 0) underflowed++;
  }
  return { bits, underflowed };
}

export function toFloat16(model: ModelProto): MethodResult {
  const bytesBefore = encodeModel(model).length;
  const g = new GraphIndex(model.graph);
  const inputNames = new Set(model.graph.input.map((v) => v.name));
  const warnings: string[] = [];
  const casts: NodeProto[] = [];
  const kept: string[] = [];
  let convertedTensors = 0;
  let underflowedToZero = 0;

  for (const t of [...model.graph.initializer]) {
    if (t.dataType !== ELEM.FLOAT) continue; // integer shapes/indices, doubles and float16 stay as they are
    if (!g.consumers.has(t.name) && !g.isGraphOutput(t.name)) continue; // unused: nothing reads it
    if (inputNames.has(t.name)) {
      // an initializer listed as a graph input is a default the client may override with float32
      warnings.push(`initializer "${t.name}": is also a graph input (an overridable default); kept float32`);
      kept.push(t.name);
      continue;
    }
    const half = toFloat16Bits(floatData(t));
    if ('overflow' in half) {
      warnings.push(`initializer "${t.name}": |value| up to ${half.overflow} exceeds float16's 65504; kept float32`);
      kept.push(t.name);
      continue;
    }
    const stored = g.fresh(`${t.name}_fp16`);
    replaceInitializer(model, t, makeTensor(stored, t.dims.map(Number), half.bits, ELEM.FLOAT16));
    casts.push(makeNode('Cast', [stored], [t.name], g.fresh(`${t.name}_cast`), { to: ELEM.FLOAT }));
    convertedTensors++;
    underflowedToZero += half.underflowed;
  }

  // the Casts read only initializers, so they can lead the node list without a re-sort
  model.graph.node = [...casts, ...model.graph.node];
  if (convertedTensors === 0) warnings.push('no float32 initializer to convert: the model is unchanged');
  return {
    model,
    changed: convertedTensors,
    warnings,
    details: {
      convertedTensors,
      keptFloat32: kept.length,
      keptFloat32Names: kept,
      underflowedToZero,
      bytesBefore,
      bytesAfter: convertedTensors ? encodeModel(model).length : bytesBefore,
      note: 'weights are stored as float16 and cast to float32 at load: inputs, outputs and compute stay float32, so the speed is unchanged',
    },
  };
}

function replaceInitializer(model: ModelProto, old: TensorProto, next: TensorProto): void {
  const i = model.graph.initializer.indexOf(old);
  model.graph.initializer[i] = next;
}
