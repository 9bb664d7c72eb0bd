// Typed client for applications, on undici's keep-alive Pool: predict() (/v1), infer()
// (KServe v2, JSON or binary tensors, typed arrays in and out), metadata() and ready().
// Errors carry the server's code and status.
import { Pool } from 'undici';
import { DTYPES, elementCount, type DType, type TypedArray } from '../tensors/dtypes.js';
import { toV2Datatype, fromV2Datatype } from '../kserve/datatypes.js';
import { f16ToF32, f32ToF16 } from '../float16.js';

export interface ClientOptions {
  /** Keep-alive connections to the server (default 16). */
  connections?: number;
  /** Per-request headers timeout in ms (default 30 s). */
  timeoutMs?: number;
}

/**
 * An error answered by the server: `code` is the catalogue code on /v1 (QUEUE_FULL…), and
 * "HTTP_<status>" on /v2 or whenever the body carries no code (not JSON, a proxy's page): always
 * a string. Network failures are not this class: they reject with undici's errors (their `code`).
 */
export class ServeClientError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds the server asked to wait before retrying (a refused request's Retry-After), when it said. */
    readonly retryAfterS?: number,
  ) {
    super(message);
    this.name = 'ServeClientError';
  }
}

export interface ClientTensor {
  dtype: DType;
  dims: number[];
  data: TypedArray;
}

export interface PredictOptions {
  version?: string;
  /** A compressed variant of the model (config.json "variants") instead of the base. */
  variant?: string;
  /** Sent as x-request-timeout-ms: the request's deadline; refused at once (429) when the queue ahead would make it miss it. */
  timeoutMs?: number;
  /** 1 is the most urgent level; 0 or absent: the model's default. */
  priority?: number;
}

export interface PredictResult {
  model: string;
  version: string;
  /** The variant that answered; absent when the base did. */
  variant?: string;
  outputs: Record<string, unknown>;
  batchSize: number;
}

export interface InferOptions {
  version?: string;
  /** A compressed variant of the model (sent as the request's parameters.variant). */
  variant?: string;
  id?: string;
  /** Binary tensor extension for inputs and outputs (default true): no per-element JSON. */
  binary?: boolean;
  /** Only these outputs (default: all). */
  outputs?: string[];
  /** Sent as parameters.timeout (in microseconds, as Triton takes it). */
  timeoutMs?: number;
  /** Sent as parameters.priority: 1 is the most urgent level, 0 the model's default. */
  priority?: number;
}

export interface InferResult {
  modelName: string;
  modelVersion: string;
  id?: string;
  /** The variant that answered (the x-model-variant header); absent when the base did. */
  variant?: string;
  outputs: Record<string, ClientTensor>;
}

interface V2Output {
  name: string;
  datatype: string;
  shape: number[];
  data?: unknown[];
  parameters?: { binary_data_size?: number };
}

export class Client {
  private readonly pool: Pool;
  private readonly timeoutMs: number;

