// Server options: flags override environment, environment overrides defaults; validated once
// at start-up and frozen. A bad option is one line naming the option, the value and what is allowed.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { OptionError } from './errors.js';
import { MODEL_NAME } from './repository/scan.js';
import type { Isolation } from './pool/protocol.js';

export interface ServeOptions {
  modelsDir: string;
  host: string;
  port: number;
  /** The gRPC service's port (same host); undefined: no gRPC server. 0 binds an ephemeral port. */
  grpcPort: number | undefined;
  logLevel: string;
  /** The bearer token of the admin routes (src/routes/admin-auth.ts); undefined: those routes answer 403. */
  adminToken: string | undefined;
  /** Triton's model control modes: none loads the folder once; explicit loads on request; poll also follows the folder. */
  modelControl: ModelControl;
  /** Where the models' sessions run: worker threads, or child processes that a native crash ends alone. */
  isolation: Isolation;
  /** poll: seconds between scans of the folder. */
  repositoryPollSecs: number;
  /** explicit: the models loaded at start (--load-model, repeatable). */
  loadModels: readonly string[];
  /** Bytes; undefined: derived from the loaded models (maxBatchSize rows of the largest input as JSON). */
  bodyLimit: number | undefined;
  drainTimeoutMs: number;
  /** Connections the kernel queues before the server accepts them (listen's backlog; the kernel caps it at net.core.somaxconn). */
  backlog: number;
  /** Slow-client limits (src/http-server.ts): whole request, headers, idle kept-alive socket. */
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** Defaults for models whose config.json does not say; undefined ("auto"): chosen per model version (src/repository/sizing.ts). */
  instances: number | undefined;
  intraOpThreads: number | undefined;
  /** Where each was given (`--instances`, `ONNX_SERVE_INSTANCES`…), for /v1/models' sizing reason. */
  instancesFrom: string | undefined;
  intraOpThreadsFrom: string | undefined;
  /** Bytes the models' copies of their weights may take (auto sizing stays within it). */
  memoryBudget: number;
  /** Compress answers when Accept-Encoding asks (gzip, deflate; answers of 1 KiB and up); off by default. */
  responseCompression: boolean;

  /** Bytes of request bodies being read and held at once; past it requests are refused 503 SERVER_BUSY before their bodies. */
  maxBodyBytesInFlight: number;

  // Hostile clients: CORS and a per-client rate limit, both off by default
  /** Origins CORS allows (--cors-origin, repeatable or comma-separated; "*" for any); empty: CORS off. */
  corsOrigins: readonly string[];
  /** At most `max` requests per client IP per `windowMs` (--rate-limit, --rate-limit-window-ms); undefined: no limit. */
  rateLimit: { max: number; windowMs: number } | undefined;
}

/**
 * Answer compression is opt-in: gzip runs on the main thread, about 0.45 ms (level 1) per 19 KB
 * answer of floats as JSON, which saves only about half of it; measured on the heavy MLP at
 * c=64, asking for gzip (level 6) cut the requests served by 30-60 % (README.md, Compression).
 */
export const RESPONSE_COMPRESSION_DEFAULT = 'off';

/**
 * 256 MiB of request bodies at once: 32 of the largest default body (8 MiB), a few thousand
 * ordinary ones; what a machine of a few GiB can hold beside its models. Without a bound, 40
 * slow clients each sending 7.9 MB of a declared 8 MB body held 311 MiB until their timeout.
 */
export const MAX_BODY_BYTES_IN_FLIGHT_DEFAULT = '256mb';
/** Set after measuring what the process boundary costs (README, "Isolation"). */
export const ISOLATION_DEFAULT: Isolation = 'thread';
export const ISOLATIONS: readonly Isolation[] = ['thread', 'process'];
export type ModelControl = 'none' | 'explicit' | 'poll';
export const MODEL_CONTROL_MODES: readonly ModelControl[] = ['none', 'explicit', 'poll'];

/**
 * Node's default accept queue (511) overflows when hundreds of clients connect at once under
 * overload: the kernel drops their SYNs and each retries a whole second later (measured: 169
 * drops and a 1 s p99 in the first second of a 2× overload step).
 */
export const BACKLOG_DEFAULT = 4096;
/**
 * 30 s for a whole request: an 8 MiB body (the smallest default body limit) passes on a link of
 * 2.3 Mbit/s or more, and a slow upload begun before SIGTERM is cut within the default drain
 * timeout (also 30 s). Headers are a few hundred bytes: 10 s covers any link that can upload a
 * body at all. The keep-alive timeout (fastify's default) is longer than the usual proxies' idle
 * timeout (60 s by default for AWS's load balancers and nginx's upstream keepalive_timeout), so
 * the proxy, not the server, closes an idle connection: never one it is about to reuse.
 */
