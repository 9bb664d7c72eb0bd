// compress/inspect arguments and data files: defaults, the flags each method allows, one line
// per mistake naming the flag, the value and what is allowed; data rows checked against the
// model's inputs with the file, input and row named.
import t from 'tap';
import { defaultReportPath, methodOptions, parseCompressOptions, parseInspectOptions } from '../../src/compress/options.js';
import { OptionError } from '../../src/errors.js';
import { feedsFor, parseDataSet, rowDims, type InputSpec } from '../../src/compress/data.js';
import { CompressError } from '../../src/compress/onnx-file.js';
import { thrown } from '../helpers/thrown.js';

const base = ['in.onnx', '--out', 'out.onnx'];

t.test('defaults and the options each method records', async (t) => {
  const o = parseCompressOptions([...base, '--method', 'int8-dynamic']);
  t.match(o, { input: 'in.onnx', out: 'out.onnx', method: 'int8-dynamic', perChannel: true, sparsity: 0.5, structured: false, calibrate: 'minmax', percentile: 99.99, force: false, quiet: false });
  t.equal(o.report, 'out.report.json', 'report next to the output');
  t.equal(o.eval, undefined);
  t.same(methodOptions(o), { perChannel: true });
  t.ok(Object.isFrozen(o));

  const p = parseCompressOptions([...base, '--method', 'prune', '--sparsity', '0.75', '--structured', '--force', '--quiet']);
  t.match(p, { sparsity: 0.75, structured: true, force: true, quiet: true });
  t.same(methodOptions(p), { sparsity: 0.75, structured: true });

  const s = parseCompressOptions([...base, '--method', 'int8-static', '--calibration', 'c.json', '--calibration-rows', '64', '--calibrate', 'percentile', '--percentile', '99.9', '--per-tensor', '--eval', 'e.json', '--report', 'r.json']);
  t.match(s, { calibration: 'c.json', calibrationRows: 64, calibrate: 'percentile', percentile: 99.9, perChannel: false, eval: 'e.json', report: 'r.json' });
  t.same(methodOptions(s), { perChannel: false, calibrate: 'percentile', percentile: 99.9, calibrationRows: 64 });
  t.same(methodOptions(parseCompressOptions([...base, '--method', 'fp16'])), {});
});

t.test('the report path replaces .onnx with .report.json', async (t) => {
  t.equal(defaultReportPath('models/digits/model.int8.onnx'), 'models/digits/model.int8.report.json');
  t.equal(defaultReportPath('out'), 'out.report.json');
});

t.test('each mistake is one OptionError line naming the flag, the value and what is allowed', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--out', 'o.onnx', '--method', 'fp16'], /^compress: no input model given/],
    [['a.onnx', 'b.onnx', '--out', 'o.onnx', '--method', 'fp16'], /^compress: "b.onnx" is not allowed; give one input model/],
    [['a.onnx', '--method', 'fp16'], /^--out: missing; use --out OUT.onnx/],
    [['a.onnx', '--out'], /^--out: no value given/],
    [[...base], /^--method: missing; use one of int8-dynamic, int8-static, fp16, prune/],
    [[...base, '--method', 'int4'], /^--method: "int4" is not allowed; use one of int8-dynamic, int8-static, fp16, prune/],
    [[...base, '--method', 'int8-static'], /^--calibration: missing; --method int8-static needs --calibration/],
    [[...base, '--method', 'fp16', '--calibration', 'c.json'], /^--calibration: "c.json" is not allowed with --method fp16; use it only with --method int8-static/],
    [[...base, '--method', 'int8-dynamic', '--calibrate', 'minmax'], /^--calibrate: "minmax" is not allowed with --method int8-dynamic; use it only with --method int8-static/],
    [[...base, '--method', 'int8-static', '--calibration', 'c.json', '--calibrate', 'entropy'], /^--calibrate: "entropy" is not allowed; use one of minmax, percentile/],
    [[...base, '--method', 'int8-static', '--calibration', 'c.json', '--percentile', '99'], /^--percentile: "99" is not allowed with --calibrate minmax; use it only with --calibrate percentile/],
    [[...base, '--method', 'int8-static', '--calibration', 'c.json', '--calibrate', 'percentile', '--percentile', '101'], /^--percentile: "101" is not allowed; use a number above 0 and at most 100/],
    [[...base, '--method', 'int8-static', '--calibration', 'c.json', '--calibration-rows', '2.5'], /^--calibration-rows: "2.5" is not allowed; use an integer of at least 1/],
    [[...base, '--method', 'int8-static', '--calibration', 'c.json', '--calibration-rows', '0'], /^--calibration-rows: "0" is not allowed/],
    [[...base, '--method', 'fp16', '--sparsity', '0.3'], /^--sparsity: "0.3" is not allowed with --method fp16; use it only with --method prune/],
    [[...base, '--method', 'fp16', '--structured'], /^--structured: not allowed with --method fp16; use it only with --method prune/],
    [[...base, '--method', 'prune', '--per-tensor'], /^--per-tensor: not allowed with --method prune; use it only with --method int8-dynamic or int8-static/],
    [[...base, '--method', 'prune', '--sparsity', '1'], /^--sparsity: "1" is not allowed; use a fraction above 0 and below 1/],
    [[...base, '--method', 'prune', '--sparsity', 'half'], /^--sparsity: "half" is not allowed/],
    [['m.onnx', '--out', './m.onnx', '--method', 'fp16'], /^--out: "\.\/m.onnx" is not allowed; it is the input model/],
    [[...base, '--method', 'fp16', '--report', 'out.onnx'], /^--report: "out.onnx" is not allowed; it is the output model/],
    [[...base, '--method', 'fp16', '--colour'], /^--colour: unknown option; allowed: --out, --method/],
  ];
  for (const [argv, message] of cases) {
    const err = thrown(() => parseCompressOptions(argv));
    t.ok(err instanceof OptionError, `${argv.join(' ')}: an OptionError`);
    t.match((err as Error).message, message, argv.join(' '));
    t.notMatch((err as Error).message, /\n/, 'one line');
  }
});

