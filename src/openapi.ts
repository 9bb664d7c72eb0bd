// The API description: @fastify/swagger builds OpenAPI 3 from the route schemas (the same
// schemas validate requests), served at GET /openapi.json, with Swagger UI at /docs (its assets
// come from node_modules: nothing is fetched from a CDN). Shared pieces of the route schemas
// live here: the /v1 and /v2 error shapes and examples from the shipped `digits` model.
import type { FastifyInstance } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { ERRORS, type ErrorCode } from './errors.js';
import { serverMetadata } from './kserve/metadata.js';
import { DOCS_CSP } from './security.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * A request body documented in the spec but not validated by fastify: /v2 infer reads its
     * body as bytes (JSON, or JSON + binary tensors) and checks it itself (src/kserve/json.ts).
     */
    openapiBody?: unknown;
  }
}

export const TAGS = [
  { name: 'v1', description: 'The simple API: JSON in, nested arrays out.' },
  { name: 'kserve-v2', description: 'KServe v2 / Open Inference Protocol (JSON tensors and the binary tensor extension). Errors are `{"error": "message"}`.' },
  { name: 'health', description: 'Liveness and readiness probes (KServe v2 paths).' },
  { name: 'operations', description: 'Prometheus metrics.' },
  { name: 'model-repository', description: "Triton's model repository and logging extensions: the index and GET /v2/logging are open; load, unload and POST /v2/logging need `Authorization: Bearer <admin token>`." },
];

/** An answer's object schema: its documented properties, and any others let through (answers may grow fields). */
export function openObject(properties: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'object', additionalProperties: true, ...extra, properties };
}

/** An array of openObject items. */
export function listOf(properties: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'array', ...extra, items: openObject(properties) };
}

/** Registers @fastify/swagger, Swagger UI at /docs and GET /openapi.json. Call before any route. */
export async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(fastifySwagger, {
    mode: 'dynamic',
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'onnx-serve',
        version: serverMetadata().version,
        description:
          'Serves ONNX models with dynamic batching. `/v1` is the simple JSON API; `/v2` is the KServe v2 / Open Inference Protocol. ' +
          'Examples use the shipped `digits` model (8×8 images of handwritten digits, 64 raw pixel values 0..16 per row).',
      },
      tags: TAGS,
    },
    // /v2 infer: its body is documented from config.openapiBody, not from a validating schema
    transform: ({ schema, url, route }) => {
      const body = route.config?.openapiBody;
      // GET /v2 answers with and without the trailing slash: documented once, without it
      const path = url.length > 1 && url.endsWith('/') ? url.slice(0, -1) : url;
      return { schema: body === undefined ? schema : ({ ...schema, body } as typeof schema), url: path };
    },
  });
  await app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    // no badge from validator.swagger.io: the UI must work without the internet
    uiConfig: { validatorUrl: null, deepLinking: true, docExpansion: 'list' },
    // the page's own CSP in place of the API's (which lets nothing load): its routes only
    staticCSP: DOCS_CSP,
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

const codesWithStatus = (status: number): ErrorCode[] => (Object.keys(ERRORS) as ErrorCode[]).filter((c) => ERRORS[c].status === status);

