// `onnx-serve compress` and `onnx-serve inspect` as users run them: the built CLI in a child
// process on real models in a temp folder, the output loaded by real onnxruntime, the report
// file read back; every error is one stderr line and leaves existing files untouched.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ROOT } from '../helpers/server.js';
import { mlpModel, seededFloats } from '../../tools/onnx-builder.js';
import { decodeModel } from '../../src/compress/onnx-file.js';
import { transformerModel } from '../helpers/compress-models.js';

const cli = join(ROOT, 'dist', 'src', 'cli.js');
const DIGITS = join(ROOT, 'models', 'digits');

let dir = '';
const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
const rows = (n: number, width: number, seed: number) => Array.from({ length: n }, (_, i) => Array.from(seededFloats(width, seed + i, 2)));

t.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'onnx-serve-compress-'));
  await writeFile(join(dir, 'mlp.onnx'), mlpModel([16, 32, 8], 1));
  await writeFile(join(dir, 'rows.json'), JSON.stringify({ inputs: rows(40, 16, 100) }));
});
t.teardown(() => rm(dir, { recursive: true, force: true }));

const REPORT_KEYS = ['method', 'options', 'source', 'output', 'sizeRatio', 'changed', 'warnings', 'details', 'eval'];

t.test('each method writes a model onnxruntime runs, with its record and a full report', async (t) => {
  const methods: [string, string[]][] = [
    ['int8-dynamic', []],
    ['int8-static', ['--calibration', 'rows.json', '--calibration-rows', '16']],
    ['fp16', []],
    ['prune', ['--sparsity', '0.5']],
    ['prune-structured', ['--structured']],
  ];
  for (const [name, extra] of methods) {
    const method = name.replace('-structured', '');
    const out = `mlp.${name}.onnx`;
    const r = run(['compress', 'mlp.onnx', '--out', out, '--method', method, ...extra, '--eval', 'rows.json']);
    t.equal(r.status, 0, `${name}: exit 0 (${r.stderr})`);
    t.ok(r.stderr.split('\n').filter(Boolean).every((l) => l.startsWith('warning: ')), `${name}: stderr holds warnings only, no progress bar off a terminal`);
    t.match(r.stdout, /^\s+before\s+after\s+change$/m, `${name}: the table`);
    t.match(r.stdout, /latency, batch 32/);

    const session = await ort.InferenceSession.create(join(dir, out));
    const y = (await session.run({ input: new ort.Tensor('float32', seededFloats(32, 7), [2, 16]) })).output!;
    t.same(y.dims, [2, 8], `${name}: onnxruntime loads and runs it`);
    await session.release();

    const report = JSON.parse(await readFile(join(dir, `mlp.${name}.report.json`), 'utf8'));
    t.same(Object.keys(report), REPORT_KEYS, `${name}: every report field`);
    t.match(report, {
      method,
      source: { file: 'mlp.onnx', bytes: Number },
      output: { file: out, bytes: Number },
      sizeRatio: Number,
      changed: Number,
      warnings: Array,
      details: Object,
      eval: {
        samples: 40,
        latencyMs: { original: { batch1: Number, batch32: Number }, compressed: { batch1: Number, batch32: Number } },
        speedup: { batch1: Number, batch32: Number },
        agreement: { maxAbsError: Number, meanRelError: Number, cosine: Number, top1Agreement: Number },
      },
    });
    t.ok(report.changed > 0, `${name}: changed ${report.changed}`);
    t.ok(report.eval.agreement.cosine > 0.5, `${name}: cosine ${report.eval.agreement.cosine}`);
    t.notOk('accuracy' in report.eval, 'no labels, no accuracy');

    const model = decodeModel(await readFile(join(dir, out)), out);
    const record = JSON.parse(model.metadataProps.find((p) => p.key === 'onnx_serve.compression')!.value!);
    t.match(record, { method, options: report.options, source: 'mlp.onnx', toolVersion: /^\d+\.\d+\.\d+/ }, `${name}: metadata_props records the run`);
  }
  const staticReport = JSON.parse(await readFile(join(dir, 'mlp.int8-static.report.json'), 'utf8'));
  t.same(staticReport.options, { perChannel: true, calibrate: 'minmax', calibrationRows: 16 });
  const pruned = JSON.parse(await readFile(join(dir, 'mlp.prune-structured.report.json'), 'utf8'));
  t.ok(pruned.sizeRatio < 1, `structured pruning shrinks the file (${pruned.sizeRatio})`);
});

