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
import { Metadata, Server, ServerCredentials, status, type ServerDuplexStream, type ServerUnaryCall, type UntypedServiceImplementation, type sendUnaryData } from '@grpc/grpc-js';
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
import type { GrpcInferRequest, GrpcInferResponse } from './infer.js';
import { CallScope, inferRunner } from './model-infer.js';

/** ModelStreamInferResponse: one answer of a stream, an inference response or the error of that request. */
interface GrpcStreamResponse {
  error_message: string;
  infer_response: Pick<GrpcInferResponse, 'model_name' | 'model_version' | 'id'> | null;
}

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

/** A call's deadline as ms since the epoch; Infinity for none. */
function deadlineOf(call: { getDeadline(): Date | number }): number {
  const d = call.getDeadline();
  return d instanceof Date ? d.getTime() : d;
}

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
    // channelz's per-call bookkeeping serves grpc's debugging service, which is not offered here
    'grpc.enable_channelz': 0,
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
    ModelInfer: modelInfer,
    ModelStreamInfer: modelStreamInfer,
  };
  for (const [method, message] of Object.entries(UNSUPPORTED)) {
    impl[method] = (_call: unknown, callback: sendUnaryData<unknown>) => callback({ code: status.UNIMPLEMENTED, details: message });
  }

  const infer = inferRunner(serving, log);
  /** Streams open now: each ends once its requests are answered when the server shuts down. */
  const streams = new Set<() => void>();

  /** A unary ModelInfer: the answer, with the batch size and Server-Timing in its trailers (as HTTP's headers). */
  function modelInfer(call: ServerUnaryCall<GrpcInferRequest | UndecodableRequest, GrpcInferResponse>, callback: sendUnaryData<GrpcInferResponse>): void {
    const scope = new CallScope(deadlineOf(call));
    call.on('cancelled', () => scope.cancel());
    infer(call.request, scope).then(
      (a) => {
        const trailer = new Metadata();
        trailer.set('x-batch-size', String(a.batchSize));
        trailer.set('server-timing', `queue;dur=${a.queueMs.toFixed(3)}, compute;dur=${a.computeMs.toFixed(3)}`);
        callback(null, a.response, trailer);
      },
      (err: unknown) => callback(toGrpcError(err)),
    );
  }

  /**
   * ModelStreamInfer (Triton's streaming extension, its clients' start_stream): every request
   * message is answered by one message, as it finishes, so answers may overtake each other (a
   * client matches them by id). A request that fails is answered with its error_message and the
   * stream goes on; the stream ends with OK once the client has finished sending and every
   * request is answered. The call's deadline bounds each of its requests.
   */
  function modelStreamInfer(call: ServerDuplexStream<GrpcInferRequest | UndecodableRequest, GrpcStreamResponse>): void {
    const scope = new CallScope(deadlineOf(call));
    let pending = 0;
    let ended = false; // the client finished sending
    let stopping = false; // the server is shutting down
    let closed = false;
    const finish = (): void => {
      if (closed || pending > 0 || !(ended || stopping)) return;
      closed = true;
      streams.delete(stop);
      // after a shutdown the client may have more to send: UNAVAILABLE says to send it elsewhere
      if (stopping && !ended) call.emit('error', { code: status.UNAVAILABLE, details: 'the server is shutting down; send the requests that got no answer to another replica' });
      else call.end();
    };
    // shutdown: the requests in flight are answered (later ones are refused SHUTTING_DOWN), then the call ends
    const stop = (): void => {
      stopping = true;
      finish();
    };
    streams.add(stop);
    call.on('cancelled', () => {
      scope.cancel();
      closed = true;
      streams.delete(stop);
    });
    call.on('error', () => streams.delete(stop));
    call.on('data', (request: GrpcInferRequest | UndecodableRequest) => {
      if (closed) return; // the call is over: the client has its status
      pending++;
      infer(request, scope)
        .then(
          (a) => ({ error_message: '', infer_response: a.response }),
          // the request's names and id come back with its error, so that a client can match them
          (err: unknown) => ({ error_message: toGrpcError(err).details, infer_response: request instanceof UndecodableRequest ? null : { model_name: request.model_name, model_version: request.model_version, id: request.id } }),
        )
        .then((message) => {
          pending--;
          if (!closed) call.write(message);
          finish();
        });
    });
    call.on('end', () => {
      ended = true;
      finish();
    });
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
    shutdown: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        for (const stop of [...streams]) stop();
      })),
  };
}
