// The OpenAPI schemas of the KServe v2 routes (src/routes/v2.ts): they document the routes
// (GET /openapi.json) and validate params and headers. Data only: no routes, no handlers.
import { V2_DATATYPES } from './datatypes.js';
import { CONTENT_ENCODING_DOC, DIGITS_LOGITS, DIGITS_PIXELS, DIGITS_PROBABILITIES, TIMEOUT_HEADER_DOC, TIMING_HEADERS_DOC, VARIANT_DOC, VARIANT_HEADER_DOC, listOf, openObject, v2Error } from '../openapi.js';

const TAGS = ['kserve-v2'];

function paramsSchema(withVersion: boolean) {
  return {
    type: 'object',
    required: withVersion ? ['model_name', 'model_version'] : ['model_name'],
    properties: {
      model_name: { type: 'string', description: 'The model name.', examples: ['digits'] },
      ...(withVersion ? { model_version: { type: 'string', description: 'A version number (the highest when the path has none).', examples: ['1'] } } : {}),
    },
  };
}

const errors = {
  400: v2Error('Bad request: invalid JSON, a tensor whose name, shape, datatype or data does not fit the model, too many rows, bad headers, a bad classification count, a body that does not decode as its Content-Encoding says.'),
  404: v2Error('No such model or version (or no such route).'),
  413: v2Error('The body exceeds the body limit (--body-limit); a gzip / deflate body counts by its decoded size.'),
  415: v2Error('The body has a Content-Encoding other than gzip, deflate or identity.'),
  422: v2Error("onnxruntime refused this request's inputs when it ran alone (its batch-mates were answered); the message is onnxruntime's."),
  500: v2Error("onnxruntime failed to run this request for a reason that is not the request's."),
  503: v2Error("The model is not ready, the server is draining, or the model's queue is full (with `Retry-After`)."),
  504: v2Error('The request waited in the queue past its deadline (`x-request-timeout-ms` or the model\'s `timeoutMs`) and was not computed.'),
};

const tensorMetadata = openObject({ name: { type: 'string' }, datatype: { type: 'string' }, shape: { type: 'array', items: { type: 'integer' }, description: '-1 is a variable dimension.' } });

const variantMetadata = openObject({
  name: { type: 'string' },
  file: { type: 'string', description: 'The ONNX file, in the version folder.' },
  state: { type: 'string', description: '`LOADING`, `READY`, `UNLOADING` or `UNAVAILABLE` (see `reason`).' },
  reason: { type: 'string', description: 'Why it is not ready: file missing, failed to load, or a signature that differs from the base.' },
  method: { type: 'string', nullable: true, description: "The compression method, from the variant's report file (null without one)." },
  accuracy_delta: { type: 'number', nullable: true, description: 'Accuracy of the variant minus the base, as measured by the compress command (null when not measured).' },
});

const duration = { type: 'object', additionalProperties: true, properties: { count: { type: 'number' }, ns: { type: 'number' } } };
const modelStatsItem = openObject({
  name: { type: 'string' },
  version: { type: 'string' },
  last_inference: { type: 'number', description: 'Milliseconds since the epoch of the last inference (0: none).' },
  inference_count: { type: 'number' },
  execution_count: { type: 'number' },
  inference_stats: {
    type: 'object',
    additionalProperties: true,
    properties: { success: duration, fail: duration, queue: duration, compute_input: duration, compute_infer: duration, compute_output: duration, cache_hit: duration, cache_miss: duration },
  },
  batch_stats: listOf({ batch_size: { type: 'number' }, compute_input: duration, compute_infer: duration, compute_output: duration }),
  memory_usage: listOf({ type: { type: 'string' }, id: { type: 'number' }, byte_size: { type: 'number' } }, { description: 'Memory by device; empty: onnxruntime-node reports none.' }),
  response_stats: {
    type: 'object',
    description: 'Per response index (one response per request: only "0"): compute_infer, compute_output, success, fail, empty_response.',
    additionalProperties: openObject({ compute_infer: duration, compute_output: duration, success: duration, fail: duration, empty_response: duration }),
  },
  variants: listOf({ variant: { type: 'string' } }, { description: 'Only for a version with compressed variants: the same statistics for each, with its name in `variant`.' }),
});
const statsResponse = (description: string) => openObject({ model_stats: { type: 'array', items: modelStatsItem } }, { description });

