// POST /v1/predict: the simple API. Validate and decode against the model's signature,
// queue for a batch, answer with nested arrays plus Server-Timing and x-batch-size headers.
// `variant` picks a compressed sibling of the model (config.json "variants") instead of the base.
import type { FastifyInstance } from 'fastify';
import { decodeInputs } from '../signature.js';
import { resolveForRequest, runInference } from './inference.js';
import { toJsonText } from '../tensors/encode.js';
import { CONTENT_ENCODING_DOC, DIGITS_LOGITS, DIGITS_PIXELS, DIGITS_PROBABILITIES, TIMEOUT_HEADER_DOC, TIMING_HEADERS_DOC, VARIANT_DOC, VARIANT_HEADER_DOC, PRIORITY_DOC, openObject, v1Errors } from '../openapi.js';
import { earlyAdmissionAnyModel, noteBodyAsks } from './early-admission.js';

interface PredictBody {
  model: string;
  version?: string;
  variant?: string;
  priority?: number;
  inputs: Record<string, unknown>;
}

const bodySchema = {
  type: 'object',
  required: ['model', 'inputs'],
  additionalProperties: false,
  properties: {
    model: { type: 'string', minLength: 1, description: 'The model name (a folder of the model repository).' },
    version: { type: 'string', pattern: '^[1-9][0-9]*$', description: 'A version number; the highest version when omitted.' },
    variant: VARIANT_DOC,
    priority: PRIORITY_DOC,
    // tensors are checked against the model's signature, not walked element by element by the schema
    inputs: {
      type: 'object',
      minProperties: 1,
      description:
        "One entry per model input, by name: a nested array whose shape is inferred (the first dimension is the rows of the batch), " +
        'or `{"dims": [...], "data": [...flat...]}`. Dtypes come from the model (GET /v1/models lists each signature).',
    },
  },
  examples: [{ model: 'digits', inputs: { input: [DIGITS_PIXELS] } }],
} as const;

const predictSchema = {
  summary: 'Run a model on a batch of rows',
  description:
    "Validates the inputs against the model's signature, queues the request for a dynamic batch and answers the outputs as nested arrays. " +
    'The `Server-Timing` header gives the queue and compute times, `x-batch-size` the rows of the execution that computed it. ' +
    'With `variant`, a compressed variant of the model answers (its own queue and workers) and the answer says which.',
  tags: ['v1'],
  body: bodySchema,
  headers: {
    type: 'object',
    properties: {
      'x-request-timeout-ms': TIMEOUT_HEADER_DOC,
      'x-request-id': { type: 'string', description: 'Echoed in the log line as `reqId`.' },
      'content-encoding': CONTENT_ENCODING_DOC,
    },
  },
  response: {
    200: openObject(
      {
        model: { type: 'string' },
        version: { type: 'string' },
        variant: { type: 'string', description: 'The variant that answered; present only when the request named one.' },
        outputs: { type: 'object', additionalProperties: { type: 'array', items: {} } },
      },
      {
        description: 'The outputs, one nested array per model output.',
        headers: { ...TIMING_HEADERS_DOC, ...VARIANT_HEADER_DOC },
        examples: [{ model: 'digits', version: '1', outputs: { logits: [DIGITS_LOGITS], probabilities: [DIGITS_PROBABILITIES] } }],
      },
    ),
    ...v1Errors([400, 404, 413, 415, 422, 429, 500, 503, 504]),
  },
};

export async function predictRoutes(app: FastifyInstance): Promise<void> {
  // onRequest: refused before the body when every model's queue would refuse it
  app.post<{ Body: PredictBody }>('/v1/predict', { schema: predictSchema, config: { inference: true }, onRequest: earlyAdmissionAnyModel(app) }, async (request, reply) => {
    const { model, version, variant, priority, inputs } = request.body;
    const mv = resolveForRequest(app, request, model, version, variant);
    // (a variant is judged on its own queue before the body: every version's queue is asked)
    if (priority !== undefined) noteBodyAsks(mv, { priority });
    const decoded = decodeInputs(inputs, mv.signature!.inputs, mv.batching!.maxBatchSize);
    const result = await runInference(request, reply, mv, decoded, priority === undefined ? {} : { priority });

    // the body is assembled as text: tensors are encoded row by row, not walked by JSON.stringify
    let outputs = '';
    for (const [name, t] of Object.entries(result.outputs)) outputs += `${outputs ? ',' : ''}${JSON.stringify(name)}:${toJsonText(t)}`;
    reply.type('application/json; charset=utf-8');
    const served = mv.variant === undefined ? '' : `,"variant":${JSON.stringify(mv.variant)}`;
    return `{"model":${JSON.stringify(mv.name)},"version":${JSON.stringify(mv.version)}${served},"outputs":{${outputs}}}`;
  });
}
