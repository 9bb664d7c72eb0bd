// Unit tests for load/lib/payload.js: request bodies for /v1/predict, v2 JSON and v2 binary built
// from model metadata. Binary bytes are checked against src/float16.ts, DataView reads and Node's
// own UTF-8 encoder, not against the builder's own helpers.
import t from 'tap';
import { PROTOCOLS, buildPayload, metadataPath, toHalf, type ModelMetadata, type Protocol } from '../../load/lib/payload.js';
import { f32ToF16 } from '../../src/float16.js';
import { thrown } from '../helpers/thrown.js';

const DIGITS: ModelMetadata = {
  name: 'digits',
  versions: ['1'],
  inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 64] }],
  outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, 10] }],
};

const ALL_TYPES: Array<[string, number]> = [
  ['BOOL', 1], ['UINT8', 1], ['INT8', 1], ['UINT16', 2], ['INT16', 2], ['FP16', 2],
  ['UINT32', 4], ['INT32', 4], ['FP32', 4], ['UINT64', 8], ['INT64', 8], ['FP64', 8],
];

const messageOf = (fn: () => unknown): string => {
  const err = thrown(fn);
  return err instanceof Error ? err.message : `no Error thrown (${String(err)})`;
};

const json = (body: string | Uint8Array): any => {
  if (typeof body !== 'string') throw new Error('expected a string body');
  return JSON.parse(body);
};

const bytes = (body: string | Uint8Array): Uint8Array => {
  if (typeof body === 'string') throw new Error('expected a binary body');
  return body;
};

/** The JSON header and the bytes after it, split where the header says. */
function splitBinary(p: { body: string | Uint8Array; headers: Record<string, string> }): { header: any; data: Buffer; headerBytes: number } {
  const b = Buffer.from(bytes(p.body));
  const n = Number(p.headers['inference-header-content-length']);
  return { header: JSON.parse(b.subarray(0, n).toString('utf8')), data: b.subarray(n), headerBytes: n };
}

t.test('metadataPath encodes model and version', async (t) => {
  t.equal(metadataPath('digits'), '/v2/models/digits');
  t.equal(metadataPath('digits', '1'), '/v2/models/digits/versions/1');
  t.equal(metadataPath('a b/c', 'v?1'), '/v2/models/a%20b%2Fc/versions/v%3F1');
});

t.test('v1 (the default): /v1/predict with dims and flat data', async (t) => {
  const p = buildPayload(DIGITS);
  t.equal(p.path, '/v1/predict');
  t.strictSame(p.headers, { 'content-type': 'application/json' });
  t.equal(p.rows, 1);
  const body = json(p.body);
  t.strictSame(Object.keys(body), ['model', 'inputs']);
  t.equal(body.model, 'digits');
  t.strictSame(body.inputs.input.dims, [1, 64]);
  t.equal(body.inputs.input.data.length, 64);
  for (const v of body.inputs.input.data) {
    if (!(v >= -1 && v < 1 && Math.round(v * 1e6) / 1e6 === v)) t.fail(`value ${v} is not in [-1, 1) with 6 decimals`);
  }

  const named = buildPayload(DIGITS, { version: '1', variant: 'int8' });
  t.ok(typeof named.body === 'string' && named.body.startsWith('{"model":"digits","version":"1","variant":"int8","inputs":{"input":{"dims":[1,64],"data":['));
});

t.test('v2-json: /v2/models/{name}[/versions/{v}]/infer with flat data', async (t) => {
  const p = buildPayload(DIGITS, { protocol: 'v2-json', batch: 3 });
  t.equal(p.path, '/v2/models/digits/infer');
  t.strictSame(p.headers, { 'content-type': 'application/json' });
  t.equal(p.rows, 3);
  const body = json(p.body);
  t.strictSame(Object.keys(body), ['inputs']);
  t.strictSame({ ...body.inputs[0], data: undefined }, { name: 'input', datatype: 'FP32', shape: [3, 64], data: undefined });
  t.equal(body.inputs[0].data.length, 192);

  const v1 = json(buildPayload(DIGITS, { batch: 3 }).body);
  t.strictSame(body.inputs[0].data, v1.inputs.input.data, 'same seed, same numbers in every protocol');

  const named = buildPayload({ ...DIGITS, name: 'my model' }, { protocol: 'v2-json', version: '2', variant: 'int8' });
  t.equal(named.path, '/v2/models/my%20model/versions/2/infer');
  t.strictSame(json(named.body).parameters, { variant: 'int8' });
});

