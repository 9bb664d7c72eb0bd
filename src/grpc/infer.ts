// ModelInferRequest / ModelInferResponse ↔ the v2 code the HTTP route runs. A gRPC request is
// rewritten as the v2 JSON header it stands for (raw_input_contents as binary tensors, typed
// `contents` as JSON data, parameters as JSON values) and checked by the same parseInferRequest
// and decodeInferInputs, so that both protocols accept the same requests and refuse them with
// the same messages. Answers go out as raw_output_contents, which Triton's clients read.
import type { Tensor } from '../tensors/dtypes.js';
import { elementCount } from '../tensors/dtypes.js';
import { ServeError } from '../errors.js';
import type { ParsedInfer, PlannedOutput } from '../kserve/infer.js';
import { parseInferRequest } from '../kserve/json.js';
import { tensorBytes } from '../kserve/binary.js';
import { elementSize, fromV2Datatype, toV2Datatype } from '../kserve/datatypes.js';
import { preview } from '../preview.js';

/**
 * A 64-bit integer field as decoded: a decimal string (proto-loader's objects, clients' requests),
 * or protobufjs's Long (the server's infer codec); String() gives its exact decimal either way.
 */
export type Int64 = string | number | { toString(): string };

/** An InferParameter as decoded (the oneof's name says which field is set). */
export interface GrpcParameter {
  parameter_choice?: string;
  bool_param?: boolean;
  int64_param?: Int64;
  string_param?: string;
  double_param?: number;
  uint64_param?: Int64;
}

export interface GrpcContents {
  bool_contents: boolean[];
  int_contents: number[];
  int64_contents: Int64[];
  uint_contents: number[];
  uint64_contents: Int64[];
  fp32_contents: number[];
  fp64_contents: number[];
  bytes_contents: Buffer[];
}

export interface GrpcInferInput {
  name: string;
  datatype: string;
  shape: Int64[];
  parameters: Record<string, GrpcParameter>;
  contents: GrpcContents | null;
}

export interface GrpcInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, GrpcParameter>;
  inputs: GrpcInferInput[];
  outputs: { name: string; parameters: Record<string, GrpcParameter> }[];
  raw_input_contents: Buffer[];
}

export interface GrpcInferResponse {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, { string_param: string }>;
  outputs: { name: string; datatype: string; shape: number[] }[];
  raw_output_contents: Buffer[];
}

const bad = (message: string): never => {
  throw new ServeError('INVALID_INPUT', message);
};

/** A 64-bit integer as a number when exact, else its decimal string (the v2 checks then refuse it). */
const int64Value = (v: Int64): number | string => {
  if (typeof v === 'number') return v;
  const s = String(v);
  return Number.isSafeInteger(Number(s)) ? Number(s) : s;
};

/** The value of a set InferParameter, as the JSON value the v2 checks expect; undefined when none is set. */
export function parameterValue(p: GrpcParameter): unknown {
  switch (p.parameter_choice) {
    case 'bool_param':
      return p.bool_param;
    case 'int64_param':
      return int64Value(p.int64_param ?? '0');
    case 'uint64_param':
      return int64Value(p.uint64_param ?? '0');
    case 'double_param':
      return p.double_param;
    case 'string_param':
      return p.string_param;
    default:
      return undefined;
  }
}

