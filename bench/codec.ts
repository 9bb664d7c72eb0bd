// Section cpu (in process): the main thread's codec work per /v1 request, before and after the
// decoding and encoding of this project, on the same bodies. "Before" is what a route does with
// the standard tools: JSON.parse, flatten the nested arrays, Float32Array.from to decode;
// JSON.stringify of the output as plain numbers (Array.from of the Float32Array: a double's
// 17 digits) to encode. "After" is the /v1 route's real work: JSON.parse (fastify's JSON parser)
// then decodeInputs against the signature, and the answer assembled with toJsonText.
import { performance } from 'node:perf_hooks';
import { decodeInputs, type TensorSignature } from '../src/signature.js';
import { toJsonText } from '../src/tensors/encode.js';
import type { Tensor } from '../src/tensors/dtypes.js';
import { seededFloats } from '../tools/onnx-builder.js';

export interface CodecEntry {
  model: string;
  inWidth: number;
  outWidth: number;
  /** µs per request. */
  decodeBefore: number;
  decodeAfter: number;
  encodeBefore: number;
  encodeAfter: number;
  /** Bytes of one answer each way. */
  answerBytesBefore: number;
  answerBytesAfter: number;
}

/** Flattens nested arrays of numbers (any depth) into one array, as a hand-written route does. */
export function flattenNested(value: unknown, out: number[] = []): number[] {
  if (Array.isArray(value)) for (const v of value) flattenNested(v, out);
  else out.push(value as number);
  return out;
}

/** Before: JSON.parse, flatten, Float32Array.from; the input's dims from the nesting. */
export function decodeBefore(body: Buffer, inputName = 'input'): { dims: number[]; data: Float32Array } {
  const j = JSON.parse(body.toString('utf8')) as { inputs: Record<string, unknown> };
  const v = j.inputs[inputName];
  const dims: number[] = [];
  for (let x: unknown = v; Array.isArray(x); x = x[0]) dims.push(x.length);
  return { dims, data: Float32Array.from(flattenNested(v)) };
}

/** After: what the /v1 route does, JSON.parse (fastify's parser) then decodeInputs. */
export function decodeAfter(body: Buffer, signature: readonly TensorSignature[], maxBatchSize = 64): Tensor {
  const j = JSON.parse(body.toString('utf8')) as { inputs: Record<string, unknown> };
  return decodeInputs(j.inputs, signature, maxBatchSize).tensors[signature[0]!.name]!;
}

/** Before: JSON.stringify of the answer with the output as plain numbers (Array.from of the Float32Array). */
export function encodeBefore(model: string, outputName: string, t: Tensor): string {
  const row = t.dims[t.dims.length - 1]!;
  const data = Array.from(t.data as Float32Array);
  const rows: number[][] = [];
  for (let i = 0; i < data.length; i += row) rows.push(data.slice(i, i + row));
  return JSON.stringify({ model, version: '1', outputs: { [outputName]: rows } });
}

/** After: the /v1 route's answer text (src/routes/predict.ts), each output through toJsonText. */
export function encodeAfter(model: string, outputName: string, t: Tensor): string {
  return `{"model":${JSON.stringify(model)},"version":"1","outputs":{${JSON.stringify(outputName)}:${toJsonText(t)}}}`;
}

/** µs per call of fn over the items in turn, for about `ms` after a warm-up of a third of it. */
export function timePerCall<T>(items: readonly T[], fn: (x: T) => unknown, ms: number): number {
  let sink = 0;
  const run = (budget: number): number => {
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < budget) {
      for (const x of items) {
        const r = fn(x);
        sink += typeof r === 'string' ? r.length : 1;
        n++;
      }
    }
    return ((performance.now() - t0) * 1000) / n;
  };
  run(ms / 3);
  const us = run(ms);
  if (sink < 0) throw new Error('unreachable'); // keeps the results alive
  return us;
}

/** Model outputs as the worker hands them back: one row of float32 values from a seeded spread. */
export function outputTensor(width: number, seed: number): Tensor {
  // realistic floats (not short decimals): what a model's last layer gives
  const data = seededFloats(width, seed, 3).map((x) => Math.fround(x * 1.234567));
  return { dtype: 'float32', dims: [1, width], data };
}

/** Before and after, side by side (the pairs alternate in `rounds` so drift hits both alike). */
export function measureCodec(model: string, bodies: readonly Buffer[], inWidth: number, outWidth: number, msEach: number, rounds = 3): CodecEntry {
  const sig: TensorSignature[] = [{ name: 'input', dtype: 'float32', dims: ['batch', inWidth] }];
  const outs = bodies.map((_, i) => outputTensor(outWidth, 100 + i));
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1]!;
  const m = { db: [] as number[], da: [] as number[], eb: [] as number[], ea: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    m.db.push(timePerCall(bodies, (b) => decodeBefore(b), msEach));
    m.da.push(timePerCall(bodies, (b) => decodeAfter(b, sig), msEach));
    m.eb.push(timePerCall(outs, (t) => encodeBefore(model, 'output', t), msEach));
    m.ea.push(timePerCall(outs, (t) => encodeAfter(model, 'output', t), msEach));
  }
  return {
    model,
    inWidth,
    outWidth,
    decodeBefore: med(m.db),
    decodeAfter: med(m.da),
    encodeBefore: med(m.eb),
    encodeAfter: med(m.ea),
    answerBytesBefore: Buffer.byteLength(encodeBefore(model, 'output', outs[0]!)),
    answerBytesAfter: Buffer.byteLength(encodeAfter(model, 'output', outs[0]!)),
  };
}