t.test('v2-binary: JSON header, then little-endian tensors', async (t) => {
  const p = buildPayload(DIGITS, { protocol: 'v2-binary', batch: 2, variant: 'int8', version: '1' });
  t.equal(p.path, '/v2/models/digits/versions/1/infer');
  t.equal(p.headers['content-type'], 'application/octet-stream');
  t.equal(p.rows, 2);
  const { header, data, headerBytes } = splitBinary(p);
  t.equal(headerBytes, Buffer.byteLength(JSON.stringify(header)), 'the header length header counts the JSON header bytes');
  t.strictSame(header, {
    inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 64], parameters: { binary_data_size: 512 } }],
    parameters: { binary_data_output: true, variant: 'int8' },
  });
  t.equal(data.length, 512);
  const expected = json(buildPayload(DIGITS, { protocol: 'v2-json', batch: 2 }).body).inputs[0].data as number[];
  const got = Array.from({ length: 128 }, (_, i) => data.readFloatLE(i * 4));
  t.strictSame(got, expected.map(Math.fround), 'the binary carries the JSON numbers as float32');
  t.strictSame(splitBinary(buildPayload(DIGITS, { protocol: 'v2-binary' })).header.parameters, { binary_data_output: true });
});

t.test('the body owns an exactly sized buffer (k6 sends body.buffer)', async (t) => {
  for (const batch of [1, 3, 7]) {
    const b = bytes(buildPayload(DIGITS, { protocol: 'v2-binary', batch }).body);
    t.equal(b.byteOffset, 0);
    t.equal(b.buffer.byteLength, b.length, `batch ${batch}`);
  }
});

t.test('shapes: batch fills a dynamic first dim, dynamicDim the others, fixed batches are kept', async (t) => {
  const dyn: ModelMetadata = { name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, -1, 3] }] };
  t.strictSame(json(buildPayload(dyn, { protocol: 'v2-json', batch: 2, dynamicDim: 5 }).body).inputs[0].shape, [2, 5, 3]);
  t.strictSame(json(buildPayload(dyn, { protocol: 'v2-json' }).body).inputs[0].shape, [1, 1, 3]);

  const fixed: ModelMetadata = { name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [4, 3] }] };
  const one = buildPayload(fixed, { protocol: 'v2-json' });
  t.strictSame(json(one.body).inputs[0].shape, [4, 3]);
  t.equal(one.rows, 4, 'rows are the rows sent');
  t.equal(buildPayload(fixed, { batch: 4 }).rows, 4);
  t.equal(messageOf(() => buildPayload(fixed, { batch: 2 })), `input "x": the model's input has fixed batch 4; use batch 1 or 4`);

  t.match(messageOf(() => buildPayload(DIGITS, { batch: 0 })), /^batch is 0; use a whole number >= 1$/);
  t.match(messageOf(() => buildPayload(DIGITS, { batch: 1.5 })), /batch is 1.5/);
  t.match(messageOf(() => buildPayload(dyn, { dynamicDim: -1 })), /dynamicDim is -1/);
});

t.test('every datatype: binary sizes, and values that agree with the JSON', async (t) => {
  const meta: ModelMetadata = { name: 'all', inputs: ALL_TYPES.map(([dt]) => ({ name: dt.toLowerCase(), datatype: dt, shape: [-1, 3] })) };
  const p = buildPayload(meta, { protocol: 'v2-binary', batch: 2, seed: 7 });
  const { header, data } = splitBinary(p);
  const jsonInputs = json(buildPayload(meta, { protocol: 'v2-json', batch: 2, seed: 7 }).body).inputs as Array<{ datatype: string; data: Array<number | boolean> }>;
  const v1Inputs = json(buildPayload(meta, { batch: 2, seed: 7 }).body).inputs;

  let offset = 0;
  ALL_TYPES.forEach(([dt, size], k) => {
    const h = header.inputs[k];
    t.equal(h.datatype, dt);
    t.equal(h.parameters.binary_data_size, 6 * size, `${dt}: ${size} bytes × 6`);
    const values = jsonInputs[k]!.data;
    t.strictSame(v1Inputs[dt.toLowerCase()].data, values, `${dt}: v1 and v2 carry the same values`);
    values.forEach((v, i) => {
      const at = offset + i * size;
      const n = v as number;
      let same: boolean;
      if (dt === 'BOOL') same = typeof v === 'boolean' && data[at] === (v ? 1 : 0);
      else if (dt === 'FP16') same = data.readUInt16LE(at) === f32ToF16(n);
      else if (dt === 'FP32') same = data.readFloatLE(at) === Math.fround(n);
      else if (dt === 'FP64') same = data.readDoubleLE(at) === n;
      else if (dt === 'INT64') same = data.readBigInt64LE(at) === BigInt(n);
      else if (dt === 'UINT64') same = data.readBigUInt64LE(at) === BigInt(n);
      else same = (data as any)[`read${dt.startsWith('U') ? 'UInt' : 'Int'}${size * 8}${size > 1 ? 'LE' : ''}`](at) === n;
      if (!same) t.fail(`${dt}[${i}]: binary bytes do not encode the JSON value ${String(v)}`);
      const isInt = dt !== 'BOOL' && !dt.startsWith('FP');
      if (isInt && !(Number.isInteger(n) && n >= 0 && n < 10)) t.fail(`${dt} value ${n} is not an integer in [0, 10)`);
    });
    offset += 6 * size;
  });
  t.equal(data.length, offset, 'nothing after the last tensor');
  t.ok(jsonInputs.find((i) => i.datatype === 'BOOL')!.data.some((v) => v === true), 'BOOL values vary');
});