t.test('digits: the committed accuracy, and int8-dynamic within 1 point of it', async (t) => {
  const r = run(['compress', join(DIGITS, 'model.onnx'), '--out', 'digits.int8.onnx', '--method', 'int8-dynamic', '--eval', join(DIGITS, 'test-set.json')]);
  t.equal(r.status, 0, r.stderr);
  const report = JSON.parse(await readFile(join(dir, 'digits.int8.report.json'), 'utf8'));
  t.equal(report.eval.samples, 360);
  t.equal(Math.round(report.eval.accuracy.original * 360), 350, 'original: 350/360, the committed figure');
  t.ok(Math.abs(report.eval.accuracy.delta) <= 0.01, `int8-dynamic delta ${report.eval.accuracy.delta}`);
  t.equal(report.eval.accuracy.delta, report.eval.accuracy.compressed - report.eval.accuracy.original);
  t.ok(report.sizeRatio < 0.4, `int8 file is ${report.sizeRatio} of the original`);
  t.match(r.stdout, /accuracy \(360 rows\)\s+97\.22 %/);
  t.match(r.stdout, /report: digits\.int8\.report\.json/);
  console.error(`# digits int8-dynamic: accuracy ${report.eval.accuracy.original} -> ${report.eval.accuracy.compressed}, size ratio ${report.sizeRatio.toFixed(3)}, speedup b1 ${report.eval.speedup.batch1.toFixed(2)} b32 ${report.eval.speedup.batch32.toFixed(2)}`);

  const q = run(['compress', join(DIGITS, 'model.onnx'), '--out', 'digits.fp16.onnx', '--method', 'fp16', '--quiet', '--report', 'fp16.json']);
  t.equal(q.status, 0, q.stderr);
  t.equal(q.stdout, '', '--quiet prints nothing');
  t.notOk('eval' in JSON.parse(await readFile(join(dir, 'fp16.json'), 'utf8')), 'no --eval, no eval; --report names the file');
});

t.test('each node a method leaves alone is a warning line on stderr and in the report', async (t) => {
  await writeFile(join(dir, 'block.onnx'), transformerModel(1));
  const r = run(['compress', 'block.onnx', '--out', 'block.int8.onnx', '--method', 'int8-dynamic', '--quiet']);
  t.equal(r.status, 0, r.stderr);
  const lines = r.stderr.split('\n').filter(Boolean);
  t.ok(lines.length >= 1, 'at least the activation×activation MatMul is reported');
  t.ok(lines.every((l) => l.startsWith('warning: node "')), lines.join(' | '));
  const report = JSON.parse(await readFile(join(dir, 'block.int8.report.json'), 'utf8'));
  t.same(lines, report.warnings.map((w: string) => `warning: ${w}`));
});

