// A v2 inference request end to end, without HTTP: body (JSON or JSON + binary) → tensors
// checked against the model's signature (the same matchInputs as /v1), the outputs to send
// and how, and the response body (JSON text, or JSON header + binary bytes).
import type { Tensor } from '../tensors.js';
import type { TensorSignature } from '../pool/protocol.js';
import { ServeError } from '../errors.js';
import { matchInputs, type DecodedInputs } from '../signature.js';
import { readBinaryTensors, splitBody, binaryBody } from './binary.js';
import { parseInferRequest, decodeJsonTensor, checkDatatype, flatJsonData, type V2InferRequest } from './json.js';
import { toV2Datatype } from './datatypes.js';

export interface DecodedInfer {
  request: V2InferRequest;
  inputs: DecodedInputs;
}

/** Parses and decodes a request body; `headerLength` is the Inference-Header-Content-Length header. */
export function decodeInferRequest(
  body: Buffer | undefined,
  headerLength: string | string[] | undefined,
  signature: readonly TensorSignature[],
  maxBatchSize: number,
): DecodedInfer {
  const { header, binary } = splitBody(body, headerLength);
  const request = parseInferRequest(header);
  const binaries = readBinaryTensors(request.inputs, binary);
  const byName = new Map(request.inputs.map((i) => [i.name, i]));
  const inputs = matchInputs([...byName.keys()], signature, maxBatchSize, (sig) => {
    const input = byName.get(sig.name)!;
    const t = binaries.get(sig.name);
    if (!t) return decodeJsonTensor(input, sig);
    checkDatatype(input, sig);
    return t;
  });
  return { request, inputs };
}

export interface PlannedOutput {
  name: string;
  binary: boolean;
}

/** The outputs to answer, in order: those requested (each must exist), else all of the model's. */
export function planOutputs(request: V2InferRequest, outputs: readonly TensorSignature[]): PlannedOutput[] {
  if (!request.outputs) return outputs.map((o) => ({ name: o.name, binary: request.binaryOutput }));
  const known = new Set(outputs.map((o) => o.name));
  return request.outputs.map((o) => {
    if (!known.has(o.name)) throw new ServeError('INVALID_INPUT', `unknown output "${o.name}"; the model's outputs are: ${[...known].join(', ')}`);
    return { name: o.name, binary: o.binary ?? request.binaryOutput };
  });
}

export interface InferResponse {
  /** JSON text, or JSON header + binary bytes. */
  body: string | Buffer;
  /** Set for a binary body: the byte length of its JSON header. */
  headerLength?: number;
}

/** Encodes the response: JSON outputs inline, binary outputs as parameters.binary_data_size + bytes. */
export function encodeInferResponse(
  model: { name: string; version: string },
  id: string | undefined,
  plan: readonly PlannedOutput[],
  results: Record<string, Tensor>,
): InferResponse {
  const binaries: Tensor[] = [];
  let outputs = '';
  for (const o of plan) {
    const t = results[o.name];
    if (!t) throw new ServeError('INFERENCE_FAILED', `the model did not produce output "${o.name}"`);
    const head = `{"name":${JSON.stringify(o.name)},"datatype":"${toV2Datatype(t.dtype)}","shape":${JSON.stringify(t.dims)}`;
    if (o.binary) {
      binaries.push(t);
      outputs += `${outputs ? ',' : ''}${head},"parameters":{"binary_data_size":${t.data.byteLength}}}`;
    } else {
      outputs += `${outputs ? ',' : ''}${head},"data":${flatJsonData(t)}}`;
    }
  }
  const json = `{"model_name":${JSON.stringify(model.name)},"model_version":${JSON.stringify(model.version)}${id !== undefined ? `,"id":${JSON.stringify(id)}` : ''},"outputs":[${outputs}]}`;
  if (!binaries.length) return { body: json };
  return binaryBody(json, binaries);
}
