// The v2 inference request's JSON header, checked for structure (inputs, outputs, id,
// parameters), and v2 JSON tensors: decoding `data` (flat or nested) against a signature,
// encoding outputs as flat JSON text. Any malformed part is a ServeError (400).
import type { Tensor } from '../tensors/dtypes.js';
import { toJsonText } from '../tensors/encode.js';
import { ServeError } from '../errors.js';
import { decodeInput, type TensorSignature } from '../signature.js';
import { binaryDataSize, type BinaryTensorHeader } from './binary.js';
import { fromV2Datatype, toV2Datatype } from './datatypes.js';
import { preview } from '../preview.js';
import { isObject } from '../json-shape.js';
import { classificationCount } from './classification.js';

export interface V2Input extends BinaryTensorHeader {
  datatype: string;
  shape: number[];
  /** JSON data, flat or nested; absent when the tensor is binary. */
  data?: unknown[];
}

export interface V2RequestedOutput {
  name: string;
  /** parameters.binary_data, when given (it overrides the request's binary_data_output). */
  binary?: boolean;
  /** parameters.classification (Triton's class_count): answer the top N classes as BYTES. */
  classification?: number;
}

export interface V2InferRequest {
  id?: string;
  inputs: V2Input[];
  outputs?: V2RequestedOutput[];
  /** parameters.binary_data_output: every output as binary unless it says otherwise. */
  binaryOutput: boolean;
  /** parameters.variant: a compressed variant of the model to run instead of the base. */
  variant?: string;
  /** parameters.priority: 1 is the most urgent level, 0 the model's default. */
  priority?: number;
  /** parameters.timeout: the request's deadline, in microseconds (Triton's unit). */
  timeoutUs?: number;
}

const bad = (message: string): never => {
  throw new ServeError('INVALID_INPUT', message);
};

function optionalBool(parameters: unknown, key: string, where: string): boolean | undefined {
  if (parameters === undefined) return undefined;
  if (!isObject(parameters)) return bad(`${where}: parameters must be an object`);
  const v = parameters[key];
  if (v !== undefined && typeof v !== 'boolean') bad(`${where}: parameters.${key} must be true or false`);
  return v as boolean | undefined;
}

function optionalName(parameters: unknown, key: string, where: string): string | undefined {
  if (!isObject(parameters)) return undefined; // optionalBool has already refused a non-object
  const v = parameters[key];
  if (v !== undefined && (typeof v !== 'string' || v === '')) bad(`${where}: parameters.${key} must be a non-empty string`);
  return v as string | undefined;
}

/** Largest parameters.timeout: one hour, in microseconds. */
const MAX_TIMEOUT_US = 3_600_000_000;

function optionalInteger(parameters: unknown, key: string, min: number, max: number, unit: string): number | undefined {
  if (!isObject(parameters)) return undefined;
  const v = parameters[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(`the request: parameters.${key} is ${JSON.stringify(v)}; use an integer from ${min} to ${max}${unit}`);
  return v as number;
}

function parseInput(v: unknown, i: number): V2Input {
  if (!isObject(v)) return bad(`inputs[${i}] must be an object {name, shape, datatype, data}`);
  const { name, datatype, shape, data, parameters } = v;
  if (typeof name !== 'string' || name === '') return bad(`inputs[${i}].name must be a non-empty string`);
  if (typeof datatype !== 'string') return bad(`input "${name}": datatype must be a string such as "FP32"`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    return bad(`input "${name}": shape must be an array of non-negative integers, got ${preview(shape)}`);
  }
  const binarySize = binaryDataSize(parameters, `input "${name}"`);
  if (data !== undefined && !Array.isArray(data)) return bad(`input "${name}": data must be an array`);
  if (data !== undefined && binarySize !== undefined) return bad(`input "${name}" has both data and parameters.binary_data_size; send one`);
  if (data === undefined && binarySize === undefined) return bad(`input "${name}" has neither data nor parameters.binary_data_size`);
  return { name, datatype, shape: shape as number[], ...(data !== undefined ? { data } : { binarySize }) };
}

/** Checks the structure of an inference request header; data is checked later, against the model. */
export function parseInferRequest(v: unknown): V2InferRequest {
  if (!isObject(v)) return bad('the inference request must be a JSON object {"inputs": [...]}');
  const { id, inputs, outputs, parameters } = v;
  if (id !== undefined && typeof id !== 'string') bad('id must be a string');
  if (!Array.isArray(inputs) || inputs.length === 0) return bad('inputs must be a non-empty array of {name, shape, datatype, data}');
  const parsed = inputs.map(parseInput);
  const names = new Set<string>();
  for (const p of parsed) {
    if (names.has(p.name)) bad(`input "${p.name}" appears twice`);
    names.add(p.name);
  }
  const req: V2InferRequest = { inputs: parsed, binaryOutput: optionalBool(parameters, 'binary_data_output', 'the request') ?? false };
  if (id !== undefined) req.id = id as string;
  const variant = optionalName(parameters, 'variant', 'the request');
  if (variant !== undefined) req.variant = variant;
  // the model's own limit on levels is checked once the model is known
  const priority = optionalInteger(parameters, 'priority', 0, 1_000_000, '');
  if (priority !== undefined) req.priority = priority;
  const timeoutUs = optionalInteger(parameters, 'timeout', 1, MAX_TIMEOUT_US, ' (microseconds)');
  if (timeoutUs !== undefined) req.timeoutUs = timeoutUs;
  if (outputs !== undefined) {
    if (!Array.isArray(outputs)) return bad('outputs must be an array of {name, parameters?}');
    const seen = new Set<string>();
    req.outputs = outputs.map((o, i) => {
      if (!isObject(o) || typeof o.name !== 'string') return bad(`outputs[${i}] must be an object with a string name`);
      if (seen.has(o.name)) bad(`output "${o.name}" is requested twice`);
      seen.add(o.name);
      const binary = optionalBool(o.parameters, 'binary_data', `output "${o.name}"`);
      const classification = isObject(o.parameters) ? classificationCount(o.parameters.classification, o.name) : undefined;
      if (binary === undefined && classification === undefined) return { name: o.name };
      const out: V2RequestedOutput = { name: o.name };
      if (binary !== undefined) out.binary = binary;
      if (classification !== undefined) out.classification = classification;
      return out;
    });
  }
  return req;
}

/**
 * Decodes a JSON input into a tensor of the signature's dtype, after checking its datatype; with
 * `check`, its shape is checked against the signature before its data is walked (decodeInput).
 */
export function decodeJsonTensor(input: V2Input, sig: TensorSignature, check?: { batched: boolean }): Tensor {
  checkDatatype(input, sig);
  return decodeInput({ dims: input.shape, data: input.data ?? [] }, sig, check);
}

/** The request's datatype must be the model's: DTYPE_MISMATCH otherwise. */
export function checkDatatype(input: { name: string; datatype: unknown }, sig: TensorSignature): void {
  const dtype = fromV2Datatype(input.datatype, input.name);
  if (dtype !== sig.dtype) {
    throw new ServeError('DTYPE_MISMATCH', `input "${input.name}" has datatype ${String(input.datatype)}; the model expects ${toV2Datatype(sig.dtype)}`);
  }
}

/** A tensor's values as a flat JSON array (text, built without JSON.stringify of the floats). */
export function flatJsonData(t: Tensor): string {
  return toJsonText({ dtype: t.dtype, dims: [t.data.length], data: t.data });
}
