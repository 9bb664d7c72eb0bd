// `npm run load` flags, parsed once and checked: every problem is a LoadError (exit 2) whose one
// line names the flag, the value and what is allowed. Pure.
import { parseArgs } from 'node:util';
import { PROTOCOLS, type Protocol } from '../lib/payload.js';
import { parseDuration, SCENARIOS, type ScenarioName } from '../lib/scenarios.js';
import { LoadError, type SweepOptions, type TargetInfo } from './types.js';

/** The target (url, model, protocol, version, variant, rows per request) and how to load it. */
export interface LoadOptions extends TargetInfo {
  /** Open loop (a rate schedule) or closed loop (C clients). */
  mode: 'open' | 'closed';
  scenario: ScenarioName;
  rate: number;
  maxRate?: number;
  spikeFactor?: number;
  spikeDuration?: string;
  concurrency: number;
  duration: string;
  durationMs: number;
  timeoutMs: number;
  maxRequests: number;
  maxInFlight: number;
  /** Thresholds, as in the k6 scripts: p99 latency and error rate. */
  p99Ms: number;
  maxErrorRate: number;
  sweep?: SweepOptions;
  out?: string;
  allowRemote: boolean;
  quiet: boolean;
}

export const USAGE = `usage: npm run load -- --model NAME [--url http://127.0.0.1:8080]
         [--rate R | --concurrency C] [--duration 30s] [--protocol ${PROTOCOLS.join('|')}]
         [--scenario ${SCENARIOS.join('|')}] [--max-rate R] [--spike-factor F] [--spike-duration D]
         [--sweep [--sweep-start R] [--sweep-factor F] [--sweep-max-rate R] [--step-duration D] [--refine N]]
         [--batch N] [--variant V] [--model-version V] [--timeout 10s] [--max-requests N]
         [--max-in-flight N] [--p99 MS] [--max-error-rate X] [--out report.json] [--allow-remote] [--quiet]`;

const FLAGS = {
  url: { type: 'string', default: 'http://127.0.0.1:8080' },
  model: { type: 'string' },
  protocol: { type: 'string', default: 'v1' },
  'model-version': { type: 'string' },
  variant: { type: 'string' },
  batch: { type: 'string', default: '1' },
  rate: { type: 'string' },
  concurrency: { type: 'string' },
  scenario: { type: 'string', default: 'constant' },
  'max-rate': { type: 'string' },
  'spike-factor': { type: 'string' },
  'spike-duration': { type: 'string' },
  duration: { type: 'string', default: '30s' },
  timeout: { type: 'string', default: '10s' },
  'max-requests': { type: 'string', default: '1000000' },
  'max-in-flight': { type: 'string', default: '1000' },
  p99: { type: 'string', default: '500' },
  'max-error-rate': { type: 'string' },
  sweep: { type: 'boolean', default: false },
  'sweep-start': { type: 'string', default: '10' },
  'sweep-factor': { type: 'string', default: '2' },
  'sweep-max-rate': { type: 'string', default: '50000' },
  'step-duration': { type: 'string', default: '10s' },
  refine: { type: 'string', default: '3' },
  out: { type: 'string' },
  'allow-remote': { type: 'boolean', default: false },
  quiet: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

/** A number flag within [min, max]; shared with the bench's soak flags. */
export function num(flag: string, text: string, min: number, max = Infinity, integer = false): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    const range = max === Infinity ? `≥ ${min}` : `${min}..${max}`;
    throw new LoadError(`--${flag} "${text}" is not allowed; use ${integer ? 'an integer' : 'a number'} ${range}`, 2);
  }
  return n;
}

function duration(flag: string, text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new LoadError(`--${flag}: ${(err as Error).message}`, 2);
  }
}

export function oneOf<T extends string>(flag: string, text: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(text)) throw new LoadError(`--${flag} "${text}" is not allowed; use one of ${allowed.join(', ')}`, 2);
  return text as T;
}

/** Parses argv (after `--`); `help` is returned as undefined so the caller prints USAGE. */
export function parseLoadOptions(argv: readonly string[]): LoadOptions | undefined {
  let values: { [K in keyof typeof FLAGS]?: (typeof FLAGS)[K]['type'] extends 'boolean' ? boolean : string };
  try {
    ({ values } = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new LoadError(`${(err as Error).message.split('\n')[0]} (see --help)`, 2);
  }
  if (values.help) return undefined;
  const v = values as Required<typeof values>;
  if (!v.model) throw new LoadError('--model is required: the name of a model the server serves (GET /v1/models lists them)', 2);
  if (v.rate !== undefined && v.concurrency !== undefined) throw new LoadError('--rate (open loop) and --concurrency (closed loop) exclude each other; give one', 2);
  const closed = v.concurrency !== undefined;
  if (closed && (v.sweep || v.scenario !== 'constant')) throw new LoadError('--sweep and --scenario need the open loop (--rate), not --concurrency', 2);
  const scenario = oneOf('scenario', v.scenario, SCENARIOS as ScenarioName[]);
  const opts: LoadOptions = {
    url: v.url,
    model: v.model,
    protocol: oneOf('protocol', v.protocol, PROTOCOLS as Protocol[]),
    ...(v['model-version'] !== undefined ? { version: v['model-version'] } : {}),
    ...(v.variant !== undefined ? { variant: v.variant } : {}),
    batch: num('batch', v.batch, 1, 65_536, true),
    mode: closed ? 'closed' : 'open',
    scenario,
    rate: v.rate !== undefined ? num('rate', v.rate, 0.01, 1_000_000) : 50,
    // as in the k6 scripts: a ramp ends at 10 × the start rate unless told
    ...(v['max-rate'] !== undefined ? { maxRate: num('max-rate', v['max-rate'], 0.01, 1_000_000) } : { maxRate: 10 * (v.rate !== undefined ? Number(v.rate) : 50) }),
    ...(v['spike-factor'] !== undefined ? { spikeFactor: num('spike-factor', v['spike-factor'], 1, 1000) } : {}),
    ...(v['spike-duration'] !== undefined ? { spikeDuration: v['spike-duration'] } : {}),
    concurrency: closed ? num('concurrency', v.concurrency, 1, 10_000, true) : 0,
    duration: v.duration,
    durationMs: duration('duration', v.duration),
    timeoutMs: duration('timeout', v.timeout),
    maxRequests: num('max-requests', v['max-requests'], 1, 100_000_000, true),
    maxInFlight: num('max-in-flight', v['max-in-flight'], 1, 100_000, true),
    p99Ms: num('p99', v.p99, 0.001),
    // a sweep stops at the first error unless told otherwise; a single run allows 1 % (k6 scripts' default)
    maxErrorRate: v['max-error-rate'] !== undefined ? num('max-error-rate', v['max-error-rate'], 0, 1) : v.sweep ? 0 : 0.01,
    ...(v.out !== undefined ? { out: v.out } : {}),
    allowRemote: v['allow-remote'],
    quiet: v.quiet,
  };
  if (opts.spikeDuration !== undefined) duration('spike-duration', opts.spikeDuration);
  if (v.sweep) {
    opts.sweep = {
      startRate: num('sweep-start', v['sweep-start'], 0.01, 1_000_000),
      factor: num('sweep-factor', v['sweep-factor'], 1.05, 100),
      maxRate: num('sweep-max-rate', v['sweep-max-rate'], 0.01, 1_000_000),
      stepMs: duration('step-duration', v['step-duration']),
      refine: num('refine', v.refine, 0, 20, true),
      pauseMs: 1000,
    };
  }
  return opts;
}
