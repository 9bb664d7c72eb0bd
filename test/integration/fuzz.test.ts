// A seeded fuzz of the three decoders (POST /v1/predict JSON, /v2 infer JSON, /v2 infer binary),
// their bodies sent compressed (gzip, deflate, corrupt, unknown codings, a bomb), classification
// parameters, odd URLs (the config route's too), gRPC ModelInfer (raw and typed contents, undecodable bytes; unary and streamed)
// and gRPC's Triton extensions (ModelConfig, repository index, load, unload, LogSettings; with and
// without the admin token) against the real server: every malformed request is a 4xx with the route's
// error shape and a catalogue code, nothing answers 5xx or kills the process, and afterwards
// every model still answers correctly. FUZZ_SEED=<n> replays (or explores) another seed; a
// failure names the seed, the case number and the body.
import t from 'tap';
import { connect } from 'node:net';
import { deflateSync, gzipSync } from 'node:zlib';
import { Pool } from 'undici';
import { makeRepo, startServer } from '../helpers/server.js';
import { mulberry32 } from '../helpers/random.js';
import { buildModel } from '../../tools/onnx-builder.js';
import { ERRORS, isErrorCode } from '../../src/errors.js';
import { f16ToF32, f32ToF16 } from '../../src/float16.js';
import { credentials, loadPackageDefinition, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { join } from 'node:path';
import { ROOT } from '../helpers/server.js';
import { GRPC_STATUS, ERROR_CODE_KEY } from '../../src/grpc/status.js';
import type { DType } from '../../src/tensors/dtypes.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed5);
const CASES = 3000;
const IN_FLIGHT = 8;


// ---- the models: nothing in them can fail inside onnxruntime for a well-shaped input ----
// (Identity, Add, Mul, Cast: no Gather to refuse an index, no integer Div to trap on zero)

interface Sig {
  name: string;
  dtype: DType;
  dims: (number | string)[];
}
interface Model {
  inputs: Sig[];
  /** Output name → how to compute it from the inputs' flat values. */
  outputs: Record<string, (v: Record<string, number[] | boolean[]>) => (number | boolean)[]>;
  onnx: Uint8Array;
}

const f32 = Math.fround;
const MODELS: Record<string, Model> = {
  // 8 letters: the fuzzer's 70-byte body names a model of this length
  seq_pair: {
    inputs: [
      { name: 'input_ids', dtype: 'int64', dims: ['batch', 'seq'] },
      { name: 'attention_mask', dtype: 'int64', dims: ['batch', 'seq'] },
    ],
    outputs: { masked: (v) => (v.input_ids as number[]).map((x, i) => x * (v.attention_mask as number[])[i]!) },
    onnx: buildModel({
      inputs: [
        { name: 'input_ids', dtype: 'int64', dims: ['batch', 'seq'] },
        { name: 'attention_mask', dtype: 'int64', dims: ['batch', 'seq'] },
      ],
      outputs: [{ name: 'masked', dtype: 'int64', dims: ['batch', 'seq'] }],
      nodes: [{ op: 'Mul', inputs: ['input_ids', 'attention_mask'], outputs: ['masked'] }],
    }),
  },
  dense4: {
    inputs: [{ name: 'x', dtype: 'float32', dims: ['batch', 4] }],
    outputs: { y: (v) => (v.x as number[]).map((x) => f32(f32(x) + f32(x))) },
    onnx: buildModel({
      inputs: [{ name: 'x', dtype: 'float32', dims: ['batch', 4] }],
      outputs: [{ name: 'y', dtype: 'float32', dims: ['batch', 4] }],
      nodes: [{ op: 'Add', inputs: ['x', 'x'], outputs: ['y'] }],
    }),
  },
  scalar: {
    inputs: [{ name: 's', dtype: 'float32', dims: [] }],
    outputs: { s2: (v) => (v.s as number[]).map((x) => f32(f32(x) * f32(x))) },
    onnx: buildModel({
      inputs: [{ name: 's', dtype: 'float32', dims: [] }],
      outputs: [{ name: 's2', dtype: 'float32', dims: [] }],
      nodes: [{ op: 'Mul', inputs: ['s', 's'], outputs: ['s2'] }],
    }),
  },
  mixed: {
    inputs: [
      { name: 'q', dtype: 'int8', dims: ['batch', 3] },
      { name: 'h', dtype: 'float16', dims: ['batch', 3] },
      { name: 'flag', dtype: 'bool', dims: ['batch', 3] },
    ],
    outputs: {
      q_out: (v) => v.q as number[],
      qf: (v) => v.q as number[],
      h_out: (v) => v.h as number[],
      flag_out: (v) => v.flag as boolean[],
    },
    onnx: buildModel({
      inputs: [
        { name: 'q', dtype: 'int8', dims: ['batch', 3] },
        { name: 'h', dtype: 'float16', dims: ['batch', 3] },
        { name: 'flag', dtype: 'bool', dims: ['batch', 3] },
      ],
      outputs: [
        { name: 'q_out', dtype: 'int8', dims: ['batch', 3] },
        { name: 'qf', dtype: 'float32', dims: ['batch', 3] },
        { name: 'h_out', dtype: 'float16', dims: ['batch', 3] },
        { name: 'flag_out', dtype: 'bool', dims: ['batch', 3] },
      ],
      nodes: [
        { op: 'Identity', inputs: ['q'], outputs: ['q_out'] },
        { op: 'Cast', inputs: ['q'], outputs: ['qf'], attributes: { to: 1 } },
        { op: 'Identity', inputs: ['h'], outputs: ['h_out'] },
        { op: 'Identity', inputs: ['flag'], outputs: ['flag_out'] },
      ],
    }),
  },
};
const NAMES = Object.keys(MODELS);
/** The float32 outputs above: answered as their shortest text, so compared once read back as float32. */
const FLOAT32_OUTPUTS = new Set(['y', 's2', 'qf']);
const asFloat32 = (v: unknown): unknown => (Array.isArray(v) ? v.map((x) => (typeof x === 'number' ? f32(x) : x)) : v);

const V2_TYPE: Record<string, string> = { int64: 'INT64', float32: 'FP32', float16: 'FP16', int8: 'INT8', bool: 'BOOL' };

/** The body that killed the server with SIGFPE before zero-size dims were refused. */
const SIGFPE_BODY = '{"model":"seq_pair","inputs":{"input_ids":[[]],"attention_mask":[[]]}}';
/** The fuzzed server's admin token: admin cases send it, a wrong one, or none. */
const ADMIN_TOKEN = 'fuzz-admin-token';

// ---- texts too big or too odd to build as objects ----

const DEEP = `${'['.repeat(20_000)}1${']'.repeat(20_000)}`;
/** An outer array of 70,000 numbers whose first element is an array of 70,000: it claims 4.9e9 elements. */
const BOMB = (() => {
  const row = new Array(70_000).fill(1).join(',');
  return `[[${row}],${row.slice(2)}]`;
})();
/** 12 MiB of zeros as about 12 KB of gzip: past the fuzz server's 8 MiB limit once decoded. */
const GZIP_BOMB = gzipSync(Buffer.alloc(12 * 1024 * 1024));
const SENTINEL_DEEP = '\u0000deep';
const SENTINEL_BOMB = '\u0000bomb';

function serialize(v: unknown): string {
  return JSON.stringify(v).replaceAll(JSON.stringify(SENTINEL_DEEP), DEEP).replaceAll(JSON.stringify(SENTINEL_BOMB), BOMB);
}

// ---- case generation ----

interface Case {
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  body?: Buffer | string;
  /** The answer to expect when the request is valid and unmutated. */
  expect?: { model: string; values: Record<string, number[] | boolean[]>; api: 'v1' | 'v2' };
}

interface Valid {
  model: string;
  dims: Record<string, number[]>;
  values: Record<string, number[] | boolean[]>;
}

function gen(rng: () => number) {
  const int = (lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
  const chance = (p: number): boolean => rng() < p;

  // no "/" in generated text: messages echo names, and the checks look for absolute paths
  const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABC0123456789_-. é😀\u0000"\\\n';
  const str = (max = 12): string => Array.from({ length: int(0, max) }, () => pick([...ALPHABET])).join('');

  function randomJson(depth = 0): unknown {
    const r = rng();
    if (depth > 3 || r < 0.35) return pick([0, -1, 1.5, 1e39, -1e308, 2 ** 53, 1e-320, true, false, null, '', '1', 'x', str()]);
    if (r < 0.7) return Array.from({ length: int(0, 4) }, () => randomJson(depth + 1));
    return Object.fromEntries(Array.from({ length: int(0, 4) }, () => [pick(['model', 'inputs', 'dims', 'data', 'name', 'shape', 'datatype', 'parameters', str(6)]), randomJson(depth + 1)]));
  }

  function value(dtype: DType): number | boolean {
    if (dtype === 'bool') return chance(0.5);
    if (dtype === 'int8') return int(-128, 127);
    if (dtype === 'int64') return int(-1000, 1000);
    return int(-32, 32) / 4; // exact in float16 and float32
  }

  function valid(model = pick(NAMES)): Valid {
    const m = MODELS[model]!;
    const sizes: Record<string, number> = { batch: int(1, 3), seq: int(1, 6) };
    const dims: Record<string, number[]> = {};
    const values: Record<string, number[] | boolean[]> = {};
    for (const s of m.inputs) {
      const d = s.dims.map((x) => (typeof x === 'number' ? x : sizes[x]!));
      dims[s.name] = d;
      values[s.name] = Array.from({ length: d.reduce((a, b) => a * b, 1) }, () => value(s.dtype)) as number[] | boolean[];
    }
    return { model, dims, values };
  }

  function nest(flat: readonly unknown[], dims: readonly number[]): unknown {
    if (dims.length === 0) return flat[0];
    let pos = 0;
    const build = (depth: number): unknown[] =>
      Array.from({ length: dims[depth]! }, () => (depth === dims.length - 1 ? flat[pos++] : build(depth + 1)));
    return build(0);
  }

  /** A replacement for one tensor's value: the mutations every decoder must refuse cleanly. */
  function badTensor(s: Sig, v: Valid): { nested?: unknown; dims?: unknown; data?: unknown; label: string } {
    const d = v.dims[s.name]!;
    switch (int(0, 13)) {
      case 0: return { nested: SENTINEL_DEEP, dims: [1, 1], data: SENTINEL_DEEP, label: 'deep array' };
      case 1: return { nested: SENTINEL_BOMB, dims: [70_000, 70_000], data: SENTINEL_BOMB, label: 'shape bomb' };
      case 2: return { nested: pick([[[]], [], [[], []]]), dims: pick([[1, 0], [0, 3], [0], [0, 0]]), data: [], label: 'zero dim' };
      case 3: return { nested: [[1, 2], [3]], dims: d, data: [[1, 2], [3]], label: 'ragged' };
      case 4: return { nested: nest(Array(d.reduce((a, b) => a * b, 1)).fill(pick(['1', 'x', null, {}, [], 1e39, 1.5, 300, -129, true, '9223372036854775808'])), d), dims: d, data: Array(d.reduce((a, b) => a * b, 1)).fill(pick(['x', null, 1e39, 1.5, 70000])), label: 'wrong dtype' };
      case 5: return { dims: pick([[1e6, 4], [2 ** 53, 2], [1e300, 1e300], [-1, 4], [1.5, 4], ['2', 4], [null], [1e400], Array(5000).fill(1), [70_000, 70_000]]), data: [1, 2, 3, 4], label: 'bad dims' };
      case 6: return { nested: randomJson(), dims: randomJson(), data: randomJson(), label: 'random json' };
      case 7: return { nested: nest(v.values[s.name]!, [...d, 1]), dims: [...d, 1], data: v.values[s.name], label: 'extra rank' };
      case 8: return { nested: nest(v.values[s.name]!, d.slice(1)), dims: d.slice(1), data: v.values[s.name], label: 'missing rank' };
      case 9: return { nested: nest(Array(d.length ? d[0]! * 7 : 7).fill(0), d.length ? [d[0]!, 7] : [7]), dims: d.length ? [d[0]!, 7] : [7], data: Array(d.length ? d[0]! * 7 : 7).fill(0), label: 'wrong fixed dim' };
      case 10: return { nested: [[1, [2, [3]]]], dims: d, data: [1, [2, [3]]], label: 'nested leaf' };
      case 11: return { nested: { dims: d }, dims: d, data: { length: 4 }, label: 'half a {dims,data}' };
      case 12: return { nested: nest(v.values[s.name]!, d), dims: d, data: [...(v.values[s.name]! as unknown[]), 1], label: 'one value too many' };
      default: return { nested: [[1, 2, 3, { a: SENTINEL_DEEP }]], dims: d, data: [1, { a: SENTINEL_DEEP }], label: 'deep object leaf' };
    }
  }

  /** Mismatched shared dims on the [batch, seq] pair: both well-formed, seq differs. */
  function mismatchedSeq(): Valid {
    const v = valid('seq_pair');
    const b = v.dims.input_ids![0]!;
    const s2 = v.dims.input_ids![1]! + int(1, 3);
    v.dims.attention_mask = [b, s2];
    v.values.attention_mask = Array(b * s2).fill(1);
    return v;
  }

  const json = { 'content-type': 'application/json' };

  function v1Case(): Case {
    const r = rng();
    if (r < 0.1) {
      const v = valid();
      const inputs = Object.fromEntries(MODELS[v.model]!.inputs.map((s) => [s.name, nest(v.values[s.name]!, v.dims[s.name]!)]));
      return { kind: 'v1 valid', method: 'POST', path: '/v1/predict', headers: json, body: JSON.stringify({ model: v.model, inputs }), expect: { model: v.model, values: v.values, api: 'v1' } };
    }
    if (r < 0.13) return { kind: 'v1 SIGFPE body', method: 'POST', path: '/v1/predict', headers: json, body: SIGFPE_BODY };
    if (r < 0.2) {
      const v = mismatchedSeq();
      const inputs = Object.fromEntries(MODELS.seq_pair!.inputs.map((s) => [s.name, chance(0.5) ? nest(v.values[s.name]!, v.dims[s.name]!) : { dims: v.dims[s.name], data: v.values[s.name] }]));
      return { kind: 'v1 shared dim mismatch', method: 'POST', path: '/v1/predict', headers: json, body: JSON.stringify({ model: 'seq_pair', inputs }) };
    }
    if (r < 0.3) {
      const kind = pick(['random body', 'random top-level', 'text', 'truncated', 'duplicate keys', 'wrong content type', 'unknown model', 'bad version', 'extra property', 'priority']);
      const v = valid();
      const good = JSON.stringify({ model: v.model, inputs: Object.fromEntries(MODELS[v.model]!.inputs.map((s) => [s.name, nest(v.values[s.name]!, v.dims[s.name]!)])) });
      let body: string | Buffer = good;
      let headers: Record<string, string> = json;
      if (kind === 'random body') body = serialize(randomJson());
      else if (kind === 'random top-level') body = serialize({ model: randomJson(), inputs: randomJson(), version: chance(0.5) ? randomJson() : undefined });
      else if (kind === 'text') body = str(40);
      else if (kind === 'truncated') body = good.slice(0, int(0, good.length - 1));
      else if (kind === 'duplicate keys') body = good.replace('"inputs":{', `"inputs":{"${MODELS[v.model]!.inputs[0]!.name}":[[1]],`);
      else if (kind === 'wrong content type') headers = { 'content-type': pick(['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', 'application/octet-stream', '*/*', 'application/json; charset=utf-8; x=y']) };
      else if (kind === 'unknown model') body = good.replace(`"${v.model}"`, JSON.stringify(pick(['nope', '', '..', '%2e%2e', 'seq_pair ', str(8)])));
      else if (kind === 'priority') body = good.replace('"inputs"', `"priority":${JSON.stringify(pick([-1, 1.5, '1', 4, 99, 2 ** 53, null, true, [1], 1, 3, 0]))},"inputs"`);
      else if (kind === 'bad version') body = good.replace('"inputs"', `"version":${JSON.stringify(pick(['0', '01', 'abc', '99', '1.0', '-1', 1, null]))},"inputs"`);
      else body = good.replace('"inputs"', `"${pick(['variant', 'extra', '__proto__', 'constructor'])}":${serialize(randomJson())},"inputs"`);
      return { kind: `v1 ${kind}`, method: 'POST', path: '/v1/predict', headers, body };
    }
    const v = valid();
    const m = MODELS[v.model]!;
    const victim = pick(m.inputs);
    const bad = badTensor(victim, v);
    const inputs: Record<string, unknown> = {};
    for (const s of m.inputs) {
      if (s === victim) inputs[s.name] = chance(0.5) && bad.nested !== undefined ? bad.nested : { dims: bad.dims, data: bad.data };
      else inputs[s.name] = nest(v.values[s.name]!, v.dims[s.name]!);
    }
    if (chance(0.1)) inputs[pick(['unknown', 'x_', str(5)])] = [[1]];
    if (chance(0.05)) delete inputs[pick(m.inputs).name];
    return { kind: `v1 ${bad.label}`, method: 'POST', path: '/v1/predict', headers: json, body: serialize({ model: v.model, inputs }) };
  }

  function v2Header(v: Valid, binary: boolean, mutate: boolean): { header: Record<string, unknown>; chunks: Buffer[]; label: string } {
    const m = MODELS[v.model]!;
    const victim = mutate ? pick(m.inputs) : undefined;
    let label = 'valid';
    const chunks: Buffer[] = [];
    const inputs: Record<string, unknown>[] = m.inputs.map((s) => {
      const dims = v.dims[s.name]!;
      const vals = v.values[s.name]!;
      const base = { name: s.name, datatype: V2_TYPE[s.dtype], shape: dims };
      if (s !== victim) {
        if (!binary) return { ...base, data: vals };
        const bytes = bytesOf(s.dtype, vals);
        chunks.push(bytes);
        return { ...base, parameters: { binary_data_size: bytes.length } };
      }
      const bad = badTensor(s, v);
      label = bad.label;
      switch (int(0, 5)) {
        case 0: label = 'wrong datatype'; return { ...base, datatype: pick(['FP64', 'BYTES', 'INT32', 'fp32', '', 7, null, SENTINEL_DEEP]), data: vals };
        case 1: label = 'shape'; return { ...base, shape: bad.dims, data: vals };
        case 2: label = 'binary_data_size lie'; {
          const bytes = bytesOf(s.dtype, vals);
          chunks.push(bytes);
          return { ...base, parameters: { binary_data_size: pick([bytes.length + 1, bytes.length - 1, 0, 2 ** 53 - 1, -8, 1.5, '8', null, 19_600_000_000, SENTINEL_DEEP]) } };
        }
        case 3: label = 'huge binary shape'; {
          const bytes = bytesOf(s.dtype, vals);
          chunks.push(bytes);
          return { ...base, shape: pick([[70_000, 70_000], [2 ** 53 - 1, 2], Array(40).fill(2 ** 52), [0, ...Array(40).fill(2 ** 52)], [2 ** 53]]), parameters: { binary_data_size: bytes.length } };
        }
        case 4: label = 'data and binary'; return { ...base, data: vals, parameters: { binary_data_size: 8 } };
        default: return { ...base, shape: bad.dims ?? dims, data: bad.data };
      }
    });
    if (mutate && chance(0.15)) {
      label += ' + duplicated input';
      inputs.push({ ...inputs[0]! });
    }
    const header: Record<string, unknown> = { id: chance(0.3) ? str(6) : undefined, inputs };
    if (mutate && chance(0.15)) {
      label += ' + outputs';
      header.outputs = pick([[{ name: 'nope' }], [{ name: Object.keys(m.outputs)[0] }, { name: Object.keys(m.outputs)[0] }], {}, [{ name: 7 }], [{ name: Object.keys(m.outputs)[0], parameters: { binary_data: 'yes' } }]]);
    }
    if (mutate && chance(0.1)) {
      label += ' + parameters';
      header.parameters = pick([
        { binary_data_output: 'yes' },
        'x',
        { variant: '' },
        { variant: 'nope' },
        { binary_data_output: true },
        { priority: pick([-1, 1.5, 'high', 4, 1e9, 2 ** 53, null, 1, 3]) },
        // only generous valid deadlines: a 1 ms one could expire (504) under the fuzz's own load
        { timeout: pick([0, -5, 1.5, '100', 2 ** 60, null, {}, 60_000_000]) },
      ]);
    }
    return { header, chunks, label };
  }

  function v2Case(binary: boolean): Case {
    const model = pick(NAMES);
    const path = pick([`/v2/models/${model}/infer`, `/v2/models/${model}/versions/1/infer`]);
    const r = rng();
    if (r < 0.1) {
      const v = valid(model);
      const { header, chunks } = v2Header(v, binary, false);
      return binaryOrJson(`v2 ${binary ? 'binary' : 'JSON'} valid`, path, header, chunks, binary, { model, values: v.values, api: 'v2' });
    }
    if (r < 0.13) {
      const shape = [1, 0];
      const header = { inputs: ['input_ids', 'attention_mask'].map((name) => (binary ? { name, datatype: 'INT64', shape, parameters: { binary_data_size: 0 } } : { name, datatype: 'INT64', shape, data: [] })) };
      return binaryOrJson(`v2 ${binary ? 'binary' : 'JSON'} SIGFPE request`, '/v2/models/seq_pair/infer', header, [], binary);
    }
    if (r < 0.2) {
      const v = mismatchedSeq();
      const { header, chunks } = v2Header(v, binary, false);
      return binaryOrJson(`v2 ${binary ? 'binary' : 'JSON'} shared dim mismatch`, '/v2/models/seq_pair/infer', header, chunks, binary);
    }
    if (r < 0.25) return classificationCase(model, path, binary);
    if (binary && r < 0.45) return framingCase(path);
    if (!binary && r < 0.3) {
      const kind = pick(['random body', 'random bytes', 'invalid utf-8', 'truncated', 'empty', 'content type']);
      const v = valid(model);
      const good = JSON.stringify(v2Header(v, false, false).header);
      let body: string | Buffer = good;
      const headers: Record<string, string> = { ...json };
      if (kind === 'random body') body = serialize(randomJson());
      else if (kind === 'random bytes') body = Buffer.from(Array.from({ length: int(0, 200) }, () => int(0, 255)));
      else if (kind === 'invalid utf-8') body = Buffer.concat([Buffer.from(good.slice(0, good.indexOf('"name":"') + 8)), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82]), Buffer.from(good.slice(good.indexOf('"name":"') + 8))]);
      else if (kind === 'truncated') body = good.slice(0, int(0, good.length - 1));
      else if (kind === 'empty') body = '';
      else headers['content-type'] = pick(['text/plain', 'application/xml', 'image/png', 'application/json; charset=utf-16']);
      return { kind: `v2 JSON ${kind}`, method: 'POST', path, headers, body };
    }
    const { header, chunks, label } = v2Header(valid(model), binary, true);
    return binaryOrJson(`v2 ${binary ? 'binary' : 'JSON'} ${label}`, path, header, chunks, binary);
  }

  /** A valid request asking for one output as classes: counts in range (200) and out of it (400). */
  function classificationCase(model: string, path: string, binary: boolean): Case {
    const v = valid(model);
    const { header, chunks } = v2Header(v, binary, false);
    const n = pick([1, 1, 2, 3, 4, 5, 0, -1, 1.5, '2', null, true, [2], { n: 2 }, 1e9, 2 ** 53]);
    header.outputs = [{ name: pick(Object.keys(MODELS[model]!.outputs)), parameters: { classification: n, ...(chance(0.5) ? { binary_data: chance(0.5) } : {}) } }];
    return binaryOrJson(`v2 ${binary ? 'binary' : 'JSON'} classification ${JSON.stringify(n)}`, path, header, chunks, binary);
  }

  /** The same request with its body sent under a Content-Encoding: valid ones keep their expected answer. */
  function encodedCase(c: Case): Case {
    const raw = c.body === undefined ? Buffer.alloc(0) : Buffer.from(c.body);
    const kind = pick(['gzip', 'gzip', 'deflate', 'x-gzip', 'identity', 'truncated gzip', 'corrupt gzip', 'random bytes', 'plain as gzip', 'plain as deflate', 'unknown coding', 'bomb']);
    let body: Buffer = gzipSync(raw);
    let coding = 'gzip';
    if (kind === 'deflate') [body, coding] = [deflateSync(raw), 'deflate'];
    else if (kind === 'x-gzip') coding = 'x-gzip';
    else if (kind === 'identity') [body, coding] = [raw, pick(['identity', 'IDENTITY'])];
    else if (kind === 'truncated gzip') body = body.subarray(0, int(1, body.length - 1));
    else if (kind === 'corrupt gzip') {
      body = Buffer.from(body);
      body[int(10, body.length - 1)]! ^= int(1, 255);
    } else if (kind === 'random bytes') body = Buffer.from(Array.from({ length: int(1, 200) }, () => int(0, 255)));
    else if (kind === 'plain as gzip') body = raw.length ? raw : Buffer.from('{}');
    else if (kind === 'plain as deflate') [body, coding] = [raw.length ? raw : Buffer.from('{}'), 'deflate'];
    else if (kind === 'unknown coding') [body, coding] = [raw, pick(['br', 'zstd', 'compress', 'gzip, gzip', 'x-foo', 'gzip;q=1'])];
    else if (kind === 'bomb') body = GZIP_BOMB;
    const valid = ['gzip', 'deflate', 'x-gzip', 'identity'].includes(kind);
    return { kind: `${c.kind} + ${kind} body`, method: c.method, path: c.path, headers: { ...c.headers, 'content-encoding': coding }, body, ...(valid && c.expect ? { expect: c.expect } : {}) };
  }

  function binaryOrJson(kind: string, path: string, header: unknown, chunks: Buffer[], binary: boolean, expect?: Case['expect']): Case {
    const text = serialize(header);
    if (!binary) return { kind, method: 'POST', path, headers: json, body: text, ...(expect ? { expect } : {}) };
    const head = Buffer.from(text);
    return {
      kind,
      method: 'POST',
      path,
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(head.length) },
      body: Buffer.concat([head, ...chunks]),
      ...(expect ? { expect } : {}),
    };
  }

  /** A binary body whose framing lies: Inference-Header-Content-Length, truncation, bytes. */
  function framingCase(path: string): Case {
    const v = valid(path.split('/')[3]);
    const { header, chunks } = v2Header(v, true, false);
    const head = Buffer.from(JSON.stringify(header));
    let body = Buffer.concat([head, ...chunks]);
    const n = head.length;
    const kind = pick(['negative', 'past the body', 'non-numeric', 'several', 'empty', 'zero', 'inside the JSON', 'truncated', 'random bytes', 'invalid utf-8', 'extra bytes', 'no header length']);
    let ihcl: string | string[] | undefined = String(n);
    if (kind === 'negative') ihcl = `-${n}`;
    else if (kind === 'past the body') ihcl = String(body.length + int(1, 1e6));
    else if (kind === 'non-numeric') ihcl = pick(['abc', '1e3', '0x10', ' 12', '12 ', '+12', '1 2', '12abc', String(2 ** 64), '9'.repeat(400)]);
    else if (kind === 'several') ihcl = [String(n), String(n + 1)];
    else if (kind === 'empty') ihcl = '';
    else if (kind === 'zero') ihcl = '0';
    else if (kind === 'inside the JSON') ihcl = String(int(1, n - 1));
    else if (kind === 'truncated') body = body.subarray(0, int(n, body.length - 1));
    else if (kind === 'random bytes') body = Buffer.from(Array.from({ length: int(1, 300) }, () => int(0, 255)));
    else if (kind === 'invalid utf-8') body = Buffer.concat([Buffer.from([0xc0, 0xaf, 0xff]), body.subarray(3)]);
    else if (kind === 'extra bytes') body = Buffer.concat([body, Buffer.alloc(int(1, 9))]);
    else ihcl = undefined;
    const headers: Record<string, string | string[]> = { 'content-type': pick(['application/octet-stream', 'application/json', 'text/plain']) };
    if (ihcl !== undefined) headers['inference-header-content-length'] = ihcl;
    return { kind: `v2 binary framing: ${kind}`, method: 'POST', path, headers, body };
  }

  function urlCase(): Case {
    const path = pick([
      '/docs/static/a%00b',
      '/docs/static/%5c..%5cpackage.json',
      '/docs/static/../x',
      '/docs/static/%2e%2e/%2e%2e/package.json',
      '/docs/static/.hidden',
      '/docs/static/%2ehidden',
      '/docs/static/..%2f..%2fpackage.json',
      '/docs/static/%',
      '/v1/predict%00',
      '/v1/%',
      '/v2/%ZZ',
      '/%E0%A4%A',
      `/v2/models/${'m'.repeat(int(101, 5000))}/infer`,
      `/v2/models/seq_pair/versions/${'9'.repeat(int(1, 200))}/infer`,
      '/v2/models/seq_pair/versions/abc/infer',
      '/v2/models/%2e%2e/infer',
      '/v2/models/..%2f..%2fetc/infer',
      '/v2/models/seq_pair/infer?variant=nope',
      '/v2/models/seq_pair/infer?variant=a&variant=b',
      `/v1/predict?${'q'.repeat(int(1, 6000))}=1`,
      '//v1//predict',
      '/v1/predict/',
      '/V1/PREDICT',
      '/v2/models/seq_pair/ready',
      '/v2/models/nope',
      '/v2/models/seq_pair/stats',
      '/v2/models/seq_pair/config',
      '/v2/models/dense4/versions/1/config',
      '/v2/models/scalar/versions/9/config',
      '/v2/models/nope/config',
      '/v2/models/mixed/config?x=1',
      '/v2/repository/index',
      '/v2/repository/models/seq_pair/load',
      '/v2/logging',
      '/v2/systemsharedmemory/status',
      '/v2/cudasharedmemory/region/r0/register',
      `/v2/systemsharedmemory/region/${'r'.repeat(int(1, 300))}/unregister`,
      '/v2/health/ready',
      '/v1/models',
      '/metrics',
      '/nothing',
    ]);
    const method = pick(['GET', 'GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);
    const withBody = method !== 'GET' && method !== 'OPTIONS';
    return { kind: `url ${method}`, method, path, headers: withBody ? json : {}, ...(withBody ? { body: SIGFPE_BODY } : {}) };
  }

  // the admin routes: hostile and unknown model names, a spare model (never inferred) loaded and
  // unloaded for real, bodies good and bad, with no, a wrong or the right token
  function adminCase(): Case {
    const name = pick(['spare', 'spare', 'nope', '%2e%2e', '..%2f..%2fetc', 'a%00b', '.hidden', 'node_modules', `${'n'.repeat(int(90, 130))}`, '%2fetc%2fpasswd', 'spare%2f..', '%C0%AE%C0%AE', 'x%5c..']);
    const path = pick([
      `/v2/repository/models/${name}/load`,
      `/v2/repository/models/${name}/unload`,
      '/v2/repository/index',
      '/v2/repository/models',
      '/v2/repository/models//load',
      '/v2/logging',
      `/v2/logging?${'q'.repeat(int(1, 100))}`,
    ]);
    const method = pick(['POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE']);
    const body = pick([
      undefined,
      '',
      '{}',
      SIGFPE_BODY,
      '{"ready": true}',
      '{"ready": "yes"}',
      '{"parameters": {"config": "{\\"maxBatchSize\\": 4}"}}',
      '{"parameters": {"config": "{bad"}}',
      '{"parameters": {"config": 7}}',
      '{"parameters": []}',
      '{"log_level": "silent"}',
      '{"log_verbose_level": "x"}',
      '{"log_file": "/etc/passwd"}',
      '[1, 2]',
      'not json',
      '\u0000',
    ]);
    const authorization = pick([undefined, `Bearer ${ADMIN_TOKEN}`, `Bearer ${ADMIN_TOKEN}`, 'Bearer nope', 'Basic eDp5', 'Bearer', `bearer ${ADMIN_TOKEN}x`]);
    const headers: Record<string, string> = { ...(body !== undefined && method !== 'GET' ? json : {}), ...(authorization ? { authorization } : {}) };
    return { kind: `admin ${method}`, method, path, headers, ...(body !== undefined && method !== 'GET' ? { body } : {}) };
  }

  return { v1Case, v2Case, urlCase, encodedCase, adminCase, int, chance, pick, str, valid };
}

function bytesOf(dtype: DType, vals: readonly (number | boolean)[]): Buffer {
  let a: ArrayBufferView;
  if (dtype === 'int64') a = BigInt64Array.from(vals as number[], (x) => BigInt(x));
  else if (dtype === 'float32') a = Float32Array.from(vals as number[]);
  else if (dtype === 'float16') a = Uint16Array.from(vals as number[], (x) => f32ToF16(x));
  else if (dtype === 'int8') a = Int8Array.from(vals as number[]);
  else a = Uint8Array.from(vals as boolean[], (x) => (x ? 1 : 0));
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function makeCases(seed: number): Case[] {
  const g = gen(mulberry32(seed));
  return Array.from({ length: CASES }, () => {
    const r = g.int(0, 99);
    if (r < 5) return g.urlCase();
    if (r < 8) return g.adminCase();
    if (r < 36) return g.v1Case();
    if (r < 62) return g.v2Case(false);
    if (r < 88) return g.v2Case(true);
    return g.encodedCase(r < 92 ? g.v1Case() : r < 96 ? g.v2Case(false) : g.v2Case(true));
  });
}

// ---- checking answers ----

/** Triton's shared-memory routes: the one 5xx the house rules allow, 501 (not served, said so). */
const SHARED_MEMORY = /^\/v2\/(?:system|cuda)sharedmemory\//;

// absolute paths, onnxruntime's build folder and source locations (reshape_helper.h:91), graph node names
const INTERNALS = /\/(?:tmp|work|home|root)\/|node_modules|onnxruntime_src|\.(?:h|cc|cpp):\d|Name:'/;

/** What is wrong with a response, or undefined when it is one the house rules allow. */
function problem(c: Case, status: number, body: Buffer): string | undefined {
  if (status >= 500 && !(status === 501 && SHARED_MEMORY.test(c.path))) return `status ${status}`;
  if (c.method === 'HEAD') return undefined;
  const isV2 = /^\/v2(?:[/?#]|$)/.test(c.path);
  if (status >= 400) {
    let parsed: any;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return `status ${status} with a body that is not JSON: ${body.toString('utf8').slice(0, 200)}`;
    }
    const message: unknown = isV2 ? parsed?.error : parsed?.error?.message;
    if (isV2) {
      if (typeof parsed?.error !== 'string' || parsed.error === '') return `a /v2 error must be {"error": "message"}, got ${JSON.stringify(parsed).slice(0, 300)}`;
    } else {
      const code = parsed?.error?.code;
      if (typeof code !== 'string' || !isErrorCode(code)) return `code ${JSON.stringify(code)} is not in the catalogue (${JSON.stringify(parsed).slice(0, 300)})`;
      if (ERRORS[code].status !== status) return `code ${code} is ${ERRORS[code].status} in the catalogue, answered ${status}`;
      if (typeof message !== 'string' || message === '') return 'no message';
    }
    // the request's own path, echoed back (a 404 names it), is the client's text, not the server's internals
    const ownPath = c.path.split('?')[0]!;
    if (INTERNALS.test(String(message).split(ownPath).join(''))) return `the message shows internals: ${String(message).slice(0, 300)}`;
    return undefined;
  }
  if (c.expect && status !== 200) return `a valid request answered ${status}`;
  if (c.expect) return checkOutputs(c.expect, body);
  return undefined;
}

function checkOutputs(expect: NonNullable<Case['expect']>, body: Buffer): string | undefined {
  const m = MODELS[expect.model]!;
  const res = JSON.parse(body.toString('utf8'));
  for (const [name, compute] of Object.entries(m.outputs)) {
    const want = compute(expect.values);
    const raw = expect.api === 'v1' ? [res.outputs?.[name]].flat(Infinity) : res.outputs?.find((o: { name: string }) => o.name === name)?.data;
    const got = FLOAT32_OUTPUTS.has(name) ? asFloat32(raw) : raw;
    if (JSON.stringify(got) !== JSON.stringify(want)) return `output ${name}: ${JSON.stringify(got)?.slice(0, 200)}, expected ${JSON.stringify(want).slice(0, 200)}`;
  }
  return undefined;
}

function show(c: Case): string {
  const b = c.body === undefined ? '' : typeof c.body === 'string' ? c.body : c.body.toString('latin1');
  const cut = b.length > 600 ? `${b.slice(0, 600)}… (${b.length} bytes)` : b;
  return `${c.method} ${c.path.slice(0, 200)} headers ${JSON.stringify(c.headers)} body ${JSON.stringify(cut)}`;
}

t.test(`fuzz: ${CASES} requests over /v1 JSON, /v2 JSON and /v2 binary (seed ${SEED})`, async (t) => {
  t.comment(`FUZZ_SEED=${SEED}`);
  // explicit model control with an admin token: the admin cases reach every check, and load and
  // unload only "spare", which no inference case names
  const repo = await makeRepo(t, { ...Object.fromEntries(NAMES.map((n) => [n, { onnx: MODELS[n]!.onnx }])), spare: { onnx: MODELS.dense4!.onnx } });
  const served = await startServer(t, repo, ['--model-control', 'explicit', ...NAMES.flatMap((n) => ['--load-model', n]), '--admin-token', ADMIN_TOKEN]);
  const pool = new Pool(served.url, { connections: IN_FLIGHT, pipelining: 1 });
  t.teardown(() => pool.close());

  const cases = makeCases(SEED);
  const failures: string[] = [];
  const statuses = new Map<string, Map<number, number>>();
  const extras: Record<string, Set<number>> = {};
  const started = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const i = next++;
      const c = cases[i]!;
      const route = c.kind.startsWith('url') ? 'url' : c.kind.startsWith('admin') ? 'admin' : c.kind.startsWith('v1') ? 'v1' : c.kind.startsWith('v2 binary') ? 'v2 binary' : 'v2 JSON';
      try {
        const res = await pool.request({ method: c.method as 'POST', path: c.path, headers: c.headers, ...(c.body !== undefined ? { body: c.body } : {}) });
        const buf = Buffer.from(await res.body.arrayBuffer());
        const per = statuses.get(route) ?? new Map<number, number>();
        per.set(res.statusCode, (per.get(res.statusCode) ?? 0) + 1);
        statuses.set(route, per);
        const extra = / \+ .* body$/.test(c.kind) ? 'encoded bodies' : c.kind.includes(' classification ') ? 'classification' : undefined;
        if (extra) (extras[extra] ??= new Set()).add(res.statusCode);
        const p = problem(c, res.statusCode, buf);
        if (p) failures.push(`seed ${SEED} case ${i} (${c.kind}): ${p}\n  ${show(c)}`);
      } catch (err) {
        failures.push(`seed ${SEED} case ${i} (${c.kind}): the request failed: ${(err as Error).message}\n  ${show(c)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const ms = performance.now() - started;
  t.comment(`${cases.length} requests in ${ms.toFixed(0)} ms`);
  for (const [route, per] of statuses) t.comment(`${route}: ${[...per].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' ')}`);

  for (const f of failures.slice(0, 20)) t.fail(f);
  t.equal(failures.length, 0, `every one of ${cases.length} responses is < 500 with the route's error shape (seed ${SEED})`);
  // the fuzz reached every decoder with both good and bad requests, not only a parser in front
  for (const route of ['v1', 'v2 JSON', 'v2 binary', 'url', 'admin']) {
    const per = statuses.get(route) ?? new Map<number, number>();
    const total = [...per.values()].reduce((a, b) => a + b, 0);
    t.ok(total > 50, `${route}: ${total} requests`);
    if (route === 'admin') t.ok([200, 400, 401, 404].every((s) => (per.get(s) ?? 0) > 0), 'admin: 200s, 400s, 401s and 404s');
    if (route !== 'url' && route !== 'admin') t.ok((per.get(200) ?? 0) > 0 && (per.get(400) ?? 0) > total / 2, `${route}: some 200s, mostly 400s`);
  }

  t.ok(['encoded bodies', 'classification'].every((k) => extras[k]?.has(200) && extras[k]?.has(400)), `compressed bodies and classification answered 200 and 400 (${Object.entries(extras).map(([k, v]) => `${k}: ${[...v].sort().join(' ')}`).join('; ')})`);
  t.ok(extras['encoded bodies']?.has(413) && extras['encoded bodies']?.has(415), 'bombs are 413, unknown codings 415');

  // the server survived: alive, no worker thread died, and each model still computes correctly
  const live = await pool.request({ method: 'GET', path: '/v2/health/live' });
  await live.body.dump();
  t.equal(live.statusCode, 200, '/v2/health/live is 200 after the fuzz');
  for (const name of NAMES) {
    t.equal(served.app.serving.repository.resolve(name).workerPool!.restarts, 0, `${name}: no worker restarted`);
    const g = gen(mulberry32(SEED + 1));
    let c: Case;
    do c = g.v1Case();
    while (c.expect?.model !== name);
    const res = await pool.request({ method: 'POST', path: c.path, headers: c.headers, body: c.body! });
    const buf = Buffer.from(await res.body.arrayBuffer());
    t.equal(res.statusCode, 200, `${name}: a valid predict answers 200`);
    t.equal(checkOutputs(c.expect!, buf), undefined, `${name}: with the right outputs`);
  }
});

// ---- requests Node's HTTP parser refuses: undici never sends these, so a raw socket does ----

function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (out += d));
    s.on('close', () => resolve(out));
    s.on('error', () => undefined);
    s.end(text);
  });
}

