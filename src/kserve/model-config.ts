// Triton's model configuration extension: a loaded model version as the JSON form of Triton's
// ModelConfig message (GET /v2/models/{m}[/versions/{v}]/config). Pure: takes what the version
// knows (signature, batching, instances, labels) and returns plain JSON. Triton's clients read
// max_batch_size, input[i].dims (without the batch dimension when the model batches) and
// input[i].format (image_client.py refuses anything but FORMAT_NCHW / FORMAT_NHWC for images).
import type { DType } from '../tensors/dtypes.js';
import type { Signature, TensorSignature } from '../signature.js';
import type { DynamicBatchingConfig } from '../repository/model-config.js';

/** Triton's DataType enum names (model_config.proto), for each dtype served. */
const TRITON_TYPES: Readonly<Record<DType, string>> = Object.freeze({
  bool: 'TYPE_BOOL',
  uint8: 'TYPE_UINT8',
  uint16: 'TYPE_UINT16',
  uint32: 'TYPE_UINT32',
  uint64: 'TYPE_UINT64',
  int8: 'TYPE_INT8',
  int16: 'TYPE_INT16',
  int32: 'TYPE_INT32',
  int64: 'TYPE_INT64',
  float16: 'TYPE_FP16',
  float32: 'TYPE_FP32',
  float64: 'TYPE_FP64',
});

/** Triton's name for a dtype; BYTES (strings, e.g. a classification answer) is TYPE_STRING. */
export function tritonDataType(dtype: DType | 'bytes'): string {
  return dtype === 'bytes' ? 'TYPE_STRING' : TRITON_TYPES[dtype];
}

export interface ConfigSource {
  name: string;
  signature: Signature;
  /** 0: the model does not batch (dims are then the whole shape). */
  maxBatchSize: number;
  batching: DynamicBatchingConfig;
  instances: number;
  /** Execution providers in use, in order (a GPU one first makes the instances KIND_GPU). */
  providers: readonly string[];
  /** The labels file's name when the model has one (Triton's output label_filename). */
  labelFile?: string | undefined;
}

export interface TritonTensorConfig {
  name: string;
  data_type: string;
  dims: number[];
  format?: string;
  label_filename?: string;
}

const GPU_PROVIDERS = new Set(['cuda', 'tensorrt', 'dml', 'coreml', 'webgpu']);

/** The shape Triton's config shows: the batch dimension dropped when the model batches, symbolic dims as -1. */
export function configDims(dims: readonly (number | string)[], batched: boolean): number[] {
  return (batched ? dims.slice(1) : dims).map((d) => (typeof d === 'number' && d >= 0 ? d : -1));
}

/**
 * Triton's input format, guessed from the shape since an ONNX file does not say: three dims
 * (after the batch) with 1 or 3 channels first is NCHW, last is NHWC; anything else FORMAT_NONE.
 * A guess only for image-like inputs: image clients need it, others ignore it.
 */
export function inputFormat(dims: readonly number[]): string {
  if (dims.length !== 3) return 'FORMAT_NONE';
  const channels = (d: number): boolean => d === 1 || d === 3;
  if (channels(dims[0]!) && !channels(dims[2]!)) return 'FORMAT_NCHW';
  if (channels(dims[2]!) && !channels(dims[0]!)) return 'FORMAT_NHWC';
  return 'FORMAT_NONE';
}

const US_PER_MS = 1000;

/** The JSON of Triton's ModelConfig for one loaded model version. */
export function tritonModelConfig(m: ConfigSource) {
  const batched = m.maxBatchSize > 0;
  const b = m.batching;
  const tensor = (t: TensorSignature, input: boolean): TritonTensorConfig => {
    const dims = configDims(t.dims, batched);
    const out: TritonTensorConfig = { name: t.name, data_type: tritonDataType(t.dtype), dims };
    if (input) out.format = inputFormat(dims);
    else if (m.labelFile) out.label_filename = m.labelFile;
    return out;
  };
  const gpu = m.providers.length > 0 && GPU_PROVIDERS.has(m.providers[0]!);
  return {
    name: m.name,
    platform: 'onnxruntime_onnx',
    backend: 'onnxruntime',
    // every version in the folder is served (Triton's "all" policy)
    version_policy: { all: {} },
    max_batch_size: m.maxBatchSize,
    input: m.signature.inputs.map((t) => tensor(t, true)),
    output: m.signature.outputs.map((t) => tensor(t, false)),
    // a model that does not batch has no dynamic batcher: Triton leaves the key out then
    ...(batched
      ? {
          dynamic_batching: {
            // 0 under the adaptive policy: the wait is decided per batch, not fixed
            max_queue_delay_microseconds: Math.round(b.maxQueueDelayMs * US_PER_MS),
            preferred_batch_size: [...b.preferredBatchSizes],
            priority_levels: b.priorityLevels,
            default_priority_level: b.defaultPriorityLevel,
            default_queue_policy: {
              timeout_action: 'REJECT',
              default_timeout_microseconds: (b.latencyTargetMs ?? b.timeoutMs) * US_PER_MS,
              allow_timeout_override: true,
              max_queue_size: b.maxQueueSize,
            },
          },
        }
      : {}),
    instance_group: [{ name: `${m.name}_0`, kind: gpu ? 'KIND_GPU' : 'KIND_CPU', count: m.instances, ...(gpu ? { gpus: [0] } : {}) }],
    // onnx-serve's own settings that Triton's message has no field for, as its string parameters
    parameters: {
      batching_policy: { string_value: b.policy },
      ...(b.latencyTargetMs !== undefined ? { latency_target_ms: { string_value: String(b.latencyTargetMs) } } : {}),
      max_queue_wait_ms: { string_value: String(b.maxQueueWaitMs) },
      execution_providers: { string_value: m.providers.join(',') },
    },
  };
}
