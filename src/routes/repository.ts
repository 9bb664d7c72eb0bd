// Triton's model repository extension under /v2 (registered in the /v2 scope: bodies arrive as
// bytes, errors are {"error": message}): POST repository/index lists every model on disk or
// serving with its state; POST repository/models/{m}/load loads or reloads one (atomically,
// optionally with parameters.config in place of config.json); .../unload takes one out. The index
// only reads: it is open. Load and unload change what serves: they need the admin token, and
// --model-control explicit or poll.
import type { FastifyInstance } from 'fastify';
import { ServeError } from '../errors.js';
import { adminOnly } from './admin-auth.js';
import { v2Error } from '../openapi.js';
import type { Serving } from '../app.js';

interface ModelParams {
  model_name: string;
}

/** A /v2 body as a JSON object; no body (or an empty one) is `{}`. */
export function jsonObject(body: unknown, what: string): Record<string, unknown> {
  if (body === undefined || body === null || (Buffer.isBuffer(body) && body.length === 0)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.isBuffer(body) ? body.toString('utf8') : String(body));
  } catch (err) {
    throw new ServeError('INVALID_JSON', `the body is not valid JSON: ${(err as Error).message}; send ${what}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ServeError('INVALID_JSON', `the body must be a JSON object: ${what}`);
  return parsed as Record<string, unknown>;
}

/** parameters.config of a load request: Triton's JSON text, or (a convenience) the object itself. */
export function configOverride(body: Record<string, unknown>): unknown {
  for (const k of Object.keys(body)) if (k !== 'parameters') throw new ServeError('INVALID_INPUT', `unknown key "${k}" in the load request; allowed: parameters`);
  const p = body.parameters;
  if (p === undefined) return undefined;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new ServeError('INVALID_INPUT', 'parameters must be a JSON object, e.g. {"parameters": {"config": "{\\"maxBatchSize\\": 8}"}}');
  for (const k of Object.keys(p)) {
    // Triton's "file:<path>" parameters carry model files in the request: never written here
    if (k !== 'config') throw new ServeError('INVALID_INPUT', `parameter "${k}" is not supported; a load reads the model's folder, with parameters.config in place of its config.json`);
  }
  const { config } = p as Record<string, unknown>;
  if (config === undefined) return undefined;
  if (typeof config === 'object' && config !== null && !Array.isArray(config)) return config;
  if (typeof config !== 'string') throw new ServeError('INVALID_INPUT', 'parameters.config must be a string holding the model\'s config.json as JSON');
  try {
    return JSON.parse(config);
  } catch (err) {
    throw new ServeError('INVALID_INPUT', `parameters.config is not valid JSON: ${(err as Error).message}`);
  }
}

/** Throws unless models may be loaded and unloaded now: not while draining, not in mode none (HTTP and gRPC). */
export function checkModelControl(serving: Pick<Serving, 'draining' | 'admin'>): void {
  if (serving.draining) throw new ServeError('SHUTTING_DOWN', 'the server is shutting down; models are no longer loaded or unloaded');
  if (serving.admin.modelControl === 'none') {
    throw new ServeError('MODEL_CONTROL_DISABLED', 'model control is off (--model-control none: every model loads once at start); start the server with --model-control explicit or poll to load and unload models at run time');
  }
}

const tags = ['model-repository'];
const adminHeaders = { type: 'object', properties: { authorization: { type: 'string', description: '`Bearer <admin token>`' } } };
const adminErrors = {
  400: v2Error('Bad request: an invalid model name, a bad body, model control off (--model-control none), or a load that failed (the message says why; what served before still serves).'),
  401: v2Error('No `Authorization: Bearer <token>`, or not the admin token (WWW-Authenticate: Bearer).'),
  403: v2Error('Admin routes are off: no admin token configured (--admin-token, --admin-token-file, ONNX_SERVE_ADMIN_TOKEN).'),
  404: v2Error('No model folder by that name.'),
  503: v2Error('The server is shutting down.'),
};
const indexEntry = {
  type: 'object',
  additionalProperties: true,
  properties: { name: { type: 'string' }, version: { type: 'string' }, state: { type: 'string' }, reason: { type: 'string' } },
};
const controlBody = (description: string) => ({ description, type: 'object', additionalProperties: true, properties: { parameters: { type: 'object', additionalProperties: true } } });

