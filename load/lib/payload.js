// @ts-check
// Load-test request bodies built from KServe v2 model metadata (GET /v2/models/{name}), for the
// k6 scripts and the Node load runner alike: /v1/predict JSON, v2 JSON and v2 binary tensors with
// deterministic values. Pure JS with no imports and no TextEncoder/BigInt/`??`/`?.`, because k6's
// JS runtime may lack them.

/** @typedef {'v1'|'v2-json'|'v2-binary'} Protocol */
/** @typedef {{ name: string, datatype: string, shape: number[] }} TensorMetadata */
/** @typedef {{ name: string, versions?: string[], inputs: TensorMetadata[], outputs?: TensorMetadata[] }} ModelMetadata */
/** @typedef {{ path: string, body: string | Uint8Array, headers: Record<string, string>, rows: number }} Payload */
/** @typedef {{ protocol?: Protocol, batch?: number, seed?: number, variant?: string, version?: string, dynamicDim?: number }} PayloadOptions */
/** @typedef {{ name: string, datatype: string, shape: number[], values: Array<number | boolean> }} FilledInput */

/** @type {readonly Protocol[]} */
export const PROTOCOLS = Object.freeze(/** @type {Protocol[]} */ (['v1', 'v2-json', 'v2-binary']));

/** @type {Record<string, number>} bytes per element in the binary tensor extension */
const SIZES = { BOOL: 1, UINT8: 1, INT8: 1, UINT16: 2, INT16: 2, FP16: 2, UINT32: 4, INT32: 4, FP32: 4, UINT64: 8, INT64: 8, FP64: 8 };

/**
 * The metadata path of a model (or one version of it).
 * @param {string} model
 * @param {string} [version]
 * @returns {string}
 */
export function metadataPath(model, version) {
  const base = `/v2/models/${encodeURIComponent(model)}`;
  return version === undefined || version === '' ? base : `${base}/versions/${encodeURIComponent(version)}`;
}

/**
 * mulberry32: tiny, fast, and identical in k6 and Node.
 * @param {number} seed
 * @returns {() => number} uniform in [0, 1)
 */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * @param {string} what
 * @param {unknown} value
 * @param {number} fallback
 * @returns {number}
 */
function positiveInt(what, value, fallback) {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new Error(`${what} is ${String(value)}; use a whole number >= 1`);
  return value;
}

/** @param {number} x */
function roundHalfEven(x) {
  const f = Math.floor(x);
  const d = x - f;
  if (d !== 0.5) return d < 0.5 ? f : f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * IEEE 754 half-precision bits of a number, rounded to nearest even from the float64 value.
 * @param {number} value
 * @returns {number}
 */
export function toHalf(value) {
  if (value !== value) return 0x7e00; // NaN
  const sign = value < 0 || (value === 0 && 1 / value < 0) ? 0x8000 : 0;
  const a = Math.abs(value);
  if (a >= 65520) return sign | 0x7c00; // halfway above 65504 rounds to Inf
  if (a < Math.pow(2, -14)) return sign | roundHalfEven(a * Math.pow(2, 24)); // subnormal; 1024 becomes the smallest normal
  let e = Math.floor(Math.log(a) / Math.LN2);
  if (Math.pow(2, e) > a) e--; // the log may be off by one near powers of two
  else if (Math.pow(2, e + 1) <= a) e++;
  let m = roundHalfEven((a / Math.pow(2, e)) * 1024 - 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  return sign | ((e + 15) << 10) | m;
}

/**
 * @param {string} name
 * @param {string} datatype
 * @param {number} count
 * @param {() => number} next
 * @returns {Array<number | boolean>}
 */
function values(name, datatype, count, next) {
  /** @type {Array<number | boolean>} */
  const out = new Array(count);
  if (datatype === 'FP16' || datatype === 'FP32' || datatype === 'FP64') {
    // six decimals keep the JSON short and let the binary carry exactly the same numbers
    for (let i = 0; i < count; i++) out[i] = Math.min(0.999999, Math.round((next() * 2 - 1) * 1e6) / 1e6) + 0; // + 0 turns -0 into 0
  } else if (datatype === 'BOOL') {
    for (let i = 0; i < count; i++) out[i] = next() < 0.5;
  } else if (SIZES[datatype] !== undefined) {
    for (let i = 0; i < count; i++) out[i] = Math.floor(next() * 10);
  } else {
    throw new Error(
      `input "${name}": datatype ${datatype} is not supported by the load payload builder; use a model whose inputs are ${Object.keys(SIZES).join(', ')}`,
    );
  }
  return out;
}

/**
 * The concrete shape of an input: a negative first dim becomes `batch`, other negative dims `dynamicDim`.
 * @param {TensorMetadata} input
 * @param {number} batch
 * @param {number} dynamicDim
 * @returns {number[]}
 */
function concreteShape(input, batch, dynamicDim) {
  if (!Array.isArray(input.shape)) throw new Error(`input "${input.name}" has no shape in the metadata; the metadata must list each input's shape`);
  return input.shape.map((d, i) => {
    if (d >= 0) {
      if (i === 0 && batch !== 1 && batch !== d) throw new Error(`input "${input.name}": the model's input has fixed batch ${d}; use batch 1 or ${d}`);
      return d;
    }
    return i === 0 ? batch : dynamicDim;
  });
}

/**
 * UTF-8 bytes of a string (by hand: k6's runtime may lack TextEncoder). Lone surrogates become U+FFFD.
 * @param {string} s
 * @returns {number[]}
 */
function utf8(s) {
  /** @type {number[]} */
  const out = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      const lo = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      } else c = 0xfffd;
    }
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return out;
}

