// Unit tests for the KServe v2 request/response codec: the binary tensor extension (every
// malformed body is a 400-class ServeError, never a crash), JSON tensors, and round trips
// of every datatype through binary and JSON.
import t, { type Test } from 'tap';
import { ServeError, type ErrorCode } from '../../src/errors.js';
import { DTYPES, type DType, type TypedArray } from '../../src/tensors/dtypes.js';
import type { TensorSignature } from '../../src/signature.js';
import { splitBody, readBinaryTensors, tensorFromBytes, binaryDataSize } from '../../src/kserve/binary.js';
import { decodeInferRequest, encodeInferResponse, planOutputs } from '../../src/kserve/infer.js';
import { parseInferRequest, decodeJsonTensor } from '../../src/kserve/json.js';
import { toV2Datatype, fromV2Datatype, v2Shape, V2_DATATYPES } from '../../src/kserve/datatypes.js';
import { thrown } from '../helpers/thrown.js';

const SIG: TensorSignature[] = [{ name: 'x', dtype: 'float32', dims: ['batch', 2] }];

/** A body: JSON header, then binary chunks; returns the body and its header length. */
function body(header: unknown, ...chunks: Uint8Array[]): { buf: Buffer; len: string } {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  return { buf: Buffer.concat([json, ...chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength))]), len: String(json.length) };
}

const f32 = (...v: number[]): Uint8Array => new Uint8Array(Float32Array.from(v).buffer);
const xInput = (extra: object) => ({ name: 'x', datatype: 'FP32', shape: [1, 2], ...extra });

function rejects(t: Test, fn: () => unknown, code: ErrorCode, fragment: string, label: string): void {
  const err = thrown(fn);
  if (!(err instanceof ServeError)) {
    t.fail(`${label}: expected a ServeError, got ${String(err)}`);
    return;
  }
  t.equal(err.code, code, `${label}: ${code}`);
  t.equal(err.status, 400, `${label}: 400`);
  t.ok(err.message.includes(fragment), `${label}: message ${JSON.stringify(err.message)} mentions ${JSON.stringify(fragment)}`);
}

const decode = (b: { buf: Buffer; len?: string | undefined }, sig = SIG, max = 8) => decodeInferRequest(b.buf, b.len, sig, max);

t.test('datatypes map both ways; shapes use -1 for variable dims', async (t) => {
  for (const d of Object.keys(DTYPES) as DType[]) t.equal(fromV2Datatype(toV2Datatype(d), 'x'), d, `${d} ↔ ${toV2Datatype(d)}`);
  t.same(V2_DATATYPES.slice().sort(), ['BOOL', 'FP16', 'FP32', 'FP64', 'INT16', 'INT32', 'INT64', 'INT8', 'UINT16', 'UINT32', 'UINT64', 'UINT8']);
  t.same(v2Shape(['batch', 3, -1, 'n']), [-1, 3, -1, -1]);
  rejects(t, () => fromV2Datatype('BYTES', 'x'), 'INVALID_INPUT', 'BYTES', 'BYTES is not served');
  rejects(t, () => fromV2Datatype('FLOAT', 'x'), 'INVALID_INPUT', 'FP32', 'an unknown datatype lists the served ones');
});

t.test('a well-formed binary request decodes to views of the body', async (t) => {
  const b = body({ inputs: [xInput({ parameters: { binary_data_size: 8 } })] }, f32(1.5, -2));
  const { inputs, request } = decode(b);
  t.same(Array.from(inputs.tensors.x!.data as Float32Array), [1.5, -2]);
  t.equal(inputs.rows, 1);
  t.equal(request.binaryOutput, false);
  const aligned = Buffer.alloc(16);
  const view = tensorFromBytes(aligned.subarray(4, 12), 'float32', [2]);
  t.equal(view.data.buffer, aligned.buffer, 'aligned bytes: a view, no copy');
  const odd = tensorFromBytes(aligned.subarray(1, 9), 'float32', [2]);
  t.not(odd.data.buffer, aligned.buffer, 'unaligned bytes: one aligned copy');
  t.equal(odd.data.length, 2);
});