export const serverMetadataSchema = {
  summary: 'Server metadata',
  description: 'The server name, version and the protocol extensions it implements.',
  tags: TAGS,
  response: {
    200: {
      description: 'Server metadata.',
      type: 'object',
      additionalProperties: true,
      properties: { name: { type: 'string' }, version: { type: 'string' }, extensions: { type: 'array', items: { type: 'string' } } },
      examples: [{ name: 'onnx-serve', version: '0.1.0', extensions: ['binary_tensor_data', 'statistics'] }],
    },
    404: errors[404],
  },
};

export const allStatsSchema = {
  summary: 'Statistics of every model version',
  description: "Triton's statistics extension: per model version, request and execution counts, cumulative queue and compute nanoseconds, and per batch size.",
  tags: TAGS,
  response: { 200: statsResponse('Statistics of every loaded model version.'), 404: errors[404] },
};

export function metadataSchema(withVersion: boolean) {
  return {
    summary: withVersion ? 'Model version metadata' : 'Model metadata',
    description: `The ${withVersion ? 'named version' : 'highest version'} of a model: its versions, platform, and inputs and outputs with v2 datatypes and shapes (-1 for variable dimensions).`,
    tags: TAGS,
    params: paramsSchema(withVersion),
    response: {
      200: {
        description: 'Model metadata.',
        type: 'object',
        additionalProperties: true,
        properties: {
          name: { type: 'string' },
          versions: { type: 'array', items: { type: 'string' } },
          platform: { type: 'string' },
          inputs: { type: 'array', items: tensorMetadata },
          outputs: { type: 'array', items: tensorMetadata },
          batching: {
            type: 'object',
            additionalProperties: true,
            description: 'Only for a model that does not batch: `max_batch_size` 0 and the `reason` (a 0-d input, a batch that is not dimension 0, an output that does not follow the rows, config.json).',
            properties: { max_batch_size: { type: 'integer' }, reason: { type: 'string' } },
          },
          variants: { type: 'array', items: variantMetadata, description: 'Only for a model with compressed variants (config.json `variants`).' },
        },
        examples: [
          {
            name: 'digits',
            versions: ['1'],
            platform: 'onnxruntime_onnx',
            inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 64] }],
            outputs: [
              { name: 'logits', datatype: 'FP32', shape: [-1, 10] },
              { name: 'probabilities', datatype: 'FP32', shape: [-1, 10] },
            ],
          },
        ],
      },
      404: errors[404],
      503: errors[503],
    },
  };
}

const configTensor = openObject({
  name: { type: 'string' },
  data_type: { type: 'string', description: 'Triton\'s type name: `TYPE_FP32`, `TYPE_INT64`, … (`TYPE_STRING` for BYTES).' },
  dims: { type: 'array', items: { type: 'integer' }, description: 'Without the batch dimension when `max_batch_size` > 0; -1 is a variable dimension.' },
  format: { type: 'string', description: 'Inputs only: `FORMAT_NCHW` / `FORMAT_NHWC` for image-like inputs (3 dims with 1 or 3 channels first or last), else `FORMAT_NONE`.' },
  label_filename: { type: 'string', description: 'Outputs only, when the model folder has a `labels.txt` (classification labels).' },
});

