// Arguments of `onnx-serve compress` and `onnx-serve inspect`: parsed and validated once, pure
// (no file system), so every rule is unit-tested. A bad argument is one OptionError line that
// names the flag, the value and what is allowed; the CLI exits 2 on it.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { OptionError } from '../errors.js';
import { METHODS, type MethodName } from './method.js';
import { defaultReportPath } from './report.js';
import type { CalibrationMethod } from './calibrate.js';

export interface CompressOptions {
  input: string;
  out: string;
  method: MethodName;
  /** int8 methods: one scale per output channel (the default) unless --per-tensor. */
  perChannel: boolean;
  calibration: string | undefined;
  /** Use only the first N calibration rows; undefined: all. */
  calibrationRows: number | undefined;
  calibrate: CalibrationMethod;
  percentile: number;
  sparsity: number;
  structured: boolean;
  eval: string | undefined;
  report: string;
  force: boolean;
  quiet: boolean;
}

export interface InspectOptions {
  model: string;
  json: boolean;
}

const INT8: readonly MethodName[] = ['int8-dynamic', 'int8-static'];
const CALIBRATIONS: readonly CalibrationMethod[] = ['minmax', 'percentile'];

/** Where a report goes without --report (defined beside the report, which the serving side reads too). */
export { defaultReportPath };

type ArgSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

function parse(argv: string[], options: ArgSpec) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (err) {
    // node's message runs to three sentences: keep the flag and say what is allowed instead
    const unknown = /^Unknown option '([^']+)'/.exec((err as Error).message);
    if (unknown) throw new OptionError(`${unknown[1]}: unknown option; allowed: ${Object.keys(options).map((k) => `--${k}`).join(', ')}`);
    const missing = /^Option '(?:-\w, )?(--[\w-]+)[^']*' argument missing/.exec((err as Error).message);
    if (missing) throw new OptionError(`${missing[1]}: no value given; write ${missing[1]} VALUE`);
    throw new OptionError((err as Error).message);
  }
}

/** A flag that only some methods (or settings) take: `context` is the setting that rules it out. */
function only(flag: string, value: unknown, ok: boolean, context: string, allowed: string): void {
  if (value === undefined || value === false || ok) return;
  throw new OptionError(`${flag}: ${value === true ? 'not allowed' : `"${String(value)}" is not allowed`} with ${context}; ${allowed}`);
}

function number(flag: string, value: string, ok: (n: number) => boolean, allowed: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || !ok(n)) throw new OptionError(`${flag}: "${value}" is not allowed; use ${allowed}`);
  return n;
}

