// The KServe v2 gRPC service (inference.GRPCInferenceService) beside the HTTP server: the same
// repository, queues, batches, statistics and metrics as the /v2 routes, over HTTP/2. Off unless
// --grpc-port (or ONNX_SERVE_GRPC_PORT) is given. Triton's extensions (model configuration,
// repository index, load and unload, log settings) run the HTTP routes' code, the admin ones
// with the token in the call's `authorization` metadata (src/grpc/control.ts maps the messages).
// Shared memory answers UNIMPLEMENTED saying so; every other error is a catalogue error mapped to
// its status (src/grpc/status.ts), with its message (no absolute paths) and its code in trailing
// metadata.
import { performance } from 'node:perf_hooks';
import type { Socket } from 'node:net';
import type { Http2Server, ServerHttp2Session } from 'node:http2';
import { Metadata, Server, ServerCredentials, status, type ServerUnaryCall, type UntypedServiceImplementation, type sendUnaryData } from '@grpc/grpc-js';
import type { FastifyBaseLogger } from 'fastify';
import type { Serving } from '../app.js';
import { ServeError, scrubPaths } from '../errors.js';
import { BASE_VARIANT, UNRESOLVED } from '../metrics.js';
import { decodeInferInputs, planOutputs } from '../kserve/infer.js';
import { modelConfig, modelMetadata, serverMetadata } from '../kserve/metadata.js';
import { modelStats } from '../kserve/stats.js';
import { defaultDeadlineMs, enqueueDecoded, priorityLevel, resolveServing } from '../routes/inference.js';
import { checkAdmin } from '../routes/admin-auth.js';
import { checkModelControl } from '../routes/repository.js';
import { applyLogSettings } from '../routes/logging.js';
import { settingsOf } from '../log-settings.js';
import { adminHeaders, checkRepositoryName, loadOverride, logSettingsBody, logSettingsMessage, type GrpcRepositoryParameter, type GrpcSettingValue } from './control.js';
import { inferenceService, UndecodableRequest } from './proto.js';
import { ERROR_CODE_KEY, GRPC_STATUS } from './status.js';
import { grpcInferResponse, parseGrpcInfer, type GrpcInferRequest, type GrpcInferResponse } from './infer.js';

export interface GrpcServer {
  /** The port bound (the one asked for, or the ephemeral one for 0). */
  port: number;
  /** Stops accepting calls, lets the calls in flight finish, then closes: grpc's tryShutdown. */
  shutdown(): Promise<void>;
}

export interface GrpcOptions {
  host: string;
  port: number;
  /** The largest request message, bytes: the HTTP body limit, so both protocols take the same tensors. */
  maxMessageBytes: number;
}

interface GrpcError {
  code: status;
  details: string;
  metadata: Metadata;
}

const round3 = (ms: number): number => Math.round(ms * 1000) / 1000;

interface ControlRequest {
  repository_name: string;
  model_name: string;
  parameters: Record<string, GrpcRepositoryParameter>;
}

const UNSUPPORTED: Readonly<Record<string, string>> = Object.freeze({
  SystemSharedMemoryStatus: 'shared memory is not supported; send tensors in the request (raw_input_contents)',
  SystemSharedMemoryRegister: 'shared memory is not supported; send tensors in the request (raw_input_contents)',
  SystemSharedMemoryUnregister: 'shared memory is not supported; send tensors in the request (raw_input_contents)',
  CudaSharedMemoryStatus: 'CUDA shared memory is not supported; send tensors in the request (raw_input_contents)',
  CudaSharedMemoryRegister: 'CUDA shared memory is not supported; send tensors in the request (raw_input_contents)',
  CudaSharedMemoryUnregister: 'CUDA shared memory is not supported; send tensors in the request (raw_input_contents)',
});