/**
 * Writes one element little-endian at `offset`.
 * @param {DataView} view
 * @param {number} offset
 * @param {string} datatype
 * @param {number | boolean} v
 */
function writeElement(view, offset, datatype, v) {
  const n = Number(v);
  switch (datatype) {
    case 'BOOL':
    case 'UINT8': return view.setUint8(offset, n);
    case 'INT8': return view.setInt8(offset, n);
    case 'UINT16': return view.setUint16(offset, n, true);
    case 'INT16': return view.setInt16(offset, n, true);
    case 'FP16': return view.setUint16(offset, toHalf(n), true);
    case 'UINT32': return view.setUint32(offset, n, true);
    case 'INT32': return view.setInt32(offset, n, true);
    case 'FP32': return view.setFloat32(offset, n, true);
    case 'FP64': return view.setFloat64(offset, n, true);
    default: // INT64, UINT64: two's-complement words, no BigInt needed
      view.setUint32(offset, n >>> 0, true);
      view.setUint32(offset + 4, Math.floor(n / 4294967296) >>> 0, true);
  }
}

/**
 * @param {FilledInput[]} tensors
 * @param {string | undefined} variant
 * @returns {{ body: Uint8Array, headerBytes: number }}
 */
function binaryBody(tensors, variant) {
  const inputs = tensors.map((t) => ({
    name: t.name,
    datatype: t.datatype,
    shape: t.shape,
    parameters: { binary_data_size: t.values.length * (SIZES[t.datatype] || 0) },
  }));
  /** @type {Record<string, unknown>} */
  const parameters = { binary_data_output: true };
  if (variant !== undefined) parameters.variant = variant;
  const header = utf8(JSON.stringify({ inputs, parameters }));
  let total = header.length;
  for (const i of inputs) total += i.parameters.binary_data_size;
  const body = new Uint8Array(total); // owns an exactly sized buffer, so k6 can send body.buffer
  body.set(header, 0);
  const view = new DataView(body.buffer);
  let offset = header.length;
  for (const t of tensors) {
    const size = SIZES[t.datatype] || 0;
    for (const v of t.values) {
      writeElement(view, offset, t.datatype, v);
      offset += size;
    }
  }
  return { body, headerBytes: header.length };
}

/**
 * A request body for every input of a model, in the chosen protocol.
 * @param {ModelMetadata} metadata
 * @param {PayloadOptions} [opts]
 * @returns {Payload}
 */
export function buildPayload(metadata, opts) {
  const o = opts || {};
  const protocol = o.protocol === undefined ? 'v1' : o.protocol;
  if (PROTOCOLS.indexOf(protocol) < 0) throw new Error(`protocol "${protocol}" is unknown; use one of ${PROTOCOLS.join(', ')}`);
  if (!metadata || typeof metadata.name !== 'string') throw new Error('model metadata has no name; pass the JSON of GET /v2/models/{name}');
  if (!Array.isArray(metadata.inputs) || metadata.inputs.length === 0) {
    throw new Error(`model "${metadata.name}": the metadata lists no inputs; pass the JSON of GET /v2/models/{name}`);
  }
  const batch = positiveInt('batch', o.batch, 1);
  const dynamicDim = positiveInt('dynamicDim', o.dynamicDim, 1);
  const next = prng(o.seed === undefined ? 1 : o.seed);

  /** @type {FilledInput[]} */
  const tensors = metadata.inputs.map((input) => {
    const shape = concreteShape(input, batch, dynamicDim);
    let count = 1;
    for (const d of shape) count *= d;
    return { name: input.name, datatype: input.datatype, shape, values: values(input.name, input.datatype, count, next) };
  });
  const first = tensors[0];
  const rows = first && first.shape.length > 0 ? Number(first.shape[0]) : 1;

  if (protocol === 'v1') {
    /** @type {Record<string, { dims: number[], data: Array<number | boolean> }>} */
    const inputs = {};
    for (const t of tensors) inputs[t.name] = { dims: t.shape, data: t.values };
    /** @type {Record<string, unknown>} */
    const body = { model: metadata.name };
    if (o.version !== undefined) body.version = o.version;
    if (o.variant !== undefined) body.variant = o.variant;
    body.inputs = inputs;
    return { path: '/v1/predict', body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, rows };
  }

  const path = `${metadataPath(metadata.name, o.version)}/infer`;
  if (protocol === 'v2-json') {
    /** @type {Record<string, unknown>} */
    const body = { inputs: tensors.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: t.values })) };
    if (o.variant !== undefined) body.parameters = { variant: o.variant };
    return { path, body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, rows };
  }

  const { body, headerBytes } = binaryBody(tensors, o.variant);
  return {
    path,
    body,
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerBytes) },
    rows,
  };
}
