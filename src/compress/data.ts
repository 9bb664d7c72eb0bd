// Calibration and evaluation data files: `{"inputs": ROWS | {"<input>": ROWS, …}, "labels"?: [...]}`
// where each row is one sample (nested array, or {dims, data}) without the batch dimension.
// Rows are checked against the model's inputs as the ONNX graph declares them, and a mismatch
// names the file, the input and the row. Everything but readDataSet is pure.
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { dtypeOf, elemTypeName } from './elem-types.js';
import type { DType, Tensor } from '../tensors/dtypes.js';
import { fromDimsData, fromNested, TensorError } from '../tensors/decode.js';
import { packBatch } from '../tensors/batch.js';
import { CompressError, type ModelProto, type ValueInfoProto } from './onnx-file.js';
import { isObject } from '../json-shape.js';

/** A graph input as declared: numbers are fixed dims, strings symbolic ('?' when unnamed). */
export interface InputSpec {
  name: string;
  dtype: DType;
  dims: (number | string)[];
}

export interface DataSet {
  /** Rows per sample count (every input has as many). */
  rows: number;
  /** Per input (in the model's order), one tensor per row, without the batch dimension. */
  inputs: { spec: InputSpec; rows: Tensor[] }[];
  labels?: number[];
}

/** A value's dims as declared: dimValue, else dimParam, else '?'. */
export function declaredDims(v: ValueInfoProto): (number | string)[] {
  const dims = v.type?.tensorType?.shape?.dim ?? [];
  return dims.map((d) => (d.dimValue !== undefined && d.dimValue !== null && Number(d.dimValue) > 0 ? Number(d.dimValue) : d.dimParam || '?'));
}

/** The inputs a caller feeds: graph inputs that are not initializers (older IRs list those too). */
export function modelInputs(model: ModelProto): InputSpec[] {
  const inits = new Set(model.graph.initializer.map((t) => t.name));
  return model.graph.input
    .filter((v) => !inits.has(v.name))
    .map((v) => {
      const code = v.type?.tensorType?.elemType ?? 0;
      const dtype = dtypeOf(code);
      if (!dtype) throw new CompressError(`model input "${v.name}" has ${elemTypeName(code)}, which this tool cannot feed`);
      return { name: v.name, dtype, dims: declaredDims(v) };
    });
}

/** True when the first dimension is symbolic: rows stack along it (otherwise a sample is the whole input). */
export function batches(spec: InputSpec): boolean {
  return spec.dims.length > 0 && typeof spec.dims[0] === 'string';
}

/** A fixed first dimension of 1 is a batch of one: rows leave it out, as they leave out a symbolic batch dimension. */
function leadingOne(spec: InputSpec): boolean {
  return spec.dims.length > 0 && spec.dims[0] === 1;
}

/** The dims one row must have: the input's dims after the batch dimension (all of them when there is none). */
export function rowDims(spec: InputSpec): (number | string)[] {
  return batches(spec) || leadingOne(spec) ? spec.dims.slice(1) : spec.dims;
}

function fmt(dims: readonly (number | string)[]): string {
  return `[${dims.join(', ')}]`;
}


