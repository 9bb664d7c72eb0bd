// A v2 inference request end to end, without HTTP: body (JSON or JSON + binary) → tensors
// checked against the model's signature (the same matchInputs as /v1), the outputs to send
// and how, and the response body (JSON text, or JSON header + binary bytes).
import type { Tensor } from '../tensors/dtypes.js';
import { ServeError } from '../errors.js';
import { matchInputs, type DecodedInputs, type TensorSignature } from '../signature.js';
import { readBinaryTensors, splitBody, binaryBody } from './binary.js';
import { parseInferRequest, decodeJsonTensor, checkDatatype, flatJsonData, type V2InferRequest } from './json.js';
import { toV2Datatype } from './datatypes.js';
import { bytesTensorData, checkClassCount, classify } from './classification.js';

export interface DecodedInfer {
  request: V2InferRequest;
  inputs: DecodedInputs;
}

/** A request body split and its JSON header checked for structure; tensors not yet decoded. */
export interface ParsedInfer {
  request: V2InferRequest;
  /** The bytes after the JSON header (empty without Inference-Header-Content-Length). */
  binary: Buffer;
}

/**
 * Splits and checks a request body (`headerLength` is the Inference-Header-Content-Length
 * header): the request's parameters (e.g. `variant`) pick the model that decodes its tensors.
 */
export function parseInferBody(body: Buffer | undefined, headerLength: string | string[] | undefined): ParsedInfer {
  const { header, binary } = splitBody(body, headerLength);
  return { request: parseInferRequest(header), binary };
}

/** Parses and decodes a request body in one step. */
export function decodeInferRequest(
  body: Buffer | undefined,
  headerLength: string | string[] | undefined,
  signature: readonly TensorSignature[],
  maxBatchSize: number,
): DecodedInfer {
  return decodeInferInputs(parseInferBody(body, headerLength), signature, maxBatchSize);
}

/** The parsed request's tensors (JSON or binary) checked against a model signature. */
export function decodeInferInputs({ request, binary }: ParsedInfer, signature: readonly TensorSignature[], maxBatchSize: number): DecodedInfer {
  const binaries = readBinaryTensors(request.inputs, binary);
  const byName = new Map(request.inputs.map((i) => [i.name, i]));
  const inputs = matchInputs([...byName.keys()], signature, maxBatchSize, (sig, batched) => {
    const input = byName.get(sig.name)!;
    const t = binaries.get(sig.name);
    if (!t) return decodeJsonTensor(input, sig, { batched });
    checkDatatype(input, sig);
    return t;
  });
  return { request, inputs };
}

export interface PlannedOutput {
  name: string;
  binary: boolean;
  /** Answer the top N classes (BYTES) instead of the tensor. */
  classification?: number;
}

/**
 * The outputs to answer, in order: those requested (each must exist), else all of the model's.
 * A classification count is checked against the output's classes here when its shape is fixed
 * (before anything runs), else against the computed tensor.
 */
export function planOutputs(request: V2InferRequest, outputs: readonly TensorSignature[], batched = false): PlannedOutput[] {
  if (!request.outputs) return outputs.map((o) => ({ name: o.name, binary: request.binaryOutput }));
  const known = new Map(outputs.map((o) => [o.name, o]));
  return request.outputs.map((o) => {
    const sig = known.get(o.name);
    if (!sig) throw new ServeError('INVALID_INPUT', `unknown output "${o.name}"; the model's outputs are: ${[...known.keys()].join(', ')}`);
    if (o.classification === undefined) return { name: o.name, binary: o.binary ?? request.binaryOutput };
    const rest = batched ? sig.dims.slice(1) : sig.dims;
    if (rest.every((d) => typeof d === 'number' && d >= 0)) checkClassCount(o.classification, (rest as number[]).reduce((a, b) => a * b, 1), o.name);
    return { name: o.name, binary: o.binary ?? request.binaryOutput, classification: o.classification };
  });
}

/** What classification needs to know of the model: whether dimension 0 is the batch, and its labels. */
export interface ClassifyContext {
  batched: boolean;
  labels?: readonly string[] | undefined;
}

export interface InferResponse {
  /** JSON text, or JSON header + binary bytes. */
  body: string | Buffer;
  /** Set for a binary body: the byte length of its JSON header. */
  headerLength?: number;
}

/**
 * Encodes the response: JSON outputs inline, binary outputs as parameters.binary_data_size +
 * bytes; a variant that answered is named in the response's `parameters.variant`.
 */
export function encodeInferResponse(
  model: { name: string; version: string; variant?: string | undefined },
  id: string | undefined,
  plan: readonly PlannedOutput[],
  results: Record<string, Tensor>,
  classes: ClassifyContext = { batched: false },
): InferResponse {
  const binaries: (Tensor | Buffer)[] = [];
  let outputs = '';
  for (const o of plan) {
    const t = results[o.name];
    if (!t) throw new ServeError('INFERENCE_FAILED', `the model did not produce output "${o.name}"`);
    if (o.classification !== undefined) {
      const { shape, strings } = classify(t, o.classification, classes.batched, classes.labels, o.name);
      const head = `{"name":${JSON.stringify(o.name)},"datatype":"BYTES","shape":${JSON.stringify(shape)}`;
      if (o.binary) {
        const bytes = bytesTensorData(strings);
        binaries.push(bytes);
        outputs += `${outputs ? ',' : ''}${head},"parameters":{"binary_data_size":${bytes.length}}}`;
      } else {
        outputs += `${outputs ? ',' : ''}${head},"data":${JSON.stringify(strings)}}`;
      }
      continue;
    }
    const head = `{"name":${JSON.stringify(o.name)},"datatype":"${toV2Datatype(t.dtype)}","shape":${JSON.stringify(t.dims)}`;
    if (o.binary) {
      binaries.push(t);
      outputs += `${outputs ? ',' : ''}${head},"parameters":{"binary_data_size":${t.data.byteLength}}}`;
    } else {
      outputs += `${outputs ? ',' : ''}${head},"data":${flatJsonData(t)}}`;
    }
  }
  const idText = id !== undefined ? `,"id":${JSON.stringify(id)}` : '';
  const params = model.variant !== undefined ? `,"parameters":{"variant":${JSON.stringify(model.variant)}}` : '';
  const json = `{"model_name":${JSON.stringify(model.name)},"model_version":${JSON.stringify(model.version)}${idText}${params},"outputs":[${outputs}]}`;
  if (!binaries.length) return { body: json };
  return binaryBody(json, binaries);
}