t.test('every malformed binary body is a 400 ServeError', async (t) => {
  const good = { inputs: [xInput({ parameters: { binary_data_size: 8 } })] };
  rejects(t, () => decode({ buf: body(good, f32(1, 2)).buf, len: '9999' }), 'INVALID_INPUT', 'only', 'header length past the body');
  for (const len of ['abc', '-1', '1.5', '', ' 3']) rejects(t, () => decode({ buf: body(good).buf, len }), 'INVALID_INPUT', 'Inference-Header-Content-Length', `header length "${len}"`);
  rejects(t, () => decode({ buf: Buffer.from('{"inputs": [nope]}\0\0\0\0'), len: '18' }), 'INVALID_JSON', 'not valid JSON', 'header not JSON');
  rejects(t, () => decode({ buf: Buffer.from('\0\0\0\0'), len: '0' }), 'INVALID_JSON', 'empty', 'empty header');
  rejects(t, () => decode({ buf: Buffer.alloc(0), len: undefined }), 'INVALID_JSON', 'empty', 'empty body');
  rejects(t, () => decode(body(good, f32(1, 2), new Uint8Array(3))), 'INVALID_INPUT', 'add up to 8', 'bytes left over after the inputs');
  rejects(t, () => decode(body(good, f32(1))), 'INVALID_INPUT', 'needs 8 bytes', 'too few bytes for the input');
  rejects(t, () => decode(body({ inputs: [xInput({ parameters: { binary_data_size: 4 } })] }, f32(1))), 'SHAPE_MISMATCH', 'needs 8', 'size disagrees with shape × dtype size');
  rejects(t, () => decode(body({ inputs: [xInput({ datatype: 'FP64', parameters: { binary_data_size: 8 } })] }, f32(1, 2))), 'SHAPE_MISMATCH', 'FP64 needs 16', 'size disagrees with the datatype');
  for (const size of [-8, 8.5, '8', null, true]) {
    rejects(t, () => decode(body({ inputs: [xInput({ parameters: { binary_data_size: size } })] }, f32(1, 2))), 'INVALID_INPUT', 'binary_data_size', `binary_data_size ${JSON.stringify(size)}`);
  }
  rejects(t, () => decode(body({ inputs: [xInput({ parameters: 'binary' })] }, f32(1, 2))), 'INVALID_INPUT', 'parameters must be an object', 'parameters not an object');
  rejects(t, () => decode(body({ inputs: [xInput({})] }, f32(1, 2))), 'INVALID_INPUT', 'neither data nor', 'missing data and binary size');
  rejects(t, () => decode(body({ inputs: [xInput({ data: [1, 2], parameters: { binary_data_size: 8 } })] }, f32(1, 2))), 'INVALID_INPUT', 'both', 'data and binary size');
  rejects(t, () => decode(body({ inputs: [xInput({ datatype: 'BYTES', parameters: { binary_data_size: 8 } })] }, f32(1, 2))), 'INVALID_INPUT', 'BYTES', 'BYTES tensors');
  rejects(t, () => decode(body({ inputs: [xInput({ datatype: 'INT32', parameters: { binary_data_size: 8 } })] }, f32(1, 2))), 'DTYPE_MISMATCH', 'expects FP32', 'binary datatype differs from the model');
  rejects(t, () => decode(body({ inputs: [xInput({ shape: [1, -2], parameters: { binary_data_size: 8 } })] }, f32(1, 2))), 'INVALID_INPUT', 'shape', 'negative dim');
  rejects(t, () => decode(body({ inputs: [xInput({ shape: [2, 1], parameters: { binary_data_size: 8 } })] }, f32(1, 2))), 'SHAPE_MISMATCH', 'dimension 1 must be 2', 'shape against the signature');
  rejects(t, () => decode(body({ inputs: [xInput({ shape: [0, 2], parameters: { binary_data_size: 0 } })] })), 'SHAPE_MISMATCH', '0 rows', 'no rows');
  rejects(t, () => decode(body({ inputs: [xInput({ shape: [9, 2], parameters: { binary_data_size: 72 } })] }, new Uint8Array(72))), 'BATCH_TOO_LARGE', 'at most 8', 'too many rows');
  rejects(t, () => decode(body({ inputs: [xInput({ parameters: { binary_data_size: 8 } }), xInput({ parameters: { binary_data_size: 8 } })] }, f32(1, 2), f32(1, 2))), 'INVALID_INPUT', 'twice', 'an input twice');
  rejects(t, () => decode(body({ inputs: [{ ...xInput({ parameters: { binary_data_size: 8 } }), name: 'y' }] }, f32(1, 2))), 'INVALID_INPUT', 'unknown input "y"', 'unknown input');
});

