// The run's settings from BENCH_* environment variables (validated once, with one line naming
// the variable, the value and what is allowed) and a description of the machine for the report.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { join } from 'node:path';
import { ROOT } from './fixtures.js';
import type { Results } from './results.js';

const SECTIONS = ['seed', 'heavy', 'curve', 'overload', 'priority', 'batch', 'split', 'v2', 'grpc', 'compress', 'knee', 'poison', 'padding', 'memory', 'cpu', 'isolation', 'faults'];

function envNumber(name: string, dflt: number, min: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name}="${v}" is not allowed; use a number ≥ ${min}`);
  return n;
}

function envList(name: string, dflt: string): string[] {
  return (process.env[name] || dflt).split(',').map((s) => s.trim()).filter(Boolean);
}

export function settings(): Results['settings'] {
  const concurrency = envList('BENCH_CONCURRENCY', '1,16,64').map(Number);
  if (concurrency.some((c) => !Number.isInteger(c) || c < 1 || c > 1024)) throw new Error(`BENCH_CONCURRENCY: use integers 1..1024 separated by commas`);
  const only = envList('BENCH_ONLY', SECTIONS.join(','));
  const bad = only.find((s) => !SECTIONS.includes(s));
  if (bad) throw new Error(`BENCH_ONLY: "${bad}" is not allowed; use a comma-separated subset of ${SECTIONS.join(', ')}`);
  const heavySizes = envList('BENCH_HEAVY_SIZES', '1024,4096,4096,1000').map(Number);
  if (heavySizes.length < 2 || heavySizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('BENCH_HEAVY_SIZES: use layer sizes such as 1024,4096,4096,1000');
  return {
    durationS: envNumber('BENCH_DURATION_S', 5, 0.1),
    warmupS: envNumber('BENCH_WARMUP_S', 1, 0),
    concurrency: [...new Set(concurrency)].sort((a, b) => a - b),
    only,
    maxRequests: Math.floor(envNumber('BENCH_MAX_REQUESTS', 200_000, 1)),
    ceilingS: envNumber('BENCH_CEILING_S', 3, 0.1),
    quietWaitS: envNumber('BENCH_QUIET_WAIT_S', 60, 0),
    rounds: Math.floor(envNumber('BENCH_ROUNDS', 3, 1)),
    heavySizes,
    curveStepS: envNumber('BENCH_CURVE_STEP_S', 3, 0.5),
    curveRounds: Math.floor(envNumber('BENCH_CURVE_ROUNDS', 3, 1)),
    kneeStepS: envNumber('BENCH_KNEE_STEP_S', 3, 0.5),
    kneeP99Ms: envNumber('BENCH_KNEE_P99_MS', 100, 1),
    overloadStepS: envNumber('BENCH_OVERLOAD_STEP_S', 4, 0.5),
    faultsS: envNumber('BENCH_FAULTS_S', 15, 1),
  };
}

function version(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

export function machine(): Record<string, string> {
  let commit = '?';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim();
    if (dirty) commit += ' (src/ has uncommitted changes)';
  } catch {
    /* not a git checkout */
  }
  const cpus = os.cpus();
  return {
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: cpus[0]?.model ?? '?',
    cores: `${cpus.length} (availableParallelism ${os.availableParallelism()})`,
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    packages: `onnxruntime-node ${version('onnxruntime-node')}, fastify ${version('fastify')}, undici ${version('undici')}`,
    commit,
  };
}