export function configSchema(withVersion: boolean) {
  return {
    summary: withVersion ? 'Model version configuration' : 'Model configuration',
    description:
      `Triton's model configuration extension: the ${withVersion ? 'named version' : 'highest version'} as the JSON of Triton's ModelConfig message ` +
      '(`max_batch_size`, `input`, `output`, `dynamic_batching`, `instance_group`, …), so that Triton\'s clients (e.g. image_client.py) work unchanged.',
    tags: TAGS,
    params: paramsSchema(withVersion),
    response: {
      200: openObject(
        {
          name: { type: 'string' },
          platform: { type: 'string' },
          backend: { type: 'string' },
          max_batch_size: { type: 'integer', description: '0 when the model does not batch.' },
          input: { type: 'array', items: configTensor },
          output: { type: 'array', items: configTensor },
          dynamic_batching: { type: 'object', additionalProperties: true, description: 'Only for a model that batches.' },
          instance_group: { type: 'array', items: { type: 'object', additionalProperties: true } },
        },
        {
          description: 'Model configuration.',
          examples: [
            {
              name: 'digits',
              platform: 'onnxruntime_onnx',
              backend: 'onnxruntime',
              version_policy: { all: {} },
              max_batch_size: 32,
              input: [{ name: 'input', data_type: 'TYPE_FP32', dims: [64], format: 'FORMAT_NONE' }],
              output: [{ name: 'logits', data_type: 'TYPE_FP32', dims: [10] }, { name: 'probabilities', data_type: 'TYPE_FP32', dims: [10] }],
              dynamic_batching: {
                max_queue_delay_microseconds: 0,
                preferred_batch_size: [],
                priority_levels: 3,
                default_priority_level: 2,
                default_queue_policy: { timeout_action: 'REJECT', default_timeout_microseconds: 10000000, allow_timeout_override: true, max_queue_size: 1024 },
              },
              instance_group: [{ name: 'digits_0', kind: 'KIND_CPU', count: 1 }],
              parameters: { batching_policy: { string_value: 'adaptive' }, execution_providers: { string_value: 'cpu' } },
            },
          ],
        },
      ),
      404: errors[404],
      503: errors[503],
    },
  };
}

export function readySchema(withVersion: boolean) {
  const body = (description: string) => ({
    description,
    type: 'object',
    additionalProperties: true,
    properties: { name: { type: 'string' }, version: { type: 'string' }, ready: { type: 'boolean' } },
  });
  return {
    summary: withVersion ? 'Model version readiness' : 'Model readiness',
    description: `200 when the ${withVersion ? 'version' : 'highest version'} is READY and the server is not draining, else 503.`,
    tags: TAGS,
    params: paramsSchema(withVersion),
    response: {
      200: { ...body('Ready.'), examples: [{ name: 'digits', version: '1', ready: true }] },
      404: errors[404],
      503: body('Not ready (loading, unavailable, or the server is draining).'),
    },
  };
}

export function modelStatsSchema(withVersion: boolean) {
  return {
    summary: withVersion ? 'Model version statistics' : 'Model statistics',
    description: `Statistics of ${withVersion ? 'one version' : 'every version'} of a model (Triton's statistics extension).`,
    tags: TAGS,
    params: paramsSchema(withVersion),
    response: { 200: statsResponse('Statistics.'), 404: errors[404], 503: errors[503] },
  };
}

const v2Tensor = {
  type: 'object',
  required: ['name', 'shape', 'datatype'],
  properties: {
    name: { type: 'string' },
    shape: { type: 'array', items: { type: 'integer', minimum: 0 } },
    datatype: { type: 'string', enum: [...V2_DATATYPES] },
    data: { type: 'array', items: {}, description: 'Row-major values, flat or nested. Absent when the tensor is binary.' },
    parameters: {
      type: 'object',
      properties: { binary_data_size: { type: 'integer', minimum: 0, description: 'Binary tensor extension: the tensor is this many bytes of the body after the JSON header.' } },
    },
  },
};

const inferRequest = {
  type: 'object',
  required: ['inputs'],
  properties: {
    id: { type: 'string', description: 'Echoed in the response.' },
    inputs: { type: 'array', minItems: 1, items: v2Tensor },
    outputs: {
      type: 'array',
      description: "The outputs to answer (all of the model's when absent).",
      items: {
        type: 'object',
        required: ['name'],
        properties: {
          name: { type: 'string' },
          parameters: {
            type: 'object',
            properties: {
              binary_data: { type: 'boolean' },
              classification: {
                type: 'integer',
                minimum: 1,
                description: 'Triton\'s classification extension: answer this output as BYTES, the top N entries per row as "value:index" or "value:index:label" (labels.txt), shape [batch, N].',
              },
            },
          },
        },
      },
    },
    parameters: {
      type: 'object',
      properties: {
        binary_data_output: { type: 'boolean', description: 'Every output as binary data unless it says otherwise.' },
        variant: VARIANT_DOC,
        priority: { type: 'integer', description: "Triton's priority: 1 the most urgent, 0 the model's default level." },
        timeout: { type: 'integer', description: "Triton's timeout, in microseconds: the request's deadline (`x-request-timeout-ms` wins when both are given)." },
      },
    },
  },
};