t.test('malformed JSON headers are 400 ServeErrors', async (t) => {
  const cases: [unknown, ErrorCode, string, string][] = [
    [[], 'INVALID_INPUT', 'JSON object', 'an array'],
    [42, 'INVALID_INPUT', 'JSON object', 'a number'],
    [{}, 'INVALID_INPUT', 'inputs', 'no inputs'],
    [{ inputs: [] }, 'INVALID_INPUT', 'non-empty', 'empty inputs'],
    [{ inputs: [7] }, 'INVALID_INPUT', 'inputs[0]', 'an input that is not an object'],
    [{ inputs: [xInput({ name: '', data: [1, 2] })] }, 'INVALID_INPUT', 'name', 'empty name'],
    [{ inputs: [xInput({ datatype: 3, data: [1, 2] })] }, 'INVALID_INPUT', 'datatype', 'datatype not a string'],
    [{ inputs: [xInput({ shape: 'x', data: [1, 2] })] }, 'INVALID_INPUT', 'shape', 'shape not an array'],
    [{ inputs: [xInput({ data: 'x' })] }, 'INVALID_INPUT', 'data must be an array', 'data not an array'],
    [{ id: 5, inputs: [xInput({ data: [1, 2] })] }, 'INVALID_INPUT', 'id', 'id not a string'],
    [{ inputs: [xInput({ data: [1, 2] })], parameters: { binary_data_output: 'yes' } }, 'INVALID_INPUT', 'binary_data_output', 'binary_data_output not a bool'],
    [{ inputs: [xInput({ data: [1, 2] })], outputs: {} }, 'INVALID_INPUT', 'outputs', 'outputs not an array'],
    [{ inputs: [xInput({ data: [1, 2] })], outputs: [{ name: 'y' }, { name: 'y' }] }, 'INVALID_INPUT', 'twice', 'an output twice'],
    [{ inputs: [xInput({ data: [1, 2] })], outputs: [{ name: 'y', parameters: { binary_data: 1 } }] }, 'INVALID_INPUT', 'binary_data', 'binary_data not a bool'],
    [{ inputs: [xInput({ data: [1, 2, 3] })] }, 'SHAPE_MISMATCH', 'need 2', 'data length disagrees with shape'],
    [{ inputs: [xInput({ data: [1, 'two'] })] }, 'DTYPE_MISMATCH', 'element 1', 'a string in FP32'],
    [{ inputs: [xInput({ datatype: 'FP64', data: [1, 2] })] }, 'DTYPE_MISMATCH', 'expects FP32', 'JSON datatype differs from the model'],
  ];
  for (const [header, code, fragment, label] of cases) rejects(t, () => decode({ buf: Buffer.from(JSON.stringify(header)) }), code, fragment, label);
  const req = parseInferRequest({ inputs: [xInput({ data: [1, 2] })], outputs: [{ name: 'nope' }] });
  rejects(t, () => planOutputs(req, [{ name: 'y', dtype: 'float32', dims: [1] }]), 'INVALID_INPUT', 'unknown output "nope"', 'unknown output');
  t.equal(binaryDataSize(undefined, 'x'), undefined);
  t.equal(binaryDataSize({ other: 1 }, 'x'), undefined);
});