t.test('every error is one stderr line, a non-zero exit, and no file written or changed', async (t) => {
  const sentinel = 'an existing file that must survive';
  await writeFile(join(dir, 'keep.onnx'), sentinel);
  await writeFile(join(dir, 'not-onnx.onnx'), '{"this": "is json"}\n');
  await writeFile(join(dir, 'truncated.onnx'), (await readFile(join(dir, 'mlp.onnx'))).subarray(0, 300));
  await writeFile(join(dir, 'narrow.json'), JSON.stringify({ inputs: rows(3, 15, 1) }));
  await writeFile(join(dir, 'misnamed.json'), JSON.stringify({ inputs: { pixels: rows(3, 16, 1) } }));
  await writeFile(join(dir, 'strings.json'), JSON.stringify({ inputs: [[...rows(1, 15, 1)[0]!, 'x']] }));
  await writeFile(join(dir, 'only-report.report.json'), sentinel);
  const keep = ['--out', 'keep.onnx', '--force'];
  const cases: [string[], number, RegExp][] = [
    [['missing.onnx', ...keep, '--method', 'fp16'], 1, /missing\.onnx: no such file/],
    [['not-onnx.onnx', ...keep, '--method', 'fp16'], 1, /not-onnx\.onnx: not (a valid ONNX file|an ONNX model)/],
    [['truncated.onnx', ...keep, '--method', 'fp16'], 1, /truncated\.onnx: not a valid ONNX file .*truncated/],
    [['mlp.onnx', ...keep, '--method', 'int8-static', '--calibration', 'narrow.json'], 1, /narrow\.json: input "input" row 0: has dims \[15\]; each row must have dims \[16\]/],
    [['mlp.onnx', ...keep, '--method', 'int8-static', '--calibration', 'misnamed.json'], 1, /misnamed\.json: unknown input "pixels"; the model's inputs are: input/],
    [['mlp.onnx', ...keep, '--method', 'int8-dynamic', '--eval', 'strings.json'], 1, /strings\.json: input "input" row 0: element 15 \("x"\) is not a number for dtype float32/],
    [['mlp.onnx', ...keep, '--method', 'fp16', '--eval', 'nothing.json'], 1, /nothing\.json: no such file/],
    [['mlp.onnx', '--out', 'keep.onnx', '--method', 'fp16'], 1, /keep\.onnx: already exists; pass --force to overwrite it/],
    [['mlp.onnx', '--out', 'only-report.onnx', '--method', 'fp16'], 1, /only-report\.report\.json: already exists; pass --force/],
    [['keep.onnx', '--out', './keep.onnx', '--method', 'fp16'], 2, /--out: "\.\/keep\.onnx" is not allowed; it is the input model/],
    [['mlp.onnx', ...keep, '--method', 'prune', '--sparsity', '2'], 2, /--sparsity: "2" is not allowed; use a fraction above 0 and below 1/],
    [['mlp.onnx', ...keep, '--method', 'int8-static'], 2, /--calibration: missing/],
    [['mlp.onnx', ...keep, '--method', 'int4'], 2, /--method: "int4" is not allowed; use one of int8-dynamic, int8-static, fp16, prune/],
  ];
  for (const [args, status, message] of cases) {
    const r = run(['compress', ...args]);
    const what = args.join(' ');
    t.equal(r.status, status, `${what}: exit ${status}`);
    const lines = r.stderr.split('\n').filter(Boolean);
    t.equal(lines.length, 1, `${what}: one stderr line (${r.stderr})`);
    t.match(lines[0], /^onnx-serve: /);
    t.match(lines[0], message, what);
    t.equal(await readFile(join(dir, 'keep.onnx'), 'utf8'), sentinel, `${what}: the existing OUT is unchanged`);
  }
  t.notOk(existsSync(join(dir, 'only-report.onnx')), 'an existing report stops the run before the model is written');
  t.equal(await readFile(join(dir, 'only-report.report.json'), 'utf8'), sentinel);
});

t.test('inspect names inputs, outputs, opset, operators, sizes and the compression record', async (t) => {
  const r = run(['inspect', 'mlp.onnx']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /inputs:\n\s+input\s+float32 \[batch, 16\]/);
  t.match(r.stdout, /outputs:\n\s+output\s+float32 \[batch, 8\]/);
  t.match(r.stdout, /opset ai\.onnx 17/);
  t.match(r.stdout, /Gemm\s+2\n\s+Relu\s+1/, 'operator counts, most frequent first');
  t.match(r.stdout, /parameters: 808/, '16·32 + 32 + 32·8 + 8');
  t.match(r.stdout, /float32\s+4 tensors\s+3\.16 KiB/);

  const j = run(['inspect', 'mlp.int8-dynamic.onnx', '--json']);
  t.equal(j.status, 0, j.stderr);
  const info = JSON.parse(j.stdout);
  t.same(info.inputs, [{ name: 'input', dtype: 'float32', dims: ['batch', 16] }]);
  t.same(info.opsets, [{ domain: 'ai.onnx', version: Number(info.opsets[0].version) }]);
  t.ok(info.operators.some((o: { op: string }) => o.op === 'MatMulInteger' || o.op === 'DynamicQuantizeLinear'), 'int8 operators counted');
  t.ok(info.initializers.some((i: { dtype: string }) => i.dtype === 'int8'), 'int8 initializers');
  t.match(info.compression, { method: 'int8-dynamic', source: 'mlp.onnx' });
  t.equal(info.bytesOnDisk, (await readFile(join(dir, 'mlp.int8-dynamic.onnx'))).length);

  const bad = run(['inspect', 'truncated.onnx']);
  t.equal(bad.status, 1);
  t.equal(bad.stderr.trim().split('\n').length, 1);
  t.match(bad.stderr, /^onnx-serve: truncated\.onnx: not a valid ONNX file/);
});