t.test('inspect takes one model and --json', async (t) => {
  t.same(parseInspectOptions(['m.onnx']), { model: 'm.onnx', json: false });
  t.same(parseInspectOptions(['m.onnx', '--json']), { model: 'm.onnx', json: true });
  t.throws(() => parseInspectOptions([]), /inspect: no model given/);
  t.throws(() => parseInspectOptions(['m.onnx', '--out', 'x']), /--out: unknown option; allowed: --json/);
});

const digits: InputSpec[] = [{ name: 'input', dtype: 'float32', dims: ['batch', 4] }];
const two: InputSpec[] = [
  { name: 'image', dtype: 'float32', dims: ['N', 2, 'width'] },
  { name: 'mask', dtype: 'int64', dims: [1, 3] },
];

t.test('data files: rows as a list or by input name, labels, extra keys ignored, first N rows', async (t) => {
  const d = parseDataSet({ split: 'test', count: 3, inputs: [[1, 2, 3, 4], { dims: [4], data: [5, 6, 7, 8] }, [0, 0, 0, 1]], labels: [0, 1, 3] }, digits, 'd.json');
  t.equal(d.rows, 3);
  t.same(d.labels, [0, 1, 3]);
  t.same(Array.from(d.inputs[0]!.rows[1]!.data as Float32Array), [5, 6, 7, 8]);
  const feeds = feedsFor(d, [0, 1, 0]);
  t.same(feeds.input!.dims, [3, 4], 'rows stack along the batch dimension');
  t.same(Array.from(feeds.input!.data as Float32Array).slice(4, 8), [5, 6, 7, 8]);

  const first = parseDataSet({ inputs: [[1, 2, 3, 4], [5, 6, 7, 8], [9, 9, 9, 9]], labels: [1, 2, 3] }, digits, 'd.json', { maxRows: 2 });
  t.equal(first.rows, 2);
  t.same(first.labels, [1, 2]);

  const m = parseDataSet({ inputs: { image: [[[1, 2, 3], [4, 5, 6]]], mask: [[1, 0, 1]] } }, two, 'm.json');
  t.same(rowDims(two[1]!), [3], 'a fixed first dimension of 1 is a batch of one');
  const f = feedsFor(m, [0]);
  t.same(f.image!.dims, [1, 2, 3], 'symbolic dims accept any size');
  t.same(f.mask!.dims, [1, 3]);
  t.equal(f.mask!.type, 'int64', 'the dtype the model declares');
});

t.test('data files that do not match the model name the file, the input and the row', async (t) => {
  const cases: [unknown, readonly InputSpec[], RegExp][] = [
    [[[1, 2, 3, 4]], digits, /^d.json: expected \{"inputs"/],
    [{ inputs: [[1, 2, 3, 4], [1, 2, 3]] }, digits, /^d.json: input "input" row 1: has dims \[3\]; each row must have dims \[4\] \(the model's input is float32 \[batch, 4\]\)/],
    [{ inputs: [[[1, 2, 3, 4]]] }, digits, /row 0: has dims \[1, 4\]; each row must have dims \[4\]/],
    [{ inputs: [[1, 2, 'x', 4]] }, digits, /^d.json: input "input" row 0: element 2 \("x"\) is not a number for dtype float32/],
    [{ inputs: { pixels: [[1, 2, 3, 4]] } }, digits, /^d.json: unknown input "pixels"; the model's inputs are: input/],
    [{ inputs: [] }, digits, /input "input" must be a non-empty list of rows/],
    [{ inputs: [[1, 2, 3, 4]], labels: [1, 2] }, digits, /"labels" has 2 entries for 1 rows/],
    [{ inputs: [[1, 2, 3, 4]], labels: [0.5] }, digits, /"labels" must be a list of class indices/],
    [{ inputs: [[[1, 2], [3, 4]]] }, two, /"inputs" is a list of rows, but the model has 2 inputs \(image, mask\)/],
    [{ inputs: { image: [[[1], [2]]] } }, two, /missing input "mask" \(int64 \[1, 3\]\)/],
    [{ inputs: { image: [[[1], [2]], [[1], [2]]], mask: [[1, 0, 1]] } }, two, /input "mask" has 1 rows, an earlier input has 2/],
    [{ inputs: { image: [[[1], [2]]], mask: [[1, 0.5, 1]] } }, two, /input "mask" row 0: element 1 \(0.5\) is not an integer .*for dtype int64/],
  ];
  for (const [json, specs, message] of cases) {
    const err = thrown(() => parseDataSet(json, specs, 'd.json'));
    t.ok(err instanceof CompressError, `${JSON.stringify(json)}: a CompressError`);
    t.match((err as Error).message, message, JSON.stringify(json));
  }
});