/**
 * TCP_NODELAY and larger flow-control windows on every accepted connection; grpc-js has no
 * server option for either, so its HTTP/2 servers (a private field) get listeners. grpc-js sets
 * NODELAY on its clients' sockets but not on a server's, and a gRPC answer is several small
 * HTTP/2 frames (headers, data, trailers): with Nagle's algorithm on, the last ones wait for the
 * client's delayed ACK (~40 ms on Linux), and 16 calls on one connection ran at 194 calls/s with
 * a 52 ms median against 1 call at 2.2 ms.
 */
function tuneConnections(server: Server, maxMessageBytes: number, log: FastifyBaseLogger): void {
  const http2Servers = (server as unknown as { http2Servers?: Map<Http2Server, unknown> }).http2Servers;
  if (!(http2Servers instanceof Map) || http2Servers.size === 0) {
    // a grpc-js that keeps its servers elsewhere: calls still work, only slower
    log.warn('gRPC: cannot reach grpc-js\'s HTTP/2 servers to set TCP_NODELAY and flow-control windows; gRPC calls will be slower');
    return;
  }
  // HTTP/2's default flow-control windows are 64 KiB, per stream and per connection: a 600 KiB
  // image waits for ~10 WINDOW_UPDATE round trips, and calls sharing a connection wait for each
  // other's. A request up to the message limit fits in one stream's window; the connection takes
  // a few at once. (grpc-js sets windows only on its clients.)
  const stream = Math.min(Math.max(65_535, maxMessageBytes), MAX_WINDOW);
  const connection = Math.min(stream * 4, MAX_WINDOW);
  for (const h of http2Servers?.keys() ?? []) {
    h.on('connection', (socket: Socket) => socket.setNoDelay(true));
    h.on('session', (session: ServerHttp2Session) => {
      // a session closed at once must not throw out of an event listener (it would end the process)
      try {
        session.setLocalWindowSize(connection);
        session.settings({ initialWindowSize: stream });
      } catch (err) {
        log.debug({ err }, 'gRPC: flow-control windows not set on a closing session');
      }
    });
  }
}

/** HTTP/2's largest flow-control window (2^31 - 1). */
const MAX_WINDOW = 2 ** 31 - 1;

/** `host:port` as grpc binds it (an IPv6 literal in brackets). */
const address = (host: string, port: number): string => `${host.includes(':') ? `[${host}]` : host}:${port}`;