t.test("fastify's and Node's client errors are 400s in the route's error shape", async (t) => {
  const repo = await makeRepo(t, { seq_pair: { onnx: MODELS.seq_pair!.onnx } });
  const served = await startServer(t, repo);
  const port = Number(new URL(served.url).port);
  const line = (path: string) => `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n`;
  const cases: [string, string, string][] = [
    ['Content-Length: abc', `${line('/v1/predict')}Content-Length: abc\r\n\r\n${SIGFPE_BODY}`, 'Content-Length'],
    ['Content-Length: -1', `${line('/v2/models/seq_pair/infer')}Content-Length: -1\r\n\r\n${SIGFPE_BODY}`, 'Content-Length'],
    ['two Content-Lengths', `${line('/v1/predict')}Content-Length: 70\r\nContent-Length: 71\r\n\r\n${SIGFPE_BODY}`, 'Content-Length'],
    ['Content-Length with chunked', `${line('/v2/models/seq_pair/infer')}Content-Length: 70\r\nTransfer-Encoding: chunked\r\n\r\n${SIGFPE_BODY}`, 'Transfer-Encoding'],
    ['headers too large', `${line('/v1/predict')}X-Big: ${'a'.repeat(20_000)}\r\nContent-Length: 70\r\n\r\n${SIGFPE_BODY}`, 'headers'],
    ['not HTTP', 'GARBAGE\r\n\r\n', 'not valid HTTP'],
  ];
  for (const [label, text, fragment] of cases) {
    const answer = await raw(port, text);
    const [head = '', body = ''] = answer.split('\r\n\r\n');
    t.match(head, /^HTTP\/1\.1 400 /, `${label}: 400`);
    const parsed = JSON.parse(body);
    const v2 = text.includes(' /v2/');
    const message: string = v2 ? parsed.error : parsed.error.message;
    if (v2) t.type(parsed.error, 'string', `${label}: /v2's {"error": "message"}`);
    else t.equal(parsed.error.code, 'INVALID_INPUT', `${label}: INVALID_INPUT`);
    t.ok(message.includes(fragment), `${label}: ${JSON.stringify(message)} mentions ${fragment}`);
  }
  // and the server goes on answering
  const ok = await raw(port, `GET /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  t.match(ok, /^HTTP\/1\.1 200 /, 'still live');
});

// ---- values onnxruntime refuses: well-formed requests whose ids fall outside a Gather's table ----

t.test(`fuzz: ids in and out of a Gather's vocabulary, many at once (seed ${SEED}): good ones 200 with their rows, bad ones 422 alone`, async (t) => {
  const vocab = 10;
  const table = Float32Array.from({ length: vocab * 2 }, (_, i) => i);
  const onnx = buildModel({
    inputs: [{ name: 'ids', dtype: 'int64', dims: ['batch', 'seq'] }],
    outputs: [{ name: 'emb', dtype: 'float32', dims: ['batch', 'seq', 2] }],
    nodes: [{ op: 'Gather', inputs: ['table', 'ids'], outputs: ['emb'], attributes: { axis: 0 } }],
    initializers: [{ name: 'table', dtype: 'float32', dims: [vocab, 2], data: table }],
  });
  // a short delay so that concurrent requests share batches, and poisoned ones break them
  const repo = await makeRepo(t, { vocab: { onnx, config: { dynamicBatching: { maxQueueDelayMs: 5 } } } });
  const served = await startServer(t, repo);
  const pool = new Pool(served.url, { connections: 32, pipelining: 1 });
  t.teardown(() => pool.close());
  const r = mulberry32(SEED + 7);
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  const requests = Array.from({ length: 400 }, () => {
    const rows = int(1, 3);
    const seq = int(1, 4);
    const bad = r() < 0.1;
    const ids = Array.from({ length: rows }, () => Array.from({ length: seq }, () => int(-vocab, vocab - 1)));
    if (bad) ids[int(0, rows - 1)]![int(0, seq - 1)] = r() < 0.5 ? int(vocab, 10 * vocab) : int(-10 * vocab, -vocab - 1);
    const v2 = r() < 0.5;
    return { ids, bad, v2 };
  });
  const problems: string[] = [];
  let i = 0;
  const worker = async (): Promise<void> => {
    while (i < requests.length) {
      const q = requests[i++]!;
      const body = q.v2
        ? JSON.stringify({ inputs: [{ name: 'ids', shape: [q.ids.length, q.ids[0]!.length], datatype: 'INT64', data: q.ids.flat() }] })
        : JSON.stringify({ model: 'vocab', inputs: { ids: q.ids } });
      const res = await pool.request({ method: 'POST', path: q.v2 ? '/v2/models/vocab/infer' : '/v1/predict', headers: { 'content-type': 'application/json' }, body });
      const answer = JSON.parse(await res.body.text());
      const label = `${q.v2 ? 'v2' : 'v1'} ids ${JSON.stringify(q.ids)}`;
      if (q.bad) {
        if (res.statusCode !== 422) problems.push(`${label}: ${res.statusCode}, expected 422`);
        else if (!q.v2 && answer.error?.code !== 'INPUT_REJECTED') problems.push(`${label}: code ${answer.error?.code}`);
        continue;
      }
      const want = q.ids.flat().flatMap((id) => {
        const row = id < 0 ? id + vocab : id;
        return [table[2 * row]!, table[2 * row + 1]!];
      });
      const got = asFloat32(q.v2 ? answer.outputs?.[0]?.data : [answer.outputs?.emb].flat(Infinity)); // emb is float32
      if (res.statusCode !== 200) problems.push(`${label}: ${res.statusCode} ${JSON.stringify(answer).slice(0, 200)}`);
      else if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${label}: ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  for (const p of problems.slice(0, 10)) t.fail(p);
  t.equal(problems.length, 0, `${requests.length} requests (${requests.filter((q) => q.bad).length} poisoned): every good one answered with its rows, every bad one 422`);
  const sched = served.app.serving.repository.resolve('vocab').stats!;
  t.ok(sched.bisectionRuns > 0, `poisoned batches were split (${sched.bisectionRuns} extra runs over ${sched.executions} executions)`);
  t.equal(served.app.serving.repository.resolve('vocab').workerPool!.restarts, 0, 'no worker died');
});

// ---- gRPC ModelInfer: the same models, requests built as Triton's clients build them, mutated ----

const GRPC_CASES = 1500;
/** Of those, sent again over ModelStreamInfer. */
const STREAM_CASES = 300;
/** Output dtypes of the models above, to read raw_output_contents back. */
const OUT_DTYPE: Record<string, DType> = { masked: 'int64', y: 'float32', s2: 'float32', q_out: 'int8', qf: 'float32', h_out: 'float16', flag_out: 'bool' };
const CONTENTS_FIELD: Partial<Record<DType, string>> = { int64: 'int64_contents', float32: 'fp32_contents', int8: 'int_contents', bool: 'bool_contents' };

interface GrpcCase {
  kind: string;
  req?: Record<string, any>;
  /** Sent as the message's bytes as they are. */
  bytes?: Buffer;
  expect?: { model: string; values: Record<string, number[] | boolean[]> };
}

function readOutput(dtype: DType, b: Buffer): (number | boolean)[] {
  const copy = new Uint8Array(b).buffer;
  if (dtype === 'int64') return Array.from(new BigInt64Array(copy), Number);
  if (dtype === 'float32') return Array.from(new Float32Array(copy));
  if (dtype === 'float16') return Array.from(new Uint16Array(copy), f16ToF32);
  if (dtype === 'int8') return Array.from(new Int8Array(copy));
  return Array.from(new Uint8Array(copy), (x) => x !== 0);
}

function grpcCases(seed: number): GrpcCase[] {
  const g = gen(mulberry32(seed));
  const { int, pick, chance, str } = g;
  return Array.from({ length: GRPC_CASES }, (): GrpcCase => {
    if (chance(0.04)) return { kind: 'undecodable bytes', bytes: Buffer.from(Array.from({ length: int(1, 200) }, () => int(0, 255))) };
    const v = g.valid();
    const m = MODELS[v.model]!;
    // FP16 has no typed field: a model with an FP16 input goes raw
    const raw = chance(0.5) || m.inputs.some((x) => x.dtype === 'float16');
    const inputs: Record<string, any>[] = m.inputs.map((x) => ({
      name: x.name,
      datatype: V2_TYPE[x.dtype],
      shape: v.dims[x.name]!,
      ...(raw ? {} : { contents: { [CONTENTS_FIELD[x.dtype]!]: v.values[x.name] } }),
    }));
    const rawContents = raw ? m.inputs.map((x) => bytesOf(x.dtype, v.values[x.name]!)) : [];
    const req: Record<string, any> = { model_name: v.model, inputs, raw_input_contents: rawContents, ...(chance(0.3) ? { id: str(6) } : {}) };
    const kind = raw ? 'raw' : 'typed';
    if (chance(0.2)) return { kind: `valid ${kind}`, req, expect: v };
    const out0 = Object.keys(m.outputs)[0]!;
    const i = int(0, inputs.length - 1);
    let label: string;
    switch (int(0, 13)) {
      case 0: label = 'model name'; req.model_name = pick(['', 'nope', str(), 'm'.repeat(int(101, 3000))]); break;
      case 1: label = 'model version'; req.model_version = pick(['9', 'abc', '-1', '0', str()]); break;
      case 2: label = 'missing input'; inputs.splice(i, 1); if (raw) rawContents.splice(i, 1); break;
      case 3: label = 'duplicated input'; inputs.push({ ...inputs[i]! }); if (raw) rawContents.push(rawContents[i]!); break;
      case 4: label = 'renamed input'; inputs[i]!.name = pick(['', 'nope', str()]); break;
      case 5: label = 'datatype'; inputs[i]!.datatype = pick(['FP64', 'BYTES', 'INT32', 'fp32', '', 'FP16', 'BOOL', str()]); break;
      case 6: label = 'shape'; inputs[i]!.shape = pick([[], [0], [-1, 4], ['9223372036854775807'], ['-9223372036854775808', 1], [2 ** 40, 2 ** 40], Array(40).fill(2 ** 20), [70_000, 70_000], [1, 0, 3]]); break;
      case 7:
        label = 'value count';
        if (raw) rawContents[i] = pick([rawContents[i]!.subarray(1), Buffer.concat([rawContents[i]!, Buffer.alloc(int(1, 9))]), Buffer.alloc(0)]);
        else inputs[i]!.contents = { [CONTENTS_FIELD[m.inputs[i]!.dtype]!]: [] };
        break;
      case 8: label = 'raw entries'; rawContents.push(Buffer.alloc(int(0, 16))); if (!raw) rawContents.push(Buffer.alloc(4)); break;
      case 9: label = 'raw and typed'; inputs[i]!.contents = { fp32_contents: [1, 2] }; if (!raw) rawContents.push(...m.inputs.map((x) => bytesOf(x.dtype, v.values[x.name]!))); break;
      case 10: label = 'contents field'; inputs[i]!.contents = pick([{ fp64_contents: [1.5] }, { uint64_contents: ['18446744073709551615'] }, { bytes_contents: [Buffer.from('x')] }, { bool_contents: [true] }, { int_contents: [300, -129] }, { int64_contents: ['9223372036854775807'] }]); if (raw) rawContents.length = 0; break;
      case 11:
        label = 'parameters';
        req.parameters = pick([
          { variant: { string_param: '' } }, { variant: { string_param: 'nope' } }, { variant: { int64_param: '1' } },
          { priority: { int64_param: '-1' } }, { priority: { int64_param: '99999999999' } }, { priority: { uint64_param: '18446744073709551615' } }, { priority: { double_param: 1.5 } },
          // only generous valid deadlines: a short one could expire under the fuzz's own load
          { timeout: { int64_param: '0' } }, { timeout: { string_param: 'x' } }, { timeout: { int64_param: '60000000' } }, { timeout: { bool_param: true } },
          { binary_data_output: { int64_param: '1' } }, { sequence_id: { int64_param: '5' } }, { x: {} },
        ]);
        break;
      case 12: label = 'outputs'; req.outputs = pick([[{ name: 'nope' }], [{ name: out0 }, { name: out0 }], [{ name: '' }], [{ name: out0, parameters: { binary_data: { bool_param: true } } }]]); break;
      default: label = 'id'; req.id = pick(['\u0000', 'x'.repeat(int(1000, 5000)), str()]); break;
    }
    return { kind: `${kind}: ${label}`, req };
  });
}

/** A client of the shipped proto, as any user's would be made, closed with the test. */
function grpcClient(t: { teardown(fn: () => unknown): void }, port: number): { def: ReturnType<typeof loadSync>; client: any } {
  const def = loadSync(join(ROOT, 'proto', 'grpc_service.proto'), { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const Service = (loadPackageDefinition(def) as any).inference.GRPCInferenceService;
  const client = new Service(`127.0.0.1:${port}`, credentials.createInsecure());
  t.teardown(() => client.close());
  return { def, client };
}

t.test(`fuzz: ${GRPC_CASES} gRPC ModelInfer calls, raw and typed contents (seed ${SEED})`, async (t) => {
  t.comment(`FUZZ_SEED=${SEED}`);
  const repo = await makeRepo(t, Object.fromEntries(NAMES.map((n) => [n, { onnx: MODELS[n]!.onnx }])));
  const served = await startServer(t, repo, ['--grpc-port', '0']);
  const { def, client } = grpcClient(t, served.grpcPort!);
  const call = (c: GrpcCase): Promise<{ err: ServiceError | null; res: any }> =>
    new Promise((resolve) => {
      const cb = (err: ServiceError | null, res: unknown) => resolve({ err, res });
      if (c.bytes) client.makeUnaryRequest('/inference.GRPCInferenceService/ModelInfer', (b: Buffer) => b, (b: Buffer) => b, c.bytes, new Metadata(), {}, cb);
      else client.ModelInfer(c.req, new Metadata(), { deadline: Date.now() + 60_000 }, cb);
    });

  const cases = grpcCases(SEED + 2);
  const failures: string[] = [];
  const codes = new Map<string, number>();
  const show = (c: GrpcCase): string => (c.bytes ? `bytes ${c.bytes.toString('hex').slice(0, 80)}` : JSON.stringify(c.req, (_k, v) => (v?.type === 'Buffer' ? `<${v.data.length} bytes>` : v)).slice(0, 500));
  let next = 0;
  const worker = async (failed: Map<number, boolean>): Promise<void> => {
    while (next < cases.length) {
      const i = next++;
      const c = cases[i]!;
      const { err, res } = await call(c);
      failed.set(i, err !== null);
      const code = err ? status[err.code] ?? String(err.code) : 'OK';
      codes.set(code, (codes.get(code) ?? 0) + 1);
      const fail = (p: string): number => failures.push(`seed ${SEED + 2} case ${i} (${c.kind}): ${p}\n  ${show(c)}`);
      if (err) {
        if (![status.INVALID_ARGUMENT, status.NOT_FOUND].includes(err.code)) fail(`status ${code}: ${err.details}`);
        const ec = err.metadata?.get(ERROR_CODE_KEY)[0] as string | undefined;
        if (!ec || !isErrorCode(ec)) fail(`no catalogue code in the trailers (${ec})`);
        else if (GRPC_STATUS[ec] !== err.code) fail(`code ${ec} is ${status[GRPC_STATUS[ec]]}, answered ${code}`);
        if (!err.details) fail('no message');
        if (INTERNALS.test(err.details)) fail(`the message shows internals: ${err.details.slice(0, 300)}`);
        if (c.expect) fail(`a valid call answered ${code}: ${err.details}`);
        continue;
      }
      if (!c.expect) continue;
      for (const [name, compute] of Object.entries(MODELS[c.expect.model]!.outputs)) {
        const k = res.outputs.findIndex((o: { name: string }) => o.name === name);
        const got = k < 0 ? undefined : readOutput(OUT_DTYPE[name]!, res.raw_output_contents[k]);
        const want = compute(c.expect.values);
        if (JSON.stringify(got) !== JSON.stringify(want)) fail(`output ${name}: ${JSON.stringify(got)?.slice(0, 200)}, expected ${JSON.stringify(want).slice(0, 200)}`);
      }
    }
  };
  const unaryErrors = new Map<number, boolean>();
  await Promise.all(Array.from({ length: IN_FLIGHT }, () => worker(unaryErrors)));
  t.comment(`gRPC: ${[...codes].map(([k, n]) => `${k}×${n}`).join(' ')}`);

  // the first STREAM_CASES cases again, over ModelStreamInfer (a few streams at once): one answer
  // per request; an error in error_message exactly where the unary call failed, clean; a valid
  // request's answer (found by its id) right
  const streamed = cases.slice(0, STREAM_CASES).map((c, i) => ({ c, i, id: c.req && !c.kind.endsWith(': id') ? `fz-${i}` : undefined }));
  const method = def['inference.GRPCInferenceService'] as any;
  const serialize = (m: object): Buffer => method.ModelStreamInfer.requestSerialize(m);
  const deserialize = (b: Buffer): any => method.ModelStreamInfer.responseDeserialize(b);
  const streams = Array.from({ length: 4 }, (_, k) => streamed.filter((_, j) => j % 4 === k));
  await Promise.all(
    streams.map(
      (part, k) =>
        new Promise<void>((resolve) => {
          const answers: any[] = [];
          const call = client.makeBidiStreamRequest('/inference.GRPCInferenceService/ModelStreamInfer', (b: Buffer) => b, deserialize, new Metadata(), { deadline: Date.now() + 120_000 });
          call.on('data', (a: any) => answers.push(a));
          call.on('error', (err: ServiceError) => failures.push(`stream ${k}: ended with ${status[err.code]}: ${err.details}`));
          call.on('status', (s: { code: number }) => {
            const where = `seed ${SEED + 2} stream ${k}`;
            if (s.code !== status.OK) failures.push(`${where}: status ${status[s.code]}`);
            if (answers.length !== part.length) failures.push(`${where}: ${answers.length} answers to ${part.length} requests`);
            const errors = answers.filter((a) => a.error_message !== '');
            const want = part.filter((p) => unaryErrors.get(p.i)).length;
            if (errors.length !== want) failures.push(`${where}: ${errors.length} error answers where the unary calls failed ${want} times`);
            for (const e of errors) if (INTERNALS.test(e.error_message)) failures.push(`${where}: an error shows internals: ${e.error_message.slice(0, 300)}`);
            const byId = new Map(answers.filter((a) => a.error_message === '' && a.infer_response?.id).map((a) => [a.infer_response.id, a.infer_response]));
            for (const p of part) {
              if (!p.c.expect || !p.id) continue;
              const res = byId.get(p.id);
              if (!res) {
                failures.push(`${where} case ${p.i}: no answer with id ${p.id}`);
                continue;
              }
              for (const [name, compute] of Object.entries(MODELS[p.c.expect.model]!.outputs)) {
                const j = res.outputs.findIndex((o: { name: string }) => o.name === name);
                const got = j < 0 ? undefined : readOutput(OUT_DTYPE[name]!, res.raw_output_contents[j]);
                if (JSON.stringify(got) !== JSON.stringify(compute(p.c.expect.values))) failures.push(`${where} case ${p.i}: output ${name} ${JSON.stringify(got)?.slice(0, 200)}`);
              }
            }
            resolve();
          });
          for (const p of part) call.write(p.c.bytes ?? serialize({ ...p.c.req, ...(p.id ? { id: p.id } : {}) }));
          call.end();
        }),
    ),
  );
  for (const f of failures.slice(0, 20)) t.fail(f);
  t.equal(failures.length, 0, `every one of ${cases.length} calls is OK, INVALID_ARGUMENT or NOT_FOUND with a catalogue code and a clean message, and the first ${STREAM_CASES} again over streams (seed ${SEED + 2})`);
  t.ok((codes.get('OK') ?? 0) > 100 && (codes.get('INVALID_ARGUMENT') ?? 0) > cases.length / 2, 'some answered, mostly refused');
  for (const name of NAMES) t.equal(served.app.serving.repository.resolve(name).workerPool!.restarts, 0, `${name}: no worker restarted`);
  const live = await new Promise<any>((resolve, reject) => client.ServerLive({}, (err: Error | null, r: unknown) => (err ? reject(err) : resolve(r))));
  t.same(live, { live: true }, 'ServerLive after the fuzz');
});

// ---- gRPC: Triton's extensions (ModelConfig, repository index, load, unload, LogSettings) ----

const GRPC_CONTROL_CASES = 400;
const CONTROL_METHODS = ['ModelConfig', 'RepositoryIndex', 'RepositoryModelLoad', 'RepositoryModelUnload', 'LogSettings'] as const;

interface ControlCase {
  method: (typeof CONTROL_METHODS)[number];
  req?: Record<string, any>;
  bytes?: Buffer;
  /** The authorization metadata sent, if any. */
  authorization?: string;
}

function controlCases(seed: number): ControlCase[] {
  const g = gen(mulberry32(seed));
  const { int, pick, chance, str } = g;
  // real names rarely: a load that succeeds starts workers, the slow path
  const name = (): string => (chance(0.08) ? pick(NAMES) : pick(['', 'nope', '..', '.hidden', 'a\u0000b', 'x'.repeat(int(100, 400)), str(), 'dense4.', '-x']));
  const authorization = (): string | undefined =>
    // metadata values are printable ASCII (grpc-js refuses others before sending)
    pick([undefined, `Bearer ${ADMIN_TOKEN}`, `Bearer ${ADMIN_TOKEN}`, `bearer ${ADMIN_TOKEN}`, 'Bearer wrong', 'Bearer', `Basic ${ADMIN_TOKEN}`, ADMIN_TOKEN, `Bearer ${ADMIN_TOKEN}x`, `Bearer x${int(0, 1e6)}`]);
  const repoParameter = (): Record<string, unknown> =>
    pick<Record<string, unknown>>([{}, { bool_param: chance(0.5) }, { int64_param: String(int(-5, 5)) }, { string_param: str() }, { bytes_param: Buffer.from(str()) }]);
  const configText = (): string =>
    pick([
      '{"maxBatchSize": 2}', '{"instances": 1}', '{}', '{not json', '', 'null', '[]', '"x"', '{"maxBatchSise": 2}', '{"maxBatchSize": -1}',
      '{"name": "nope", "max_batch_size": 2}', '{"max_batch_size": 2, "sequence_batching": {}}', '{"platform": "tensorrt_plan"}', `{"${str(6)}": ${int(-3, 3)}}`,
    ]);
  const setting = (): Record<string, unknown> =>
    pick<Record<string, unknown>>([
      {}, { bool_param: chance(0.5) }, { uint32_param: pick([0, 1, 2, 7, 4294967295]) }, { string_param: pick(['', 'trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent', 'default', 'loud', str()]) },
    ]);
  return Array.from({ length: GRPC_CONTROL_CASES }, (): ControlCase => {
    const method = pick(CONTROL_METHODS);
    const auth = authorization();
    if (chance(0.05)) return { method, bytes: Buffer.from(Array.from({ length: int(1, 60) }, () => int(0, 255))), ...(auth ? { authorization: auth } : {}) };
    let req: Record<string, any>;
    switch (method) {
      case 'ModelConfig': req = { name: name(), ...(chance(0.3) ? { version: pick(['1', '9', '', 'x', str()]) } : {}) }; break;
      case 'RepositoryIndex': req = { ready: chance(0.5), ...(chance(0.2) ? { repository_name: str() } : {}) }; break;
      case 'LogSettings': {
        const keys = ['log_file', 'log_info', 'log_warnings', 'log_errors', 'log_verbose_level', 'log_format', 'log_level'];
        req = { settings: Object.fromEntries(Array.from({ length: chance(0.2) ? 0 : int(1, 3) }, () => [chance(0.85) ? pick(keys) : str(), setting()])) };
        break;
      }
      default: {
        const parameters: Record<string, unknown> = {};
        if (chance(0.5)) parameters.config = chance(0.8) ? { string_param: configText() } : repoParameter();
        if (chance(0.15)) parameters[pick(['file:1/model.onnx', 'unload_dependents', str()])] = repoParameter();
        req = { model_name: name(), parameters, ...(chance(0.1) ? { repository_name: str() } : {}) };
      }
    }
    return { method, req, ...(auth ? { authorization: auth } : {}) };
  });
}

t.test(`fuzz: ${GRPC_CONTROL_CASES} gRPC calls of Triton's extensions, with and without the admin token (seed ${SEED})`, async (t) => {
  const repo = await makeRepo(t, Object.fromEntries(NAMES.map((n) => [n, { onnx: MODELS[n]!.onnx }])));
  const lines: string[] = [];
  // level changes the fuzz makes go to this array, not to the test's output
  const served = await startServer(t, repo, ['--grpc-port', '0', '--model-control', 'explicit', '--load-model', 'dense4', '--admin-token', ADMIN_TOKEN], { logStream: { write: (l) => void lines.push(l) } });
  const { client } = grpcClient(t, served.grpcPort!);
  const call = (c: ControlCase): Promise<{ err: ServiceError | null; res: any }> =>
    new Promise((resolve) => {
      const md = new Metadata();
      if (c.authorization !== undefined) md.set('authorization', c.authorization);
      const cb = (err: ServiceError | null, res: unknown) => resolve({ err, res });
      if (c.bytes) client.makeUnaryRequest(`/inference.GRPCInferenceService/${c.method}`, (b: Buffer) => b, (b: Buffer) => b, c.bytes, md, {}, cb);
      else client[c.method](c.req, md, { deadline: Date.now() + 60_000 }, cb);
    });

  const cases = controlCases(SEED + 3);
  const failures: string[] = [];
  const codes = new Map<string, number>();
  // MODEL_NOT_READY: ModelConfig of a model a case unloaded; no PERMISSION_DENIED (a token is set) nor FAILED_PRECONDITION (explicit)
  const allowed = [status.INVALID_ARGUMENT, status.NOT_FOUND, status.UNAUTHENTICATED, status.UNAVAILABLE];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const i = next++;
      const c = cases[i]!;
      const { err } = await call(c);
      const code = `${c.method} ${err ? status[err.code] ?? String(err.code) : 'OK'}`;
      codes.set(code, (codes.get(code) ?? 0) + 1);
      if (!err) continue;
      const fail = (p: string): number =>
        failures.push(`seed ${SEED + 3} case ${i} (${c.method}, authorization ${JSON.stringify(c.authorization)}): ${p}\n  ${c.bytes ? `bytes ${c.bytes.toString('hex')}` : JSON.stringify(c.req).slice(0, 500)}`);
      if (!allowed.includes(err.code)) fail(`status ${status[err.code]}: ${err.details}`);
      const ec = err.metadata?.get(ERROR_CODE_KEY)[0] as string | undefined;
      if (!ec || !isErrorCode(ec)) fail(`no catalogue code in the trailers (${ec})`);
      else if (GRPC_STATUS[ec] !== err.code) fail(`code ${ec} is ${status[GRPC_STATUS[ec]]}, answered ${status[err.code]}`);
      if (!err.details) fail('no message');
      if (INTERNALS.test(err.details)) fail(`the message shows internals: ${err.details.slice(0, 300)}`);
      const admin = c.method === 'RepositoryModelLoad' || c.method === 'RepositoryModelUnload' || (c.method === 'LogSettings' && Object.keys(c.req?.settings ?? {}).length > 0);
      // undecodable bytes may still decode as some request: only built ones are judged here
      if (!c.bytes && err.code === status.UNAUTHENTICATED && (!admin || c.authorization === `Bearer ${ADMIN_TOKEN}` || c.authorization === `bearer ${ADMIN_TOKEN}`)) fail(`UNAUTHENTICATED with the token, or for a call that needs none: ${err.details}`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  t.comment(`gRPC extensions: ${[...codes].sort().map(([k, n]) => `${k}×${n}`).join(' ')}`);
  for (const f of failures.slice(0, 20)) t.fail(f);
  t.equal(failures.length, 0, `every one of ${cases.length} calls is OK or a 4xx-kind status with a catalogue code and a clean message (seed ${SEED + 3})`);
  t.ok([...codes.keys()].some((k) => k.endsWith(' OK')) && [...codes.keys()].some((k) => k.endsWith(' UNAUTHENTICATED')), 'some answered, some refused for the token');

  // afterwards: the level back by name, dense4 loaded again, answering right
  const md = new Metadata();
  md.set('authorization', `Bearer ${ADMIN_TOKEN}`);
  const unary = (method: string, req: object): Promise<any> => new Promise((resolve, reject) => client[method](req, md, (err: Error | null, r: unknown) => (err ? reject(err) : resolve(r))));
  t.equal((await unary('LogSettings', { settings: { log_level: { string_param: 'silent' } } })).settings.log_level.string_param, 'silent', 'LogSettings still answers');
  await unary('RepositoryModelLoad', { model_name: 'dense4' });
  const y = await unary('ModelInfer', { model_name: 'dense4', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [1, 2, 3, 4] } }] });
  t.same(Array.from(new Float32Array(new Uint8Array(y.raw_output_contents[0]).buffer)), [2, 4, 6, 8], 'dense4 answers right after the fuzz');
  t.same(await unary('ServerLive', {}), { live: true }, 'ServerLive after the fuzz');
});