export function parseCompressOptions(argv: string[]): Readonly<CompressOptions> {
  const { values: v, positionals } = parse(argv, {
    out: { type: 'string', short: 'o' },
    method: { type: 'string', short: 'm' },
    'per-tensor': { type: 'boolean' },
    calibration: { type: 'string' },
    'calibration-rows': { type: 'string' },
    calibrate: { type: 'string' },
    percentile: { type: 'string' },
    sparsity: { type: 'string' },
    structured: { type: 'boolean' },
    eval: { type: 'string' },
    report: { type: 'string' },
    force: { type: 'boolean' },
    quiet: { type: 'boolean', short: 'q' },
  });
  const s = (k: string) => v[k] as string | undefined;
  if (positionals.length !== 1) {
    throw new OptionError(positionals.length === 0 ? 'compress: no input model given; use onnx-serve compress IN.onnx --out OUT.onnx --method M' : `compress: "${positionals.slice(1).join(' ')}" is not allowed; give one input model`);
  }
  const input = positionals[0]!;
  const out = s('out');
  if (!out) throw new OptionError(`--out: ${out === '' ? '"" is not allowed' : 'missing'}; use --out OUT.onnx`);
  const method = s('method');
  if (!METHODS.includes(method as MethodName)) throw new OptionError(`--method: ${method === undefined ? 'missing' : `"${method}" is not allowed`}; use one of ${METHODS.join(', ')}`);
  const m = method as MethodName;
  const isStatic = m === 'int8-static';
  only('--per-tensor', v['per-tensor'], INT8.includes(m), `--method ${m}`, 'use it only with --method int8-dynamic or int8-static');
  only('--calibration', s('calibration'), isStatic, `--method ${m}`, 'use it only with --method int8-static');
  only('--calibration-rows', s('calibration-rows'), isStatic, `--method ${m}`, 'use it only with --method int8-static');
  only('--calibrate', s('calibrate'), isStatic, `--method ${m}`, 'use it only with --method int8-static');
  only('--sparsity', s('sparsity'), m === 'prune', `--method ${m}`, 'use it only with --method prune');
  only('--structured', v.structured, m === 'prune', `--method ${m}`, 'use it only with --method prune');
  if (isStatic && !s('calibration')) throw new OptionError('--calibration: missing; --method int8-static needs --calibration DATA.json (rows of the model\'s inputs)');
  const calibrate = (s('calibrate') ?? 'minmax') as CalibrationMethod;
  if (!CALIBRATIONS.includes(calibrate)) throw new OptionError(`--calibrate: "${calibrate}" is not allowed; use one of ${CALIBRATIONS.join(', ')}`);
  only('--percentile', s('percentile'), calibrate === 'percentile', `--calibrate ${calibrate}`, 'use it only with --calibrate percentile');
  const percentile = s('percentile') === undefined ? 99.99 : number('--percentile', s('percentile')!, (n) => n > 0 && n <= 100, 'a number above 0 and at most 100, e.g. 99.99');
  const rows = s('calibration-rows');
  const calibrationRows = rows === undefined ? undefined : number('--calibration-rows', rows, (n) => Number.isInteger(n) && n >= 1, 'an integer of at least 1');
  const sparsity = s('sparsity') === undefined ? 0.5 : number('--sparsity', s('sparsity')!, (n) => n > 0 && n < 1, 'a fraction above 0 and below 1, e.g. 0.5');
  const report = s('report') ?? defaultReportPath(out);
  if (!report) throw new OptionError('--report: "" is not allowed; use --report PATH.json');
  const [inAbs, outAbs, reportAbs] = [input, out, report].map((p) => resolve(p));
  if (outAbs === inAbs) throw new OptionError(`--out: "${out}" is not allowed; it is the input model: write the compressed model to another file`);
  if (reportAbs === inAbs || reportAbs === outAbs) throw new OptionError(`--report: "${report}" is not allowed; it is the ${reportAbs === inAbs ? 'input' : 'output'} model: give another file`);
  if (s('eval') === '') throw new OptionError('--eval: "" is not allowed; use --eval DATA.json');
  return Object.freeze({
    input,
    out,
    method: m,
    perChannel: !v['per-tensor'],
    calibration: s('calibration'),
    calibrationRows,
    calibrate,
    percentile,
    sparsity,
    structured: v.structured === true,
    eval: s('eval'),
    report,
    force: v.force === true,
    quiet: v.quiet === true,
  });
}

/** The options that shaped the method's result (recorded in the model's metadata and the report). */
export function methodOptions(o: CompressOptions): Record<string, unknown> {
  switch (o.method) {
    case 'int8-dynamic':
      return { perChannel: o.perChannel };
    case 'int8-static':
      return {
        perChannel: o.perChannel,
        calibrate: o.calibrate,
        ...(o.calibrate === 'percentile' ? { percentile: o.percentile } : {}),
        ...(o.calibrationRows !== undefined ? { calibrationRows: o.calibrationRows } : {}),
      };
    case 'fp16':
      return {};
    case 'prune':
      return { sparsity: o.sparsity, structured: o.structured };
  }
}

export function parseInspectOptions(argv: string[]): Readonly<InspectOptions> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean' } });
  if (positionals.length !== 1) {
    throw new OptionError(positionals.length === 0 ? 'inspect: no model given; use onnx-serve inspect MODEL.onnx [--json]' : `inspect: "${positionals.slice(1).join(' ')}" is not allowed; give one model`);
  }
  return Object.freeze({ model: positionals[0]!, json: values.json === true });
}
