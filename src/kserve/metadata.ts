// KServe v2 metadata: the server's (name, version, extensions) and a model version's
// (name, versions, platform, inputs and outputs with v2 datatypes and -1 for variable dims,
// and its compressed variants when it has some).
import type { ModelRepository } from '../repository/repository.js';
import type { ModelVersion } from '../repository/model-version.js';
import type { TensorSignature } from '../signature.js';
import { ServeError } from '../errors.js';
import { toV2Datatype, v2Shape } from './datatypes.js';
import { tritonModelConfig } from './model-config.js';
import { LABELS_FILE } from '../repository/labels.js';
import { ownPackage } from '../package-root.js';

/** Extensions implemented here, as reported by GET /v2. */
export const EXTENSIONS: readonly string[] = Object.freeze(['binary_tensor_data', 'statistics', 'model_configuration', 'classification', 'model_repository', 'logging']);

const pkg = ownPackage();

export function serverMetadata(): { name: string; version: string; extensions: readonly string[] } {
  return { name: 'onnx-serve', version: pkg.version, extensions: EXTENSIONS };
}

export interface V2TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

const tensorMetadata = (t: TensorSignature): V2TensorMetadata => ({ name: t.name, datatype: toV2Datatype(t.dtype), shape: v2Shape(t.dims) });

/** A variant as v2 metadata lists it (snake_case, as the protocol's own fields). */
export interface V2VariantMetadata {
  name: string;
  file: string;
  state: string;
  reason?: string;
  method: string | null;
  accuracy_delta: number | null;
}

export function variantMetadata(mv: ModelVersion): V2VariantMetadata[] {
  return [...mv.variants.values()].map((v) => ({
    name: v.variant!,
    file: v.file,
    state: v.state,
    ...(v.reason ? { reason: v.reason } : {}),
    method: v.compression.method,
    accuracy_delta: v.compression.accuracyDelta,
  }));
}

/** The version named (the highest when none is), with its signature known: 404 for an unknown model or version, 503 while it is not loaded. */
function loadedVersion(repository: ModelRepository, name: string, version?: string): ModelVersion & { signature: NonNullable<ModelVersion['signature']> } {
  const found = repository.find(name, version);
  const mv = found[found.length - 1]!;
  if (!mv.signature) {
    throw new ServeError('MODEL_NOT_READY', `model "${name}" version ${mv.version} is ${mv.state}${mv.reason ? `: ${mv.reason}` : ''}`);
  }
  return mv as ModelVersion & { signature: NonNullable<ModelVersion['signature']> };
}

/** Model metadata for one version (the highest when none is named); 503 while its signature is unknown. */
export function modelMetadata(repository: ModelRepository, name: string, version?: string) {
  const mv = loadedVersion(repository, name, version);
  return {
    name,
    versions: repository.find(name).map((v) => v.version),
    platform: 'onnxruntime_onnx',
    inputs: mv.signature.inputs.map(tensorMetadata),
    outputs: mv.signature.outputs.map(tensorMetadata),
    // extension fields, only where they say something: plain batching models answer exactly the protocol's fields
    ...(mv.unbatchedReason ? { batching: { max_batch_size: 0, reason: mv.unbatchedReason } } : {}),
    ...(mv.variants.size ? { variants: variantMetadata(mv) } : {}),
  };
}

/** Triton's model configuration of one version (the highest when none is named): the same 404 and 503 as metadata. */
export function modelConfig(repository: ModelRepository, name: string, version?: string) {
  const mv = loadedVersion(repository, name, version);
  return tritonModelConfig({
    name,
    signature: mv.signature,
    maxBatchSize: mv.batching!.maxBatchSize,
    batching: mv.batching!,
    instances: mv.sizing.instances,
    providers: mv.providers?.inUse ?? [],
    labelFile: mv.labels ? LABELS_FILE : undefined,
  });
}