/** One row as /v1/predict reads an input (nested array, or {dims, data}), by the same tensor decoders. */
function decodeValue(value: unknown, spec: InputSpec, where: string): Tensor {
  if (isObject(value) && 'dims' in value && 'data' in value) {
    if (!Array.isArray(value.dims) || !Array.isArray(value.data)) throw new CompressError(`${where}: "dims" and "data" must both be arrays`);
    return fromDimsData(value.dims, value.data, spec.dtype, spec.name);
  }
  if (Array.isArray(value) || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string') return fromNested(value, spec.dtype, spec.name);
  throw new CompressError(`${where}: must be a nested array or {"dims": [...], "data": [...]}`);
}

/** One row, decoded (a bad value names the row, not the input), then checked against the row's dims. */
function decodeRow(value: unknown, spec: InputSpec, where: string): Tensor {
  let t: Tensor;
  try {
    t = decodeValue(value, spec, where);
  } catch (err) {
    if (err instanceof TensorError) throw new CompressError(`${where}: ${err.detail}`);
    throw err;
  }
  const want = rowDims(spec);
  const fits = t.dims.length === want.length && want.every((d, i) => typeof d === 'string' || t.dims[i] === d);
  if (!fits) throw new CompressError(`${where}: has dims ${fmt(t.dims)}; each row must have dims ${fmt(want)} (the model's input is ${spec.dtype} ${fmt(spec.dims)})`);
  return t;
}

/**
 * Checks and decodes a parsed data file against the model's inputs; `label` (the file name)
 * starts every error. `maxRows` keeps the first N rows.
 */
export function parseDataSet(json: unknown, specs: readonly InputSpec[], label: string, opts: { maxRows?: number } = {}): DataSet {
  if (!isObject(json) || !('inputs' in json)) throw new CompressError(`${label}: expected {"inputs": [rows…] or {"<input name>": [rows…]}, "labels"?: [...]}`);
  const given = json.inputs;
  let byName: Record<string, unknown>;
  if (Array.isArray(given)) {
    if (specs.length !== 1) throw new CompressError(`${label}: "inputs" is a list of rows, but the model has ${specs.length} inputs (${specs.map((s) => s.name).join(', ')}); give {"<input name>": [rows…]}`);
    byName = { [specs[0]!.name]: given };
  } else if (isObject(given)) {
    byName = given;
  } else {
    throw new CompressError(`${label}: "inputs" must be a list of rows or an object of input name → rows`);
  }
  const known = new Set(specs.map((s) => s.name));
  for (const name of Object.keys(byName)) {
    if (!known.has(name)) throw new CompressError(`${label}: unknown input "${name}"; the model's inputs are: ${[...known].join(', ')}`);
  }
  let rows = -1;
  let fileRows = -1;
  const inputs: DataSet['inputs'] = [];
  for (const spec of specs) {
    const list = byName[spec.name];
    if (list === undefined) throw new CompressError(`${label}: missing input "${spec.name}" (${spec.dtype} ${fmt(spec.dims)})`);
    if (!Array.isArray(list) || list.length === 0) throw new CompressError(`${label}: input "${spec.name}" must be a non-empty list of rows`);
    if (fileRows >= 0 && list.length !== fileRows) throw new CompressError(`${label}: input "${spec.name}" has ${list.length} rows, an earlier input has ${fileRows}`);
    fileRows = list.length;
    rows = Math.min(list.length, opts.maxRows ?? Infinity);
    inputs.push({ spec, rows: list.slice(0, rows).map((row, i) => decodeRow(row, spec, `${label}: input "${spec.name}" row ${i}`)) });
  }
  const data: DataSet = { rows, inputs };
  if (json.labels !== undefined) {
    const labels = json.labels;
    if (!Array.isArray(labels) || labels.some((l) => !Number.isInteger(l) || (l as number) < 0)) throw new CompressError(`${label}: "labels" must be a list of class indices (non-negative integers)`);
    if (labels.length !== fileRows) throw new CompressError(`${label}: "labels" has ${labels.length} entries for ${fileRows} rows`);
    data.labels = (labels as number[]).slice(0, rows);
  }
  return data;
}

export async function readDataSet(path: string, specs: readonly InputSpec[], opts: { maxRows?: number } = {}): Promise<DataSet> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CompressError(code === 'ENOENT' ? `${path}: no such file` : `${path}: cannot read (${(err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CompressError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  return parseDataSet(json, specs, path, opts);
}

/**
 * Feeds for the given rows, stacked along the batch dimension (one row when the model does
 * not batch). Symbolic non-batch dims must agree across the stacked rows.
 */
export function feedsFor(data: DataSet, rowIndices: readonly number[]): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const { spec, rows } of data.inputs) {
    const picked = rowIndices.map((i) => rows[i]!);
    const first = picked[0]!;
    for (const t of picked) {
      if (t.dims.join() !== first.dims.join()) throw new CompressError(`input "${spec.name}": rows of dims ${fmt(first.dims)} and ${fmt(t.dims)} cannot run in one batch`);
    }
    const packed = packBatch(picked.map((t) => ({ ...t, dims: [1, ...t.dims] })));
    const dims = batches(spec) ? packed.dims : leadingOne(spec) ? [1, ...first.dims] : [...first.dims];
    feeds[spec.name] = new ort.Tensor(spec.dtype, packed.data as Float32Array, dims);
  }
  return feeds;
}

/** True when every input stacks rows along dimension 0, so batches bigger than one can run. */
export function canBatch(data: DataSet): boolean {
  return data.inputs.every((i) => batches(i.spec));
}
