// `onnx-serve inspect MODEL.onnx`: what a model declares and holds — inputs and outputs with
// dtypes and (symbolic) dims, IR version, opsets, producer, operator counts, parameters, size
// on disk, initializers by dtype, and the compression record the compress command leaves in
// metadata_props. describeModel and renderModelInfo are pure; inspectModel reads the file.
import { readModel, allInitializers, type GraphProto, type ModelProto } from './onnx-file.js';
import { declaredDims } from './data.js';
import { elemBytes, elemTypeName } from './elem-types.js';
import { numel } from './graph.js';
import { formatBytes } from './report.js';

export const COMPRESSION_KEY = 'onnx_serve.compression';

export interface ValueInfo {
  name: string;
  dtype: string;
  dims: (number | string)[];
}

export interface ModelInfo {
  file: string;
  bytesOnDisk: number;
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producer: { name: string; version: string };
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  /** By count, most frequent first; ops outside the default domain are written domain.Op. */
  operators: { op: string; count: number }[];
  /** Elements over every initializer. */
  parameters: number;
  initializers: { dtype: string; count: number; bytes: number }[];
  /** The compress command's record (method, options, source, tool version), when present. */
  compression?: unknown;
  metadata: Record<string, string>;
}

function countOps(graph: GraphProto, counts: Map<string, number>): void {
  for (const n of graph.node) {
    const op = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
    counts.set(op, (counts.get(op) ?? 0) + 1);
    for (const a of n.attribute) {
      if (a.g) countOps(a.g, counts);
      for (const g of a.graphs) countOps(g, counts);
    }
  }
}

export function describeModel(model: ModelProto, file: string, bytesOnDisk: number): ModelInfo {
  const g = model.graph;
  const inits = new Set(g.initializer.map((t) => t.name));
  const value = (v: (typeof g.input)[number]): ValueInfo => ({ name: v.name, dtype: elemTypeName(v.type?.tensorType?.elemType ?? 0), dims: declaredDims(v) });
  const ops = new Map<string, number>();
  countOps(g, ops);
  let parameters = 0;
  const byType = new Map<string, { dtype: string; count: number; bytes: number }>();
  for (const t of allInitializers(g)) {
    const n = numel(t.dims);
    parameters += n;
    const dtype = elemTypeName(t.dataType);
    const entry = byType.get(dtype) ?? { dtype, count: 0, bytes: 0 };
    entry.count++;
    const size = elemBytes(t.dataType); // strings count their raw bytes instead
    entry.bytes += size !== undefined ? n * size : (t.rawData?.length ?? 0);
    byType.set(dtype, entry);
  }
  const metadata = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
  const info: ModelInfo = {
    file,
    bytesOnDisk,
    irVersion: Number(model.irVersion),
    opsets: model.opsetImport.map((o) => ({ domain: o.domain || 'ai.onnx', version: Number(o.version) })),
    producer: { name: model.producerName ?? '', version: model.producerVersion ?? '' },
    inputs: g.input.filter((v) => !inits.has(v.name)).map(value),
    outputs: g.output.map(value),
    operators: [...ops].map(([op, count]) => ({ op, count })).sort((a, b) => b.count - a.count || a.op.localeCompare(b.op)),
    parameters,
    initializers: [...byType.values()].sort((a, b) => b.bytes - a.bytes),
    metadata,
  };
  const record = metadata[COMPRESSION_KEY];
  if (record !== undefined) {
    try {
      info.compression = JSON.parse(record);
    } catch {
      info.compression = record;
    }
  }
  return info;
}

const dims = (d: readonly (number | string)[]) => `[${d.join(', ')}]`;

export function renderModelInfo(info: ModelInfo): string {
  const names = (list: ValueInfo[]) => list.map((v) => `  ${v.name}  ${v.dtype} ${dims(v.dims)}`);
  const lines = [
    `model: ${info.file} (${formatBytes(info.bytesOnDisk)} on disk)`,
    `IR version ${info.irVersion}; opset ${info.opsets.map((o) => `${o.domain} ${o.version}`).join(', ')}; producer ${info.producer.name || '(none)'}${info.producer.version ? ` ${info.producer.version}` : ''}`,
    'inputs:',
    ...names(info.inputs),
    'outputs:',
    ...names(info.outputs),
    `operators (${info.operators.reduce((n, o) => n + o.count, 0)} nodes):`,
    ...info.operators.map((o) => `  ${o.op.padEnd(24)} ${o.count}`),
    `parameters: ${info.parameters.toLocaleString('en-US')}`,
    'initializers by dtype:',
    ...(info.initializers.length ? info.initializers.map((i) => `  ${i.dtype.padEnd(10)} ${String(i.count).padStart(5)} tensors  ${formatBytes(i.bytes)}`) : ['  (none)']),
  ];
  if (info.compression !== undefined) {
    const c = info.compression as Record<string, unknown>;
    lines.push(
      typeof c === 'object' && c !== null
        ? `compressed: ${String(c.method)} ${JSON.stringify(c.options ?? {})} from ${String(c.source)} by onnx-serve ${String(c.toolVersion)}`
        : `compressed: ${String(c)}`,
    );
  }
  return lines.join('\n');
}

/** The text (or JSON) `onnx-serve inspect` prints. */
export async function inspectModel(path: string, opts: { json?: boolean } = {}): Promise<string> {
  const { model, bytesOnDisk } = await readModel(path);
  const info = describeModel(model, path, bytesOnDisk);
  return opts.json ? JSON.stringify(info, null, 2) : renderModelInfo(info);
}