export const REQUEST_TIMEOUT_MS_DEFAULT = 30_000;
export const HEADERS_TIMEOUT_MS_DEFAULT = 10_000;
export const KEEP_ALIVE_TIMEOUT_MS_DEFAULT = 72_000;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Accepts "1048576", "512kb", "8mb", "1gb", "512MiB", "4GiB" (binary multiples, either spelling). */
export function parseBytes(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)?$/i.exec(s.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? 'b').toLowerCase().replace('ib', 'b');
  const mult = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[unit as 'b'];
  return Math.floor(Number(m[1]) * mult);
}

/**
 * The default memory budget's share of the machine: the rest is for what is not a copy of the
 * weights — the main thread's heap (request bodies, JSON), each worker's Node.js runtime, the
 * activations of running batches, a session's load-time peak, and the other processes.
 */
export const MEMORY_BUDGET_SHARE = 0.5;

/** The smaller of the machine's memory and the cgroup's limit (v2 memory.max, v1 limit_in_bytes) when it is a number. */
export function machineMemory(read: (path: string) => string | undefined = readText): number {
  let mem = totalmem();
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    const v = read(file)?.trim();
    if (v && /^\d+$/.test(v) && Number(v) > 0) mem = Math.min(mem, Number(v));
  }
  return mem;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export function parseServeOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): Readonly<ServeOptions> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        models: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        'grpc-port': { type: 'string' },
        'log-level': { type: 'string' },
        'body-limit': { type: 'string' },
        'drain-timeout-ms': { type: 'string' },
        backlog: { type: 'string' },
        'max-body-bytes-in-flight': { type: 'string' },
        'request-timeout-ms': { type: 'string' },
        'headers-timeout-ms': { type: 'string' },
        'keep-alive-timeout-ms': { type: 'string' },
        instances: { type: 'string' },
        'intra-op-threads': { type: 'string' },
        'memory-budget': { type: 'string' },
        'response-compression': { type: 'string' },
        'admin-token': { type: 'string' },
        'admin-token-file': { type: 'string' },
        'model-control': { type: 'string' },
        isolation: { type: 'string' },
        'repository-poll-secs': { type: 'string' },
        'load-model': { type: 'string', multiple: true },
        // hostile clients
        'cors-origin': { type: 'string', multiple: true },
        'rate-limit': { type: 'string' },
        'rate-limit-window-ms': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new OptionError((err as Error).message);
  }
  const pick = (flag: string, envName: string | undefined, dflt: string): { value: string; from: string } => {
    const v = (values as Record<string, string | undefined>)[flag];
    if (v !== undefined) return { value: v, from: `--${flag}` };
    if (envName && env[envName] !== undefined && env[envName] !== '') return { value: env[envName]!, from: envName };
    return { value: dflt, from: `--${flag}` };
  };
  const int = (flag: string, envName: string | undefined, dflt: string, min: number, max: number): number => {
    const { value, from } = pick(flag, envName, dflt);
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) throw new OptionError(`${from}: "${value}" is not allowed; use an integer from ${min} to ${max}`);
    return n;
  };
  const logLevel = pick('log-level', 'LOG_LEVEL', 'info');
  if (!LOG_LEVELS.includes(logLevel.value)) throw new OptionError(`${logLevel.from}: "${logLevel.value}" is not allowed; use one of ${LOG_LEVELS.join(', ')}`);
  const host = pick('host', 'HOST', '127.0.0.1');
  if (!host.value) throw new OptionError(`${host.from}: "" is not allowed; use a host name or IP address`);
  let bodyLimit: number | undefined;
  const bl = pick('body-limit', 'ONNX_SERVE_BODY_LIMIT', '');
  if (bl.value !== '') {
    bodyLimit = parseBytes(bl.value);
    if (bodyLimit === undefined || bodyLimit < 1024) throw new OptionError(`${bl.from}: "${bl.value}" is not allowed; use a size of at least 1kb, e.g. 1048576, 512kb or 8mb`);
  }
  const inFlight = pick('max-body-bytes-in-flight', 'ONNX_SERVE_MAX_BODY_BYTES_IN_FLIGHT', MAX_BODY_BYTES_IN_FLIGHT_DEFAULT);
  const maxBodyBytesInFlight = parseBytes(inFlight.value);
  if (maxBodyBytesInFlight === undefined || maxBodyBytesInFlight < 1024) throw new OptionError(`${inFlight.from}: "${inFlight.value}" is not allowed; use a size of at least 1kb, e.g. 268435456, 64mb or 1gb`);
  // "auto" (the default) leaves the choice to each model version's sizing
  const orAuto = (flag: string, envName: string, min: number, max: number): { value: number | undefined; from: string | undefined } => {
    const { value, from } = pick(flag, envName, 'auto');
    if (value === 'auto') return { value: undefined, from: undefined };
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) throw new OptionError(`${from}: "${value}" is not allowed; use "auto" or an integer from ${min} to ${max}`);
    return { value: n, from };
  };
  const instances = orAuto('instances', 'ONNX_SERVE_INSTANCES', 1, 64);
  const threads = orAuto('intra-op-threads', 'ONNX_SERVE_INTRA_OP_THREADS', 1, 256);
  const mb = pick('memory-budget', 'ONNX_SERVE_MEMORY_BUDGET', '');
  let memoryBudget = Math.floor(machineMemory() * MEMORY_BUDGET_SHARE);
  if (mb.value !== '') {
    const n = parseBytes(mb.value);
    if (n === undefined || n < 1024 ** 2) throw new OptionError(`${mb.from}: "${mb.value}" is not allowed; use a size of at least 1MiB, e.g. 4GiB, 512MiB or 2gb (binary multiples)`);
    memoryBudget = n;
  }
  const rc = pick('response-compression', 'ONNX_SERVE_RESPONSE_COMPRESSION', RESPONSE_COMPRESSION_DEFAULT);
  if (rc.value !== 'on' && rc.value !== 'off') throw new OptionError(`${rc.from}: "${rc.value}" is not allowed; use on or off`);
  const mode = pick('model-control', 'ONNX_SERVE_MODEL_CONTROL', 'none');
  if (!MODEL_CONTROL_MODES.includes(mode.value as ModelControl)) throw new OptionError(`${mode.from}: "${mode.value}" is not allowed; use one of ${MODEL_CONTROL_MODES.join(', ')}`);
  const isolation = pick('isolation', 'ONNX_SERVE_ISOLATION', ISOLATION_DEFAULT);
  if (!ISOLATIONS.includes(isolation.value as Isolation)) throw new OptionError(`${isolation.from}: "${isolation.value}" is not allowed; use one of ${ISOLATIONS.join(', ')}`);
  const loadModels = (values as { 'load-model'?: string[] })['load-model'] ?? [];
  if (loadModels.length > 0 && mode.value !== 'explicit') {
    throw new OptionError(`--load-model "${loadModels[0]}" is allowed only with --model-control explicit (the other modes load every model at start)`);
  }
  if (loadModels.includes('*') && loadModels.length > 1) throw new OptionError('--load-model "*" (every model) must be the only --load-model');
  const badName = loadModels.find((n) => n !== '*' && !MODEL_NAME.test(n));
  if (badName !== undefined) throw new OptionError(`--load-model: "${badName}" is not allowed; name a model folder (letters, digits, "_", "." and "-", starting with a letter or digit)`);
  // off unless asked for: one more listening port is one more thing to secure
  const grpc = pick('grpc-port', 'ONNX_SERVE_GRPC_PORT', '');
  const port = int('port', 'PORT', '8080', 0, 65535);
  let grpcPort: number | undefined;
  if (grpc.value !== '') {
    grpcPort = int('grpc-port', 'ONNX_SERVE_GRPC_PORT', '', 0, 65535);
    if (grpcPort === port && port !== 0) throw new OptionError(`${grpc.from}: "${grpc.value}" is not allowed; it is the HTTP port (--port), use another`);
  }
  const requestTimeoutMs = int('request-timeout-ms', 'ONNX_SERVE_REQUEST_TIMEOUT_MS', String(REQUEST_TIMEOUT_MS_DEFAULT), 100, 3_600_000);
  const headersTimeoutMs = int('headers-timeout-ms', 'ONNX_SERVE_HEADERS_TIMEOUT_MS', String(HEADERS_TIMEOUT_MS_DEFAULT), 100, 3_600_000);
  // Node refuses a headers timeout longer than the request's, which includes the headers
  if (headersTimeoutMs > requestTimeoutMs) {
    const from = pick('headers-timeout-ms', 'ONNX_SERVE_HEADERS_TIMEOUT_MS', '').from;
    throw new OptionError(`${from}: "${headersTimeoutMs}" is not allowed; use at most the request timeout (${requestTimeoutMs} ms), which includes the headers`);
  }
  return Object.freeze({
    modelsDir: pick('models', 'ONNX_SERVE_MODELS', './models').value,
    host: host.value,
    port,
    grpcPort,
    logLevel: logLevel.value,
    adminToken: adminToken(values as Record<string, string | undefined>, env),
    modelControl: mode.value as ModelControl,
    isolation: isolation.value as Isolation,
    repositoryPollSecs: int('repository-poll-secs', 'ONNX_SERVE_REPOSITORY_POLL_SECS', '15', 1, 86_400),
    loadModels: Object.freeze([...loadModels]),
    bodyLimit,
    drainTimeoutMs: int('drain-timeout-ms', 'ONNX_SERVE_DRAIN_TIMEOUT_MS', '30000', 0, 3_600_000),
    backlog: int('backlog', 'ONNX_SERVE_BACKLOG', String(BACKLOG_DEFAULT), 1, 65_535),
    maxBodyBytesInFlight,
    requestTimeoutMs,
    headersTimeoutMs,
    keepAliveTimeoutMs: int('keep-alive-timeout-ms', 'ONNX_SERVE_KEEP_ALIVE_TIMEOUT_MS', String(KEEP_ALIVE_TIMEOUT_MS_DEFAULT), 100, 3_600_000),
    instances: instances.value,
    intraOpThreads: threads.value,
    instancesFrom: instances.from,
    intraOpThreadsFrom: threads.from,
    memoryBudget,
    responseCompression: rc.value === 'on',
    ...hostileClientOptions(values as Record<string, string | string[] | undefined>, env, int),
  });
}