t.test('JSON data may be flat or nested; requested outputs and binary flags are honoured', async (t) => {
  const flat = decode({ buf: Buffer.from(JSON.stringify({ inputs: [xInput({ shape: [2, 2], data: [1, 2, 3, 4] })] })) });
  const nested = decode({ buf: Buffer.from(JSON.stringify({ inputs: [xInput({ shape: [2, 2], data: [[1, 2], [3, 4]] })] })) });
  t.same(Array.from(flat.inputs.tensors.x!.data as Float32Array), [1, 2, 3, 4]);
  t.same(Array.from(nested.inputs.tensors.x!.data as Float32Array), [1, 2, 3, 4]);
  t.equal(flat.inputs.key, nested.inputs.key);
  const outs: TensorSignature[] = [{ name: 'a', dtype: 'float32', dims: [1] }, { name: 'b', dtype: 'float32', dims: [1] }];
  const all = parseInferRequest({ inputs: [xInput({ data: [1, 2] })], parameters: { binary_data_output: true } });
  t.same(planOutputs(all, outs), [{ name: 'a', binary: true }, { name: 'b', binary: true }], 'every output, binary by request');
  const some = parseInferRequest({ inputs: [xInput({ data: [1, 2] })], parameters: { binary_data_output: true }, outputs: [{ name: 'b', parameters: { binary_data: false } }, { name: 'a' }] });
  t.same(planOutputs(some, outs), [{ name: 'b', binary: false }, { name: 'a', binary: true }], 'only those requested, in order; binary_data overrides');
});

const SAMPLES: Record<DType, TypedArray> = {
  float32: Float32Array.of(1.5, -2, 3.25, 1e-30), float64: Float64Array.of(0.1, 1e300, -0, 5e-324), float16: Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x0001),
  int8: Int8Array.of(-128, 0, 127, 5), uint8: Uint8Array.of(0, 1, 255, 7), int16: Int16Array.of(-32768, 0, 32767, -1),
  uint16: Uint16Array.of(0, 1, 65535, 9), int32: Int32Array.of(-(2 ** 31), 0, 2 ** 31 - 1, -7), uint32: Uint32Array.of(0, 1, 2 ** 32 - 1, 3),
  int64: BigInt64Array.of(-(2n ** 63n), 0n, 2n ** 63n - 1n, -5n), uint64: BigUint64Array.of(0n, 1n, 2n ** 64n - 1n, 2n ** 53n + 1n), bool: Uint8Array.of(1, 0, 1, 1),
};
const DTYPE_LIST = Object.keys(DTYPES) as DType[];
const IDENTITY: TensorSignature[] = DTYPE_LIST.map((d) => ({ name: d, dtype: d, dims: ['batch', 2] }));
const bytesOf = (a: TypedArray): number[] => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));

t.test('every datatype round-trips through binary requests and responses (odd offsets included)', async (t) => {
  // int8/uint8/bool first: later tensors start at offsets that are not multiples of their size
  const order: DType[] = ['uint8', 'float64', 'int8', 'float16', 'bool', 'int64', 'float32', 'uint16', 'int16', 'uint64', 'int32', 'uint32'];
  const header = { id: 'r1', inputs: order.map((d) => ({ name: d, datatype: toV2Datatype(d), shape: [2, 2], parameters: { binary_data_size: SAMPLES[d].byteLength } })) };
  const { request, inputs } = decode(body(header, ...order.map((d) => new Uint8Array(SAMPLES[d].buffer))), IDENTITY);
  t.equal(request.id, 'r1');
  t.equal(inputs.rows, 2);
  for (const d of DTYPE_LIST) {
    t.equal(inputs.tensors[d]!.dtype, d);
    t.same(bytesOf(inputs.tensors[d]!.data), bytesOf(SAMPLES[d]), `${d}: request bytes`);
  }
  const plan = planOutputs(parseInferRequest({ ...header, parameters: { binary_data_output: true } }), IDENTITY);
  const res = encodeInferResponse({ name: 'id', version: '1' }, 'r1', plan, inputs.tensors);
  t.type(res.body, Buffer);
  const split = splitBody(res.body as Buffer, String(res.headerLength));
  const head = split.header as { model_name: string; id: string; outputs: { name: string; datatype: string; shape: number[]; parameters: { binary_data_size: number } }[] };
  t.equal(head.model_name, 'id');
  t.equal(head.id, 'r1');
  const outs = readBinaryTensors(head.outputs.map((o) => ({ ...o, binarySize: o.parameters.binary_data_size })), split.binary);
  for (const d of DTYPE_LIST) t.same(bytesOf(outs.get(d)!.data), bytesOf(SAMPLES[d]), `${d}: response bytes`);
});