  constructor(url: string, opts: ClientOptions = {}) {
    this.pool = new Pool(url, { connections: opts.connections ?? 16 });
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  private async call(method: 'GET' | 'POST', path: string, body?: string | Buffer, headers: Record<string, string> = {}) {
    const res = await this.pool.request({ method, path, body, headers, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
    const buf = Buffer.from(await res.body.arrayBuffer());
    if (res.statusCode >= 400) {
      let code = `HTTP_${res.statusCode}`;
      let message = buf.toString('utf8');
      try {
        const e = JSON.parse(message) as { error?: string | { code?: unknown; message?: unknown } };
        if (typeof e.error === 'string') message = e.error;
        else if (e.error) {
          if (typeof e.error.code === 'string') code = e.error.code;
          if (typeof e.error.message === 'string') message = e.error.message;
        }
      } catch {
        /* not JSON: keep the text */
      }
      const retryAfter = Number(res.headers['retry-after']);
      throw new ServeClientError(res.statusCode, code, message, Number.isFinite(retryAfter) && res.headers['retry-after'] !== undefined ? retryAfter : undefined);
    }
    return { status: res.statusCode, headers: res.headers, body: buf };
  }

  /** POST /v1/predict with nested arrays or typed tensors. */
  async predict(model: string, inputs: Record<string, unknown | ClientTensor>, opts: PredictOptions = {}): Promise<PredictResult> {
    const wire: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(inputs)) wire[name] = isClientTensor(v) ? { dims: v.dims, data: jsonData(v) } : v;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (opts.timeoutMs !== undefined) headers['x-request-timeout-ms'] = String(opts.timeoutMs);
    const body = {
      model,
      ...(opts.version ? { version: opts.version } : {}),
      ...(opts.variant !== undefined ? { variant: opts.variant } : {}),
      ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
      inputs: wire,
    };
    const res = await this.call('POST', '/v1/predict', JSON.stringify(body), headers);
    const answer = JSON.parse(res.body.toString('utf8')) as Omit<PredictResult, 'batchSize'>;
    return { ...answer, batchSize: Number(res.headers['x-batch-size'] ?? 0) };
  }

  /** POST /v2/models/{m}[/versions/{v}]/infer (KServe v2), binary tensors by default. */
  async infer(model: string, inputs: Record<string, ClientTensor>, opts: InferOptions = {}): Promise<InferResult> {
    const binary = opts.binary ?? true;
    const path = `/v2/models/${encodeURIComponent(model)}${opts.version ? `/versions/${encodeURIComponent(opts.version)}` : ''}/infer`;
    const chunks: Buffer[] = [];
    const header = {
      ...(opts.id !== undefined ? { id: opts.id } : {}),
      inputs: Object.entries(inputs).map(([name, t]) => {
        const base = { name, datatype: toV2Datatype(t.dtype), shape: t.dims };
        if (!binary) return { ...base, data: jsonData(t) };
        chunks.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
        return { ...base, parameters: { binary_data_size: t.data.byteLength } };
      }),
      ...(opts.outputs ? { outputs: opts.outputs.map((name) => ({ name, parameters: { binary_data: binary } })) } : {}),
      ...requestParameters(binary, opts),
    };
    const json = Buffer.from(JSON.stringify(header));
    const headers: Record<string, string> = binary
      ? { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(json.length) }
      : { 'content-type': 'application/json' };
    const res = await this.call('POST', path, binary ? Buffer.concat([json, ...chunks]) : json, headers);
    const headerLen = Number(res.headers['inference-header-content-length'] ?? res.body.length);
    const body = JSON.parse(res.body.subarray(0, headerLen).toString('utf8')) as { model_name: string; model_version: string; id?: string; outputs: V2Output[] };
    const outputs: Record<string, ClientTensor> = {};
    let offset = headerLen;
    for (const o of body.outputs) {
      const dtype = fromV2Datatype(o.datatype, o.name);
      const size = o.parameters?.binary_data_size;
      if (size !== undefined) {
        const copy = new Uint8Array(size); // aligned, owned by the caller
        copy.set(res.body.subarray(offset, offset + size));
        offset += size;
        outputs[o.name] = { dtype, dims: o.shape, data: new DTYPES[dtype].array(copy.buffer, 0, size / DTYPES[dtype].array.BYTES_PER_ELEMENT) };
      } else {
        outputs[o.name] = { dtype, dims: o.shape, data: typedFromJson(dtype, o.data ?? [], elementCount(o.shape)) };
      }
    }
    const variant = res.headers['x-model-variant'];
    return {
      modelName: body.model_name,
      modelVersion: body.model_version,
      ...(body.id !== undefined ? { id: body.id } : {}),
      ...(typeof variant === 'string' ? { variant } : {}),
      outputs,
    };
  }

  /** GET /v2/models/{m}[/versions/{v}]: inputs and outputs with v2 datatypes, -1 for variable dims. */
  async metadata(model: string, version?: string): Promise<unknown> {
    const res = await this.call('GET', `/v2/models/${encodeURIComponent(model)}${version ? `/versions/${encodeURIComponent(version)}` : ''}`);
    return JSON.parse(res.body.toString('utf8'));
  }

  /** Server readiness, or one model's when named. */
  async ready(model?: string, version?: string): Promise<boolean> {
    const path = model ? `/v2/models/${encodeURIComponent(model)}${version ? `/versions/${encodeURIComponent(version)}` : ''}/ready` : '/v2/health/ready';
    try {
      await this.call('GET', path);
      return true;
    } catch (err) {
      if (err instanceof ServeClientError && err.status === 503) return false;
      throw err;
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

function isClientTensor(v: unknown): v is ClientTensor {
  return typeof v === 'object' && v !== null && 'dtype' in v && 'dims' in v && ArrayBuffer.isView((v as ClientTensor).data);
}

/** JSON-safe flat values: 64-bit integers as decimal strings, bool as booleans. */
function jsonData(t: ClientTensor): unknown[] {
  if (t.dtype === 'int64' || t.dtype === 'uint64') return Array.from(t.data as BigInt64Array, (x) => x.toString());
  if (t.dtype === 'bool') return Array.from(t.data as Uint8Array, (x) => x !== 0);
  if (t.dtype === 'float16') return Array.from(t.data as Uint16Array, f16ToF32); // JSON carries the values, not the bits
  return Array.from(t.data as Float32Array);
}

function typedFromJson(dtype: DType, data: unknown[], count: number): TypedArray {
  const flat = (data as unknown[]).flat(Infinity);
  const out = new DTYPES[dtype].array(count);
  for (let i = 0; i < count; i++) {
    const x = flat[i];
    (out as unknown as unknown[])[i] =
      dtype === 'int64' || dtype === 'uint64' ? BigInt(x as string | number) : dtype === 'float16' ? f32ToF16(x as number) : typeof x === 'boolean' ? Number(x) : x;
  }
  return out;
}

/** The v2 request's parameters: binary outputs, variant, priority and timeout (µs), only those asked for. */
function requestParameters(binary: boolean, opts: InferOptions): { parameters?: Record<string, unknown> } {
  const p: Record<string, unknown> = {};
  if (binary) p.binary_data_output = true;
  if (opts.variant !== undefined) p.variant = opts.variant;
  if (opts.priority !== undefined) p.priority = opts.priority;
  if (opts.timeoutMs !== undefined) p.timeout = Math.round(opts.timeoutMs * 1000);
  return Object.keys(p).length ? { parameters: p } : {};
}