function plainParameters(params: Record<string, GrpcParameter> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, p] of Object.entries(params ?? {})) {
    const v = parameterValue(p);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** The typed contents field of each datatype (Triton's: INT8 … INT32 share int_contents). FP16 has none. */
const CONTENTS_FIELD: Readonly<Record<string, keyof GrpcContents>> = Object.freeze({
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
});

const FIELDS = Object.freeze([...new Set(Object.values(CONTENTS_FIELD))]);

const setFields = (c: GrpcContents | null): (keyof GrpcContents)[] => (c ? FIELDS.filter((f) => (c[f]?.length ?? 0) > 0) : []);

/** An input's typed contents as a flat JSON data array: only its datatype's field may be set. */
function contentsData(input: GrpcInferInput): unknown[] {
  const set = setFields(input.contents);
  if (input.datatype === 'FP16') {
    return set.length ? bad(`input "${input.name}" is FP16, which has no typed contents field; send its values in raw_input_contents (little-endian IEEE 754 half floats)`) : [];
  }
  const field = CONTENTS_FIELD[input.datatype];
  // an unknown datatype: the v2 check names what is served
  if (field === undefined) return [];
  const other = set.find((f) => f !== field);
  if (other) bad(`input "${input.name}" is ${input.datatype}: its values go in contents.${field}, not contents.${other}`);
  const values = input.contents?.[field] ?? [];
  // 64-bit values as exact decimals, as JSON carries them past 2^53
  return field === 'int64_contents' || field === 'uint64_contents' ? (values as Int64[]).map(String) : values;
}

/**
 * A ModelInferRequest as the parsed v2 request it stands for (not yet decoded against a model):
 * raw_input_contents become the binary part, one entry per input in order; without them each
 * input's typed contents are its JSON data.
 */
export function parseGrpcInfer(req: GrpcInferRequest): ParsedInfer {
  const raw = req.raw_input_contents ?? [];
  const inputs = req.inputs ?? [];
  if (raw.length > 0 && raw.length !== inputs.length) {
    bad(`raw_input_contents has ${raw.length} entries but the request has ${inputs.length} inputs; send one entry per input, in the order of inputs`);
  }
  const header = {
    ...(req.id ? { id: req.id } : {}),
    parameters: plainParameters(req.parameters),
    inputs: inputs.map((input, i) => {
      const base = { name: input.name, datatype: input.datatype, shape: (input.shape ?? []).map(int64Value) };
      if (raw.length === 0) return { ...base, data: contentsData(input) };
      if (setFields(input.contents).length) bad(`input "${input.name}" has contents but the request has raw_input_contents; send every input one way`);
      return { ...base, parameters: { binary_data_size: raw[i]!.length } };
    }),
    ...((req.outputs ?? []).length ? { outputs: req.outputs.map((o) => ({ name: o.name })) } : {}),
  };
  const request = parseInferRequest(header);
  // sizes in gRPC's terms before the v2 check words them as binary_data_size
  request.inputs.forEach((input, i) => {
    if (raw.length === 0) return;
    const want = elementCount(input.shape) * elementSize(fromV2Datatype(input.datatype, input.name));
    if (raw[i]!.length !== want) {
      throw new ServeError('SHAPE_MISMATCH', `input "${input.name}": raw_input_contents[${i}] has ${raw[i]!.length} bytes but shape ${preview(input.shape)} of ${input.datatype} needs ${Number.isSafeInteger(want) ? want : 'more than 2^53'}`);
    }
  });
  const binary = raw.length === 0 ? Buffer.alloc(0) : raw.length === 1 ? raw[0]! : Buffer.concat(raw);
  return { request, binary };
}

/** The answer: each planned output's header in `outputs` and its bytes in raw_output_contents. */
export function grpcInferResponse(
  model: { name: string; version: string; variant?: string | undefined },
  id: string | undefined,
  plan: readonly PlannedOutput[],
  results: Record<string, Tensor>,
): GrpcInferResponse {
  const outputs: GrpcInferResponse['outputs'] = [];
  const raw: Buffer[] = [];
  for (const o of plan) {
    const t = results[o.name];
    if (!t) throw new ServeError('INFERENCE_FAILED', `the model did not produce output "${o.name}"`);
    outputs.push({ name: o.name, datatype: toV2Datatype(t.dtype), shape: [...t.dims] });
    raw.push(tensorBytes(t));
  }
  return {
    model_name: model.name,
    model_version: model.version,
    id: id ?? '',
    parameters: model.variant !== undefined ? { variant: { string_param: model.variant } } : {},
    outputs,
    raw_output_contents: raw,
  };
}