const inferResponse = {
  type: 'object',
  properties: {
    model_name: { type: 'string' },
    model_version: { type: 'string' },
    id: { type: 'string' },
    parameters: { type: 'object', properties: { variant: { type: 'string', description: 'The variant that answered (absent when the base did).' } } },
    outputs: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          datatype: { type: 'string' },
          shape: { type: 'array', items: { type: 'integer' } },
          data: { type: 'array', items: {}, description: 'Flat, row-major. Absent for a binary output.' },
          parameters: { type: 'object', properties: { binary_data_size: { type: 'integer' } } },
        },
      },
    },
  },
};

const binaryBody = {
  type: 'string',
  format: 'binary',
  description:
    'Binary tensor extension: the JSON inference request (its byte length in the `Inference-Header-Content-Length` header), then the bytes of each input whose ' +
    '`parameters.binary_data_size` is set, in input order: little-endian, row-major, no padding.',
};

export function inferSchema(withVersion: boolean) {
  return {
    summary: withVersion ? 'Infer with a model version' : 'Infer',
    description:
      'Runs the model through the same dynamic batching queues as /v1/predict. The body is a JSON inference request, or (binary tensor extension) ' +
      'a JSON header of `Inference-Header-Content-Length` bytes followed by binary tensor data. Outputs requested as binary come back the same way ' +
      '(`application/octet-stream` with `Inference-Header-Content-Length`). Headers `Server-Timing` and `x-batch-size` as on /v1/predict. ' +
      'A compressed variant answers instead of the base when the request names it (`parameters.variant`, or the `variant` query parameter).',
    tags: TAGS,
    params: paramsSchema(withVersion),
    querystring: {
      type: 'object',
      properties: { variant: { ...VARIANT_DOC, description: `${VARIANT_DOC.description} Handy for binary clients; must agree with \`parameters.variant\` when both are given.` } },
    },
    headers: {
      type: 'object',
      properties: {
        'inference-header-content-length': {
          type: 'string',
          description: 'Binary tensor extension: the byte length of the JSON header at the start of the body; the rest is binary tensor data.',
          examples: ['112'],
        },
        'x-request-timeout-ms': TIMEOUT_HEADER_DOC,
        'content-encoding': CONTENT_ENCODING_DOC,
      },
    },
    response: {
      200: {
        description: 'The outputs: JSON, or a JSON header and binary tensor data when binary outputs were requested.',
        headers: {
          'inference-header-content-length': { type: 'string', description: 'With a binary response: the byte length of its JSON header.' },
          ...TIMING_HEADERS_DOC,
          ...VARIANT_HEADER_DOC,
        },
        content: {
          'application/json': {
            schema: inferResponse,
            example: {
              model_name: 'digits',
              model_version: '1',
              id: 'req-1',
              outputs: [
                { name: 'logits', datatype: 'FP32', shape: [1, 10], data: DIGITS_LOGITS },
                { name: 'probabilities', datatype: 'FP32', shape: [1, 10], data: DIGITS_PROBABILITIES },
              ],
            },
          },
          'application/octet-stream': { schema: binaryBody },
        },
      },
      ...errors,
    },
  };
}

/** The /v2 infer body as the spec shows it (the route reads bytes and checks them itself: src/kserve/json.ts). */
export const inferBodyDoc = {
  content: {
    'application/json': {
      schema: {
        ...inferRequest,
        examples: [{ id: 'req-1', inputs: [{ name: 'input', shape: [1, 64], datatype: 'FP32', data: DIGITS_PIXELS }] }],
      },
    },
    'application/octet-stream': { schema: binaryBody },
  },
};
