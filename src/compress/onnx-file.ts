// Reads and writes ONNX files (onnx-proto over onnx.proto): external-data initializers are
// pulled in next to the model, and every failure ends as one CompressError line that says
// what is wrong with which file. Writing never replaces an existing file unless asked.
import { open, readFile, rename, stat, writeFile, unlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize } from 'node:path';
import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto;
type P = typeof onnxProto.onnx;
// onnx-proto types nested messages as the loose I* interfaces; decoded (and create()d) messages
// are full class instances with every repeated field an array. These types say so once.
export type TensorProto = InstanceType<P['TensorProto']>;
export type ValueInfoProto = InstanceType<P['ValueInfoProto']>;
export type AttributeProto = Omit<InstanceType<P['AttributeProto']>, 'g' | 'graphs' | 't'> & { g?: GraphProto | null; graphs: GraphProto[]; t?: TensorProto | null };
export type NodeProto = Omit<InstanceType<P['NodeProto']>, 'attribute'> & { attribute: AttributeProto[] };
export type GraphProto = Omit<InstanceType<P['GraphProto']>, 'node' | 'initializer' | 'input' | 'output' | 'valueInfo'> & {
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo: ValueInfoProto[];
};
export type ModelProto = Omit<InstanceType<P['ModelProto']>, 'graph'> & { graph: GraphProto };

/** A user-facing failure of compress/inspect: the CLI prints the message alone and exits non-zero. */
export class CompressError extends Error {
  override name = 'CompressError';
  readonly code = 'ONNX_SERVE_ERR_COMPRESS';
}

export interface LoadedModel {
  model: ModelProto;
  /** Bytes on disk: the .onnx file plus every external-data file it references. */
  bytesOnDisk: number;
}

const { DataLocation } = onnx.TensorProto;

/** Decodes ONNX bytes; `label` names the source in errors. */
export function decodeModel(bytes: Uint8Array, label: string): ModelProto {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes) as unknown as ModelProto;
  } catch (err) {
    throw new CompressError(`${label}: not a valid ONNX file (protobuf decoding failed: ${(err as Error).message}); is it truncated or another format?`);
  }
  // protobuf accepts many byte strings as some message: insist on what every ONNX model has
  if (!model.graph || model.opsetImport.length === 0 || Number(model.irVersion) <= 0) {
    throw new CompressError(`${label}: not an ONNX model (no graph, IR version or opset import found)`);
  }
  return model;
}

/** Loads a model and the external data of its initializers (read into rawData, so the model is self-contained in memory). */
export async function readModel(path: string): Promise<LoadedModel> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CompressError(code === 'ENOENT' ? `${path}: no such file` : code === 'EISDIR' ? `${path}: is a folder; give the .onnx file` : `${path}: cannot read (${(err as Error).message})`);
  }
  if (bytes.length === 0) throw new CompressError(`${path}: the file is empty`);
  const model = decodeModel(bytes, path);
  let bytesOnDisk = bytes.length;
  const seen = new Set<string>();
  for (const t of allInitializers(model.graph)) {
    if (t.dataLocation !== DataLocation.EXTERNAL) continue;
    const kv = Object.fromEntries(t.externalData.map((e) => [e.key, e.value]));
    const location = kv.location;
    if (!location || isAbsolute(location) || normalize(location).startsWith('..')) {
      throw new CompressError(`${path}: initializer "${t.name}" has external data at "${location}"; allowed: a relative path inside the model's folder`);
    }
    const file = join(dirname(path), location);
    const offset = Number(kv.offset ?? 0);
    let length = kv.length !== undefined ? Number(kv.length) : undefined;
    let fh;
    try {
      fh = await open(file, 'r');
    } catch {
      throw new CompressError(`${path}: initializer "${t.name}" needs external data file "${location}", which is missing next to the model`);
    }
    try {
      const size = (await fh.stat()).size;
      if (!seen.has(file)) {
        seen.add(file);
        bytesOnDisk += size;
      }
      length ??= size - offset;
      if (offset < 0 || offset + length > size) throw new CompressError(`${path}: initializer "${t.name}" reads bytes ${offset}..${offset + length} of "${location}", which has ${size}`);
      const raw = Buffer.alloc(length);
      await fh.read(raw, 0, length, offset);
      t.rawData = raw;
    } finally {
      await fh.close();
    }
    t.externalData = [];
    t.dataLocation = DataLocation.DEFAULT;
  }
  return { model, bytesOnDisk };
}

export function encodeModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model as unknown as onnxProto.onnx.IModelProto).finish();
}

/**
 * Writes the model to `path` (through a temporary file and a rename, so a failed write never
 * leaves half a model). An existing file is an error unless `force`.
 */
export async function writeModel(model: ModelProto, path: string, opts: { force?: boolean } = {}): Promise<number> {
  if (!opts.force && (await exists(path))) throw new CompressError(`${path}: already exists; pass --force to overwrite it`);
  const bytes = encodeModel(model);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw new CompressError(`${path}: cannot write (${(err as Error).message})`);
  }
  return bytes.length;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Initializers of the graph and of every subgraph (If/Loop/Scan bodies). */
export function* allInitializers(graph: GraphProto): Generator<TensorProto> {
  yield* graph.initializer;
  for (const n of graph.node) {
    for (const a of n.attribute) {
      if (a.g) yield* allInitializers(a.g);
      for (const g of a.graphs) yield* allInitializers(g);
    }
  }
}