export async function repositoryRoutes(app: FastifyInstance): Promise<void> {
  const admin = adminOnly(() => app.serving.admin.token);
  const control = (): void => checkModelControl(app.serving);

  app.post(
    '/repository/index',
    {
      schema: {
        summary: 'Model repository index',
        description: 'Every model on disk or serving, one entry per version, loaded or not: `state` READY, LOADING, UNLOADING or UNAVAILABLE, with `reason` (`not loaded`, `unloaded`, a failed load\'s reason). `{"ready": true}` keeps the READY ones. Needs no token.',
        tags,
        response: { 200: { description: 'The index.', type: 'array', items: indexEntry }, 400: v2Error('A body that is not `{"ready"?: boolean}`.') },
      },
      config: { openapiBody: { description: '`{"ready"?: boolean}`, or no body', type: 'object', properties: { ready: { type: 'boolean' } } } },
    },
    async (request) => {
      const body = jsonObject(request.body, '{"ready": true} or {}');
      if (body.ready !== undefined && typeof body.ready !== 'boolean') throw new ServeError('INVALID_INPUT', `"ready" is ${JSON.stringify(body.ready)}; use true or false`);
      return app.serving.repository.index(body.ready === true);
    },
  );

  app.post<{ Params: ModelParams }>(
    '/repository/models/:model_name/load',
    {
      onRequest: admin,
      schema: {
        summary: 'Load or reload a model',
        description:
          'Loads every version of the model folder, with its config.json or `parameters.config` (config.json\'s content as a JSON string) in its place. A reload is atomic: the new versions load and warm up beside the serving ones, then take every new request; the old ones finish their queues and end. A failed load leaves what served (400 with the reason). Needs the admin token and --model-control explicit or poll.',
        tags,
        headers: adminHeaders,
        response: { 200: { description: 'Loaded: the versions now serving.', type: 'object', additionalProperties: true }, ...adminErrors },
      },
      config: { openapiBody: controlBody('`{"parameters"?: {"config"?: "<config.json as a JSON string>"}}`, or no body') },
    },
    async (request) => {
      control();
      const config = configOverride(jsonObject(request.body, '{"parameters": {"config": "..."}} or no body'));
      const versions = await app.serving.repository.loadModel(request.params.model_name, config === undefined ? {} : { config });
      return { name: request.params.model_name, versions: versions.map((mv) => ({ version: mv.version, state: mv.state })) };
    },
  );

  app.post<{ Params: ModelParams }>(
    '/repository/models/:model_name/unload',
    {
      onRequest: admin,
      schema: {
        summary: 'Unload a model',
        description: 'Takes the model out of service: readiness and listings drop it at once; its queued and running requests finish, then its workers end (the answer waits for that). Needs the admin token and --model-control explicit or poll.',
        tags,
        headers: adminHeaders,
        response: { 200: { description: 'Unloaded.', type: 'object', additionalProperties: true }, ...adminErrors },
      },
      config: { openapiBody: controlBody('`{"parameters"?: {"unload_dependents"?: boolean}}` (no model here has dependents), or no body') },
    },
    async (request) => {
      control();
      const body = jsonObject(request.body, '{} or no body');
      for (const k of Object.keys(body)) if (k !== 'parameters') throw new ServeError('INVALID_INPUT', `unknown key "${k}" in the unload request; allowed: parameters`);
      await app.serving.repository.unloadModel(request.params.model_name);
      return { name: request.params.model_name, state: 'UNAVAILABLE', reason: 'unloaded' };
    },
  );
}