t.test('INT64 is written as two little-endian 32-bit words', async (t) => {
  const meta: ModelMetadata = { name: 'm', inputs: [{ name: 'ids', datatype: 'INT64', shape: [4] }] };
  const values = json(buildPayload(meta, { protocol: 'v2-json', seed: 3 }).body).inputs[0].data as number[];
  const { data } = splitBinary(buildPayload(meta, { protocol: 'v2-binary', seed: 3 }));
  const expected: number[] = [];
  for (const v of values) expected.push(v, 0, 0, 0, 0, 0, 0, 0);
  t.strictSame([...data], expected);
});

t.test('FP16 is a real IEEE half conversion', async (t) => {
  t.equal(toHalf(1), 0x3c00);
  t.equal(toHalf(-2), 0xc000);
  t.equal(toHalf(0.5), 0x3800);
  t.equal(toHalf(0), 0x0000);
  t.equal(toHalf(-0), 0x8000);
  t.equal(toHalf(65504), 0x7bff);
  t.equal(toHalf(1e6), 0x7c00);
  t.equal(toHalf(2 ** -24), 0x0001, 'smallest subnormal');
  t.equal(toHalf(1 + 2 ** -11), 0x3c00, 'a tie rounds to even');
  t.equal(toHalf(NaN) & 0x7c00, 0x7c00);
  let seed = 12345;
  for (let i = 0; i < 2000; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const v = ((seed / 2 ** 31) * 2 - 1) * 2 ** ((i % 40) - 26);
    if (toHalf(v) !== f32ToF16(v)) t.fail(`toHalf(${v}) = ${toHalf(v)}, f32ToF16 = ${f32ToF16(v)}`);
  }

  const meta: ModelMetadata = { name: 'm', inputs: [{ name: 'h', datatype: 'FP16', shape: [-1, 2] }] };
  const { data } = splitBinary(buildPayload(meta, { protocol: 'v2-binary', batch: 2 }));
  const values = json(buildPayload(meta, { protocol: 'v2-json', batch: 2 }).body).inputs[0].data as number[];
  t.strictSame([0, 1, 2, 3].map((i) => data.readUInt16LE(i * 2)), values.map(f32ToF16));
});

t.test('non-ASCII input names are UTF-8 in the binary header', async (t) => {
  const name = 'entrée-ü€😀';
  const meta: ModelMetadata = { name: 'm', inputs: [{ name, datatype: 'UINT8', shape: [2] }] };
  const p = buildPayload(meta, { protocol: 'v2-binary' });
  const b = Buffer.from(bytes(p.body));
  const expectedHeader = Buffer.from(JSON.stringify({
    inputs: [{ name, datatype: 'UINT8', shape: [2], parameters: { binary_data_size: 2 } }],
    parameters: { binary_data_output: true },
  }), 'utf8');
  t.equal(p.headers['inference-header-content-length'], String(expectedHeader.length));
  t.strictSame(b.subarray(0, expectedHeader.length), expectedHeader);
  t.equal(b.length, expectedHeader.length + 2);
  t.equal(splitBinary(p).header.inputs[0].name, name);
});

t.test('unsupported datatypes, protocols and metadata are refused with what to do', async (t) => {
  const bytesModel: ModelMetadata = { name: 'm', inputs: [{ name: 'x', datatype: 'BYTES', shape: [1] }] };
  const msg = messageOf(() => buildPayload(bytesModel));
  t.ok(msg.startsWith('input "x": datatype BYTES is not supported by the load payload builder; use '), msg);
  t.match(messageOf(() => buildPayload({ name: 'm', inputs: [{ name: 'y', datatype: 'FP8', shape: [1] }] })), /^input "y": datatype FP8 is not supported/);
  t.equal(messageOf(() => buildPayload(DIGITS, { protocol: 'grpc' as Protocol })), `protocol "grpc" is unknown; use one of ${PROTOCOLS.join(', ')}`);
  t.match(messageOf(() => buildPayload({ name: 'm', inputs: [] })), /lists no inputs/);
  t.match(messageOf(() => buildPayload({ name: 'm' } as ModelMetadata)), /lists no inputs/);
});

t.test('values are deterministic by seed', async (t) => {
  for (const protocol of PROTOCOLS) {
    const a = buildPayload(DIGITS, { protocol, seed: 42, batch: 2 });
    const b = buildPayload(DIGITS, { protocol, seed: 42, batch: 2 });
    const c = buildPayload(DIGITS, { protocol, seed: 43, batch: 2 });
    t.strictSame(a.body, b.body, `${protocol}: same seed, same body`);
    t.notSame(a.body, c.body, `${protocol}: other seed, other body`);
  }
  t.strictSame(buildPayload(DIGITS).body, buildPayload(DIGITS, { seed: 1 }).body, 'seed defaults to 1');
});