t.test('every datatype round-trips through JSON', async (t) => {
  const tensors = Object.fromEntries(DTYPE_LIST.map((d) => [d, { dtype: d, dims: [2, 2], data: SAMPLES[d] }]));
  const plan = DTYPE_LIST.map((d) => ({ name: d, binary: false }));
  const res = encodeInferResponse({ name: 'id', version: '1' }, undefined, plan, tensors);
  t.type(res.body, 'string');
  t.equal(res.headerLength, undefined);
  const parsed = JSON.parse(res.body as string) as { id?: string; outputs: { name: string; datatype: string; shape: number[]; data: unknown[] }[] };
  t.equal(parsed.id, undefined, 'no id asked, none sent');
  for (const o of parsed.outputs) {
    const sig = IDENTITY.find((s) => s.name === o.name)!;
    t.same(o.shape, [2, 2]);
    t.equal(o.data.length, 4, `${o.name}: flat data`);
    const back = decodeJsonTensor({ name: o.name, datatype: o.datatype, shape: o.shape, data: o.data }, sig);
    if (sig.dtype === 'float64') {
      // JSON has no negative zero on the wire (JSON.stringify(-0) is "0"): compare values there
      t.same(Array.from(back.data as Float64Array), Array.from(SAMPLES.float64 as Float64Array), `${o.name}: JSON round trip (values)`);
    } else {
      t.same(bytesOf(back.data), bytesOf(SAMPLES[sig.dtype]), `${o.name}: JSON round trip`);
    }
  }
});

// ---- the fuzzer's findings on /v2: zero dims, shared dims, deep and huge shapes ----

const PAIR: TensorSignature[] = [
  { name: 'input_ids', dtype: 'int64', dims: ['batch', 'seq'] },
  { name: 'attention_mask', dtype: 'int64', dims: ['batch', 'seq'] },
];
const i64 = (...v: bigint[]): Uint8Array => new Uint8Array(BigInt64Array.from(v).buffer);
const pairInput = (name: string, shape: unknown, extra: object) => ({ name, datatype: 'INT64', shape, ...extra });

t.test('zero-size dims and disagreeing shared dims are SHAPE_MISMATCH, JSON and binary alike', async (t) => {
  const json = (a: number[], b: number[]) => decode({ buf: Buffer.from(JSON.stringify({ inputs: [
    pairInput('input_ids', a, { data: new Array(a[0]! * a[1]!).fill(1) }),
    pairInput('attention_mask', b, { data: new Array(b[0]! * b[1]!).fill(1) }),
  ] })) }, PAIR);
  const binary = (a: number[], b: number[]) => decode(body({ inputs: [
    pairInput('input_ids', a, { parameters: { binary_data_size: a[0]! * a[1]! * 8 } }),
    pairInput('attention_mask', b, { parameters: { binary_data_size: b[0]! * b[1]! * 8 } }),
  ] }, new Uint8Array(a[0]! * a[1]! * 8), new Uint8Array(b[0]! * b[1]! * 8)), PAIR);
  for (const [form, run] of [['JSON', json], ['binary', binary]] as const) {
    t.equal(run([1, 3], [1, 3]).inputs.rows, 1, `${form}: equal seq decodes`);
    rejects(t, () => run([1, 0], [1, 0]), 'SHAPE_MISMATCH', 'every dimension must be at least 1', `${form}: [1, 0] (the SIGFPE request)`);
    rejects(t, () => run([1, 3], [1, 2]), 'SHAPE_MISMATCH', 'disagree on dimension "seq": "input_ids" has 3 (dimension 1), "attention_mask" has 2', `${form}: seq 3 vs 2`);
  }
  const b = decode(body({ inputs: [pairInput('input_ids', [1, 2], { parameters: { binary_data_size: 16 } }), pairInput('attention_mask', [1, 2], { data: [1, 0] })] }, i64(5n, 6n)), PAIR);
  t.same(Array.from(b.inputs.tensors.input_ids!.data as BigInt64Array), [5n, 6n], 'binary and JSON inputs mixed');
});