export async function startGrpc(serving: Serving, log: FastifyBaseLogger, opts: GrpcOptions): Promise<GrpcServer> {
  const server = new Server({
    'grpc.max_receive_message_length': opts.maxMessageBytes,
    'grpc.max_send_message_length': -1,
  });
  const root = serving.repository.root;

  /** A thrown error as a gRPC status: a catalogue error keeps its message; anything else stays in the log. */
  const toGrpcError = (err: unknown): GrpcError => {
    const metadata = new Metadata();
    if (err instanceof ServeError) {
      metadata.set(ERROR_CODE_KEY, err.code);
      for (const [k, v] of Object.entries(err.headers)) metadata.set(k, v);
      if (err.status >= 500) log.error({ err, code: err.code, protocol: 'grpc' }, 'request failed');
      return { code: GRPC_STATUS[err.code], details: scrubPaths(err.message, root), metadata };
    }
    log.error({ err, protocol: 'grpc' }, 'request failed');
    metadata.set(ERROR_CODE_KEY, 'INFERENCE_FAILED');
    return { code: status.INTERNAL, details: 'the server failed to answer this request; the error is in its log', metadata };
  };

  /** A unary handler from a function that returns (or throws) the answer; the call's metadata carries the admin token. */
  const unary = <Req, Res>(fn: (request: Req, metadata: Metadata) => Res | Promise<Res>) => (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    Promise.resolve()
      .then(() => fn(decoded(call.request), call.metadata))
      .then((res) => callback(null, res), (err: unknown) => callback(toGrpcError(err)));
  };

  /** The request, unless its bytes did not decode (INVALID_ARGUMENT). */
  const decoded = <Req>(request: Req | UndecodableRequest): Req => {
    if (request instanceof UndecodableRequest) throw new ServeError('INVALID_INPUT', request.message);
    return request;
  };

  const { repository } = serving;
  /** An admin call passes with the admin token (UNAUTHENTICATED without, PERMISSION_DENIED when none is configured). */
  const admin = (metadata: Metadata): void => checkAdmin(adminHeaders(metadata), serving.admin.token);
  /** Load and unload: the admin token first (as HTTP's hook runs before the body), then the mode. */
  const control = (req: ControlRequest, metadata: Metadata): void => {
    admin(metadata);
    checkModelControl(serving);
    checkRepositoryName(req.repository_name);
  };
  const impl: UntypedServiceImplementation = {
    ServerLive: unary(() => ({ live: true })),
    ServerReady: unary(() => ({ ready: !serving.draining && repository.allReady() })),
    ModelReady: unary((req: { name: string; version: string }) => {
      let found;
      try {
        found = repository.find(req.name, req.version || undefined);
      } catch (err) {
        if (err instanceof ServeError && err.code === 'MODEL_NOT_READY') return { ready: false };
        throw err;
      }
      return { ready: found[found.length - 1]!.ready && !serving.draining };
    }),
    ServerMetadata: unary(() => serverMetadata()),
    // extension fields (batching, variants) are not in the message: the serializer leaves them out
    ModelMetadata: unary((req: { name: string; version: string }) => modelMetadata(repository, req.name, req.version || undefined)),
    ModelStatistics: unary((req: { name: string; version: string }) => {
      if (!req.name) {
        if (req.version) throw new ServeError('INVALID_INPUT', 'version is set but name is empty; name the model whose version you ask for');
        return { model_stats: repository.all().map(modelStats) };
      }
      return { model_stats: repository.find(req.name, req.version || undefined).map(modelStats) };
    }),
    // the JSON of GET …/config has the proto's field names and enum names: the serializer takes
    // it as it is (and leaves out what the message does not declare)
    ModelConfig: unary((req: { name: string; version: string }) => {
      if (!req.name) throw new ServeError('INVALID_INPUT', 'name is empty; name the model whose configuration you ask for');
      return { config: modelConfig(repository, req.name, req.version || undefined) };
    }),
    RepositoryIndex: unary(async (req: { repository_name: string; ready: boolean }) => {
      checkRepositoryName(req.repository_name);
      return { models: await repository.index(req.ready) };
    }),
    RepositoryModelLoad: unary(async (req: ControlRequest, metadata) => {
      control(req, metadata);
      const config = loadOverride(req.parameters);
      await repository.loadModel(req.model_name, config === undefined ? {} : { config });
      return {};
    }),
    // parameters (Triton's unload_dependents) change nothing: no model here has dependents
    RepositoryModelUnload: unary(async (req: ControlRequest, metadata) => {
      control(req, metadata);
      await repository.unloadModel(req.model_name);
      return {};
    }),
    // no settings reads them (open, as GET /v2/logging); any setting changes them (admin)
    LogSettings: unary((req: { settings: Record<string, GrpcSettingValue> }, metadata) => {
      if (Object.keys(req.settings).length === 0) return logSettingsMessage(settingsOf(log.level));
      admin(metadata);
      return logSettingsMessage(applyLogSettings(log, logSettingsBody(req.settings)));
    }),
    ModelInfer: (call: ServerUnaryCall<GrpcInferRequest, GrpcInferResponse>, callback: sendUnaryData<GrpcInferResponse>) => {
      void modelInfer(call, callback);
    },
  };
  for (const [method, message] of Object.entries(UNSUPPORTED)) {
    impl[method] = (_call: unknown, callback: sendUnaryData<unknown>) => callback({ code: status.UNIMPLEMENTED, details: message });
  }

  /** One inference call, counted, timed and logged as an HTTP one is (protocol "grpc"). */
  async function modelInfer(call: ServerUnaryCall<GrpcInferRequest, GrpcInferResponse>, callback: sendUnaryData<GrpcInferResponse>): Promise<void> {
    const started = performance.now();
    const rec = { model: UNRESOLVED, version: UNRESOLVED, variant: BASE_VARIANT, batchSize: 0, queueMs: 0, computeMs: 0 };
    let cancel: (() => void) | undefined;
    let cancelled = false;
    const deadline = call.getDeadline();
    const deadlineAt = deadline instanceof Date ? deadline.getTime() : deadline;
    // a client that goes away while queued leaves the queue; an expired deadline is left to the
    // scheduler's own timer (the same instant): it counts as a timeout, as over HTTP
    call.on('cancelled', () => {
      cancelled = true;
      if (!(Number.isFinite(deadlineAt) && Date.now() >= deadlineAt - 1)) cancel?.();
    });
    let statusCode = 200;
    try {
      const req = decoded(call.request);
      if (!req.model_name) throw new ServeError('INVALID_INPUT', 'model_name is empty; name the model to run');
      // the base first: an unknown model is NOT_FOUND whatever the request holds
      let mv = resolveServing(serving, req.model_name, req.model_version || undefined);
      Object.assign(rec, { model: mv.name, version: mv.version });
      const parsed = parseGrpcInfer(req);
      if (parsed.request.variant !== undefined) {
        Object.assign(rec, { model: UNRESOLVED, version: UNRESOLVED });
        mv = resolveServing(serving, req.model_name, mv.version, parsed.request.variant);
        Object.assign(rec, { model: mv.name, version: mv.version, variant: mv.variant ?? BASE_VARIANT });
      }
      const { request: v2, inputs } = decodeInferInputs(parsed, mv.signature!.inputs, mv.batching!.maxBatchSize);
      const plan = planOutputs(v2, mv.signature!.outputs);
      // the call's deadline is the request's own, as x-request-timeout-ms is over HTTP; else the
      // parameters' timeout or the model's, counted from the call's arrival
      const asks = v2.timeoutUs !== undefined ? { timeoutMs: Math.max(1, Math.ceil(v2.timeoutUs / 1000)) } : {};
      const timeoutMs = Number.isFinite(deadlineAt)
        ? Math.max(0.001, deadlineAt - Date.now())
        : Math.max(0.001, defaultDeadlineMs(mv, asks) - (performance.now() - started));
      const result = await enqueueDecoded(mv, inputs, {
        timeoutMs,
        level: priorityLevel(v2.priority, mv),
        onCancel: (c) => {
          cancel = c;
          if (cancelled) c();
        },
      });
      cancel = undefined;
      Object.assign(rec, { batchSize: result.batchSize, queueMs: result.queueMs, computeMs: result.computeMs });
      const trailer = new Metadata();
      trailer.set('x-batch-size', String(result.batchSize));
      trailer.set('server-timing', `queue;dur=${result.queueMs.toFixed(3)}, compute;dur=${result.computeMs.toFixed(3)}`);
      callback(null, grpcInferResponse(mv, v2.id, plan, result.outputs), trailer);
    } catch (err) {
      const e = toGrpcError(err);
      statusCode = err instanceof ServeError ? err.status : 500;
      callback(e);
    } finally {
      const ms = performance.now() - started;
      serving.metrics.forVersion(rec.model, rec.version, rec.variant).request(statusCode, ms / 1000, 'grpc');
      log.info(
        { protocol: 'grpc', model: rec.model, version: rec.version, ...(rec.variant !== BASE_VARIANT ? { variant: rec.variant } : {}), status: statusCode, batchSize: rec.batchSize, queueMs: round3(rec.queueMs), computeMs: round3(rec.computeMs), ms: round3(ms) },
        'inference',
      );
    }
  }

  server.addService(inferenceService(), impl);
  const port = await new Promise<number>((resolve, reject) => {
    const where = address(opts.host, opts.port);
    server.bindAsync(where, ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(new Error(`gRPC: cannot listen on ${where} (${err.message}); free the port or pick another --grpc-port`)) : resolve(bound),
    );
  });
  tuneConnections(server, opts.maxMessageBytes, log);
  let closing: Promise<void> | undefined;
  return {
    port,
    shutdown: () => (closing ??= new Promise<void>((resolve) => server.tryShutdown(() => resolve()))),
  };
}