/** A browser's Origin: scheme://host[:port], nothing after it. */
const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[^\s/?#]+$/i;

/**
 * CORS and the rate limit: --cors-origin (repeatable, or comma-separated; ONNX_SERVE_CORS_ORIGIN),
 * --rate-limit N (ONNX_SERVE_RATE_LIMIT; 0 or absent: off) per --rate-limit-window-ms
 * (ONNX_SERVE_RATE_LIMIT_WINDOW_MS, default 1000).
 */
function hostileClientOptions(
  values: Record<string, string | string[] | undefined>,
  env: NodeJS.ProcessEnv,
  int: (flag: string, envName: string | undefined, dflt: string, min: number, max: number) => number,
): Pick<ServeOptions, 'corsOrigins' | 'rateLimit'> {
  const given = values['cors-origin'] as string[] | undefined;
  const from = given ? '--cors-origin' : 'ONNX_SERVE_CORS_ORIGIN';
  const origins = (given ?? [env.ONNX_SERVE_CORS_ORIGIN ?? '']).flatMap((v) => v.split(',')).map((o) => o.trim()).filter(Boolean);
  const bad = origins.find((o) => o !== '*' && !ORIGIN.test(o));
  if (bad !== undefined) throw new OptionError(`${from}: "${bad}" is not allowed; use an origin such as https://app.example.com or http://localhost:3000 (no path), or "*" for any`);
  const max = int('rate-limit', 'ONNX_SERVE_RATE_LIMIT', '0', 0, 1_000_000_000);
  const windowMs = int('rate-limit-window-ms', 'ONNX_SERVE_RATE_LIMIT_WINDOW_MS', '1000', 1, 86_400_000);
  return { corsOrigins: Object.freeze([...new Set(origins)]), rateLimit: max > 0 ? Object.freeze({ max, windowMs }) : undefined };
}

/**
 * The admin token: --admin-token, --admin-token-file (a Kubernetes Secret mounted as a file; one
 * trailing newline trimmed), else ONNX_SERVE_ADMIN_TOKEN or ONNX_SERVE_ADMIN_TOKEN_FILE. A file
 * that cannot be read, or holds no token, stops the start: the operator asked for admin routes.
 */
function adminToken(values: Record<string, string | undefined>, env: NodeJS.ProcessEnv): string | undefined {
  const flag = values['admin-token'];
  const flagFile = values['admin-token-file'];
  if (flag !== undefined && flagFile !== undefined) throw new OptionError('--admin-token and --admin-token-file are both given; give one');
  if (flag !== undefined) {
    if (flag === '') throw new OptionError('--admin-token: "" is not allowed; give a token (or leave the flag out to keep the admin routes off)');
    return flag;
  }
  const file = flagFile !== undefined ? { path: flagFile, from: '--admin-token-file' } : env.ONNX_SERVE_ADMIN_TOKEN_FILE ? { path: env.ONNX_SERVE_ADMIN_TOKEN_FILE, from: 'ONNX_SERVE_ADMIN_TOKEN_FILE' } : undefined;
  if (file === undefined || (flagFile === undefined && env.ONNX_SERVE_ADMIN_TOKEN)) return env.ONNX_SERVE_ADMIN_TOKEN || undefined;
  let text: string;
  try {
    text = readFileSync(file.path, 'utf8');
  } catch (err) {
    throw new OptionError(`${file.from}: "${file.path}" cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); give a readable file holding the token`);
  }
  const token = text.replace(/\r?\n$/, '');
  if (token.trim() === '') throw new OptionError(`${file.from}: "${file.path}" holds no token; write the token into it`);
  if (/[\r\n]/.test(token)) throw new OptionError(`${file.from}: "${file.path}" holds more than one line; write the token alone on one line`);
  return token;
}