t.test('huge shapes never allocate: binary sizes are compared with the bytes, JSON counts with the data', async (t) => {
  const one = (shape: unknown, parameters: object) => body({ inputs: [xInput({ shape, parameters })] }, f32(1, 2));
  rejects(t, () => decode(one([70_000, 70_000], { binary_data_size: 8 })), 'SHAPE_MISMATCH', 'needs 19600000000', '[70000, 70000] with 8 bytes');
  rejects(t, () => decode(one([70_000, 70_000], { binary_data_size: 19_600_000_000 })), 'INVALID_INPUT', 'only 8 bytes', 'binary_data_size that lies to match the shape');
  rejects(t, () => decode(one([2 ** 53 - 1, 2], { binary_data_size: 8 })), 'SHAPE_MISMATCH', 'more than 2^53 bytes', 'a shape past 2^53 bytes');
  rejects(t, () => decode(one(Array(40).fill(2 ** 52), { binary_data_size: 8 })), 'SHAPE_MISMATCH', 'more than 2^53 bytes', 'a shape whose product is Infinity');
  rejects(t, () => decode(one([0, ...Array(40).fill(2 ** 52)], { binary_data_size: 8 })), 'SHAPE_MISMATCH', 'needs 0', 'Infinity × 0 is 0 bytes, not NaN');
  rejects(t, () => decode(one([2 ** 53], { binary_data_size: 8 })), 'INVALID_INPUT', 'shape', 'a dim past 2^53 is not a safe integer');
  const jsonOne = (shape: unknown, data: unknown) => ({ buf: Buffer.from(JSON.stringify({ inputs: [xInput({ shape, data })] })) });
  rejects(t, () => decode(jsonOne([70_000, 2], [1, 2])), 'SHAPE_MISMATCH', 'need 140000', 'JSON shape claiming more rows than its data');
  rejects(t, () => decode(jsonOne([1, 70_000], [1, 2])), 'SHAPE_MISMATCH', 'dimension 1 must be 2', 'the signature is checked before the data');
});

t.test('deep values in a v2 request are 400s, never stack overflows; messages preview them', async (t) => {
  const deep = `${'['.repeat(20_000)}1${']'.repeat(20_000)}`;
  const cases: [string, ErrorCode, string, string][] = [
    [`{"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":${deep}}]}`, 'SHAPE_MISMATCH', 'nested more than', 'deep data'],
    [`{"inputs":[{"name":"x","datatype":"FP32","shape":${deep},"data":[1,2]}]}`, 'INVALID_INPUT', 'got [[…]]', 'a deep shape'],
    [`{"inputs":[{"name":"x","datatype":${deep},"shape":[1,2],"data":[1,2]}]}`, 'INVALID_INPUT', 'datatype', 'a deep datatype'],
    [`{"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"parameters":{"binary_data_size":${deep}}}]}`, 'INVALID_INPUT', 'binary_data_size is [[…]]', 'a deep binary_data_size'],
    [`{"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[1,{"a":${deep}}]}]}`, 'DTYPE_MISMATCH', '({…})', 'a deep object as a value'],
    [`{"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[1,${deep}]}]}`, 'SHAPE_MISMATCH', 'ragged', 'a deep array as a value'],
  ];
  for (const [text, code, fragment, label] of cases) rejects(t, () => decode({ buf: Buffer.from(text) }), code, fragment, label);
  const long = Array.from({ length: 5000 }, () => 1);
  const err = thrown(() => decode({ buf: Buffer.from(JSON.stringify({ inputs: [xInput({ shape: long, data: [1, 2] })] })) })) as ServeError;
  t.equal(err.code, 'SHAPE_MISMATCH', 'a 5000-dim shape: SHAPE_MISMATCH');
  t.ok(err.message.length < 300, `a 5000-dim shape is cut in the message (${err.message.length} chars)`);
});