/** The /v1 error shape; `statuses` picks the codes of the enum (all of ERRORS when omitted). */
export function v1Error(description: string, statuses?: number[]) {
  const codes = statuses ? statuses.flatMap(codesWithStatus) : (Object.keys(ERRORS) as ErrorCode[]);
  return {
    description: `${description} Codes: ${codes.map((c) => `\`${c}\` (${ERRORS[c].doc})`).join('; ')}`,
    type: 'object',
    additionalProperties: true,
    properties: {
      error: {
        type: 'object',
        additionalProperties: true,
        properties: {
          code: { type: 'string', enum: codes },
          message: { type: 'string', description: 'What went wrong and what to fix.' },
        },
      },
    },
  };
}

/** The /v1 error responses for the given statuses. */
export function v1Errors(statuses: number[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of statuses) {
    const what = s === 429 ? 'The queue is full; retry after the `Retry-After` header (seconds).' : `Error ${s}.`;
    out[String(s)] = s === 429 ? { ...v1Error(what, [s]), headers: { 'retry-after': { type: 'string', description: 'Seconds to wait before retrying.' } } } : v1Error(what, [s]);
  }
  return out;
}

/** The request header Content-Encoding, as every inference route takes it (src/body-decoding.ts). */
export const CONTENT_ENCODING_DOC = {
  type: 'string',
  description: 'gzip, x-gzip or deflate: the body is decoded first, and its decoded size counts against the body limit (413 past it; 400 when it does not decode; 415 for another coding).',
  examples: ['gzip'],
};

/** The /v2 error shape. */
export function v2Error(description: string) {
  return {
    description,
    type: 'object',
    additionalProperties: true,
    properties: { error: { type: 'string', description: 'What went wrong and what to fix.' } },
  };
}

/** A 4XX for routes that take no input: the only client error is a path or method nobody serves. */
export const noInputClientError = () =>
  v1Error('Any client error (this route takes no input, so none is expected here; an unknown path answers `ROUTE_NOT_FOUND`).');

// Examples from the shipped `digits` model: the first sample of models/digits/test-set.json
// (label 7) and what the model answers for it (rounded).
/** Request header every inference route takes (documented once for /v1 and /v2). */
export const TIMEOUT_HEADER_DOC = {
  type: 'string',
  description:
    "The request's deadline in milliseconds (1 to 3600000); the model's `latencyTargetMs`, else its `timeoutMs`, when absent. " +
    'Refused at once (429, with Retry-After) when the queue ahead is predicted not to let it finish in time; still queued at it: 504, never computed.',
} as const;

export const PRIORITY_DOC = {
  type: 'integer',
  minimum: 0,
  description: "Priority level: 1 is the most urgent, up to the model's `priorityLevels` (3 by default); 0 or absent is the model's `defaultPriorityLevel` (2). A more urgent level is dispatched first; every level's deadlines still hold.",
} as const;

/** Response headers every inference route sets (src/routes/inference.ts). */
export const TIMING_HEADERS_DOC = {
  'server-timing': { type: 'string', description: '`queue;dur=<ms>, compute;dur=<ms>`' },
  'x-batch-size': { type: 'string', description: 'Rows in the execution that computed this request.' },
} as const;

/** A request's variant (`variant` in a /v1 body, the `variant` parameter or query parameter on /v2). */
export const VARIANT_DOC = {
  type: 'string',
  minLength: 1,
  description:
    'A compressed variant of the model to answer instead of the base (a name from the model\'s config.json `variants`, listed by GET /v1/models). ' +
    'Unknown: 404 `MODEL_NOT_FOUND` naming the variants that exist; not ready: 503 `MODEL_NOT_READY`. The base answers when omitted.',
} as const;

/** Response header of an answer computed by a variant (src/routes/inference.ts). */
export const VARIANT_HEADER_DOC = {
  'x-model-variant': { type: 'string', description: 'The variant that computed the answer; absent when the base model did.' },
} as const;

export const DIGITS_PIXELS = [
  0, 0, 2, 13, 16, 9, 0, 0, 0, 0, 12, 12, 7, 16, 3, 0, 0, 1, 14, 3, 0, 16, 4, 0, 0, 0, 0, 4, 10, 16, 6, 0, 0, 0, 0, 13, 16, 16, 9, 0, 0, 0, 0, 5,
  13, 1, 0, 0, 0, 0, 0, 11, 9, 0, 0, 0, 0, 0, 1, 16, 4, 0, 0, 0,
];
export const DIGITS_LOGITS = [-2.1381, -8.2228, -11.6143, -6.9408, -2.0501, -8.738, -13.3494, 7.9776, -3.8477, 5.1494];
export const DIGITS_PROBABILITIES = [0.00003818, 8.695e-8, 2.927e-9, 3.134e-7, 0.00004169, 5.194e-8, 5.162e-10, 0.9441, 0.000006908, 0.05581];
