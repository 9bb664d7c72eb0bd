// Server options: flags override environment, environment overrides defaults; validated once
// at start-up and frozen. A bad option is one line naming the option, the value and what is allowed.
import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';
import { OptionError } from './errors.js';

export interface ServeOptions {
  modelsDir: string;
  host: string;
  port: number;
  logLevel: string;
  adminToken: string | undefined;
  /** Bytes; undefined: derived from the loaded models (maxBatchSize rows of the largest input as JSON). */
  bodyLimit: number | undefined;
  drainTimeoutMs: number;
  /** Defaults for models whose config.json does not say. */
  instances: number;
  intraOpThreads: number;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Accepts "1048576", "512kb", "8mb", "1gb" (binary multiples). */
export function parseBytes(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(s.trim());
  if (!m) return undefined;
  const mult = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] ?? 'b').toLowerCase() as 'b'];
  return Math.floor(Number(m[1]) * mult);
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
        'log-level': { type: 'string' },
        'body-limit': { type: 'string' },
        'drain-timeout-ms': { type: 'string' },
        instances: { type: 'string' },
        'intra-op-threads': { type: 'string' },
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
  const cores = availableParallelism();
  return Object.freeze({
    modelsDir: pick('models', 'ONNX_SERVE_MODELS', './models').value,
    host: host.value,
    port: int('port', 'PORT', '8080', 0, 65535),
    logLevel: logLevel.value,
    adminToken: env.ONNX_SERVE_ADMIN_TOKEN || undefined,
    bodyLimit,
    drainTimeoutMs: int('drain-timeout-ms', 'ONNX_SERVE_DRAIN_TIMEOUT_MS', '30000', 0, 3_600_000),
    instances: int('instances', 'ONNX_SERVE_INSTANCES', String(defaultInstances(cores)), 1, 64),
    intraOpThreads: int('intra-op-threads', 'ONNX_SERVE_INTRA_OP_THREADS', '1', 1, 256),
  });
}

/**
 * Workers per model by default: the cores left after the main thread (which does HTTP, JSON and
 * batching), at most 2. On 2 cores that is 1: measured in BENCHMARKS.md, a second worker there
 * competes with the main thread and serves less, not more.
 */
export function defaultInstances(cores: number): number {
  return Math.max(1, Math.min(2, cores - 1));
}
