// serve(): load the repository, build the app, listen (HTTP, and gRPC when asked for), and shut
// down gracefully on SIGTERM/SIGINT: readiness 503 at once, no new connections or calls, queued
// and running requests finish, workers end, exit 0 — or exit 1 if the drain timeout passes first.
import { resolve } from 'node:path';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { buildApp, defaultBodyLimit } from './app.js';
import { ModelRepository } from './repository/repository.js';
import { Metrics } from './metrics.js';
import { loggerOptions } from './log-format.js';
import { snapshot, startPolling, type Poller } from './repository/poll.js';
import type { ServeOptions } from './config.js';
import { startGrpc, type GrpcServer } from './grpc/server.js';

type Level = 'info' | 'warn' | 'error';

export interface Served {
  app: FastifyInstance;
  url: string;
  /** The gRPC service's bound port (--grpc-port, 0 for an ephemeral one); undefined when it is off. */
  grpcPort: number | undefined;
  shutdown(signal?: string): Promise<void>;
}

export interface ServeExtra {
  /** Test-only fault hooks in the workers. */
  faultHooks?: boolean;
  /** Where log lines go instead of stdout (tests capture them). */
  logStream?: { write(line: string): void };
}

export async function serve(opts: Readonly<ServeOptions>, extra: ServeExtra = {}): Promise<Served> {
  const modelsDir = resolve(opts.modelsDir);
  // the app's logger is not built yet: repository lines wait in a small pino-shaped shim, which
  // forwards to the app's logger once it exists (models log at serve time too)
  const early: { lines: [Level, object, string][]; log?: FastifyBaseLogger } = { lines: [] };
  const line = (level: Level) => (o: object, m: string) => (early.log ? early.log[level](o, m) : early.lines.push([level, o, m]));
  const { instances, intraOpThreads, instancesFrom, intraOpThreadsFrom, memoryBudget } = opts;
  const repository = new ModelRepository(modelsDir, { instances, intraOpThreads, instancesFrom, intraOpThreadsFrom, memoryBudget }, { info: line('info'), warn: line('warn'), error: line('error') });
  // metrics first: every scheduler and pool reports to them from the moment it loads
  const metrics = new Metrics(() => repository.allWithVariants());
  const loadOpts = { faultHooks: extra.faultHooks, isolation: opts.isolation, instrument: metrics.instrument, retire: metrics.retire };
  // poll: the snapshot is taken before the start-up load, so a change made during it is seen by the first poll
  const initial = opts.modelControl === 'poll' ? await snapshot(modelsDir) : undefined;
  // explicit with --load-model '*' (Triton's spelling): every model, as in the other modes
  if (opts.modelControl === 'explicit' && !opts.loadModels.includes('*')) await loadNamed(repository, opts.loadModels, loadOpts);
  else await repository.loadAll(loadOpts);
  const bodyLimit = opts.bodyLimit ?? defaultBodyLimit(repository);
  const logger = extra.logStream ? { level: opts.logLevel, stream: extra.logStream } : loggerOptions(opts.logLevel, process.stdout.isTTY === true);
  const timeouts = { requestTimeoutMs: opts.requestTimeoutMs, headersTimeoutMs: opts.headersTimeoutMs, keepAliveTimeoutMs: opts.keepAliveTimeoutMs };
  const app = await buildApp({ repository, bodyLimit, logLevel: opts.logLevel, logger, metrics, responseCompression: opts.responseCompression, adminToken: opts.adminToken, modelControl: opts.modelControl, security: opts, timeouts, maxBodyBytesInFlight: opts.maxBodyBytesInFlight });
  for (const [level, o, m] of early.lines) app.log[level](o, m);
  early.log = app.log;
  let poller: Poller | undefined;
  if (initial) {
    poller = startPolling(repository, initial, opts.repositoryPollSecs * 1000, { info: line('info'), warn: line('warn'), error: line('error') });
    // before the repository's own onClose (registered in buildApp): no load starts while it drains
    app.addHook('preClose', async () => poller?.stop());
  }

  // --backlog (default BACKLOG_DEFAULT, src/config.ts): Node's 511 overflows under overload
  await app.listen({ host: opts.host, port: opts.port, backlog: opts.backlog });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `http://${host}:${port}`;
  let grpc: GrpcServer | undefined;
  try {
    if (opts.grpcPort !== undefined) grpc = await startGrpc(app.serving, app.log, { host: opts.host, port: opts.grpcPort, maxMessageBytes: bodyLimit });
  } catch (err) {
    await app.close(); // the HTTP side is listening already: do not leave it (and the workers) behind
    throw err;
  }

  let closing: Promise<void> | undefined;
  const shutdown = (signal = 'shutdown'): Promise<void> => {
    closing ??= (async () => {
      app.serving.draining = true;
      for (const mv of repository.allWithVariants()) mv.scheduler?.flush();
      app.log.info({ signal, drainTimeoutMs: opts.drainTimeoutMs }, 'draining: finishing queued and running requests');
      // gRPC stops taking calls and waits for those in flight while HTTP does the same; the
      // repository (closed by app.close) lets queued requests finish before the workers end
      await Promise.all([grpc?.shutdown(), app.close()]);
      app.log.info('drained; workers ended');
    })();
    return closing;
  };
  return { app, url, grpcPort: grpc?.port, shutdown };
}

/**
 * Explicit model control's start: only the models named by --load-model. One that fails is
 * unavailable (readiness 503, as at a start in mode none) until a load request succeeds.
 */
async function loadNamed(repository: ModelRepository, names: readonly string[], loadOpts: Parameters<ModelRepository['useLoadOptions']>[0]): Promise<void> {
  repository.useLoadOptions(loadOpts);
  await Promise.all(
    names.map((name) =>
      repository.loadModel(name).catch((err: Error) => {
        repository.broken.push({ name, reason: err.message });
      }),
    ),
  );
}

/** Wires SIGTERM/SIGINT to a bounded graceful shutdown and exits with its outcome. */
export function exitOnSignals(served: Served, drainTimeoutMs: number): void {
  const onSignal = (signal: string): void => {
    const timer = setTimeout(() => {
      served.app.log.error({ drainTimeoutMs }, 'drain timeout passed; exiting with requests unfinished');
      process.exit(1);
    }, drainTimeoutMs);
    timer.unref();
    served.shutdown(signal).then(
      () => process.exit(0),
      (err: Error) => {
        served.app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
