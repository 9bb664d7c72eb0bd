// Pure helpers over an in-memory ONNX graph: typed views of initializer data, new tensors and
// nodes, attribute access, producers/consumers and fresh names. No I/O: the compression
// methods are graph rewrites built from these and are testable without files.
import { onnx, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from './onnx-file.js';
import { ELEM } from './elem-types.js';

/** onnx.TensorProto.DataType (from elem-types.ts, re-exported for the methods). */
export { ELEM };

export type TensorData = Float32Array | Float64Array | Int8Array | Uint8Array | Int32Array | BigInt64Array | Uint16Array;

export function numel(dims: readonly (number | { toNumber(): number })[]): number {
  return dims.reduce<number>((a, d) => a * Number(d), 1);
}

export function dimsOf(t: TensorProto): number[] {
  return t.dims.map(Number);
}

/** Copies raw little-endian bytes into a fresh, aligned typed array. */
function fromRaw<T extends TensorData>(raw: Uint8Array, Ctor: { new (b: ArrayBuffer): T }): T {
  const copy = new Uint8Array(raw.byteLength);
  copy.set(raw);
  return new Ctor(copy.buffer);
}

/** The tensor's values as a typed array of its element type (float16 as raw Uint16 bits). */
export function tensorData(t: TensorProto): TensorData {
  const raw = t.rawData && t.rawData.length ? t.rawData : undefined;
  switch (t.dataType) {
    case ELEM.FLOAT:
      return raw ? fromRaw(raw, Float32Array) : Float32Array.from(t.floatData);
    case ELEM.DOUBLE:
      return raw ? fromRaw(raw, Float64Array) : Float64Array.from(t.doubleData);
    case ELEM.INT8:
      return raw ? fromRaw(raw, Int8Array) : Int8Array.from(t.int32Data);
    case ELEM.UINT8:
      return raw ? fromRaw(raw, Uint8Array) : Uint8Array.from(t.int32Data);
    case ELEM.INT32:
      return raw ? fromRaw(raw, Int32Array) : Int32Array.from(t.int32Data);
    case ELEM.INT64:
      return raw ? fromRaw(raw, BigInt64Array) : BigInt64Array.from(t.int64Data.map((v) => BigInt(String(v))));
    case ELEM.FLOAT16:
      return raw ? fromRaw(raw, Uint16Array) : Uint16Array.from(t.int32Data);
    default:
      throw new Error(`tensor "${t.name}": element type ${t.dataType} is not handled`);
  }
}

/** A float32 view of a FLOAT (or DOUBLE) tensor. */
export function floatData(t: TensorProto): Float32Array {
  const d = tensorData(t);
  if (d instanceof Float32Array) return d;
  if (d instanceof Float64Array) return Float32Array.from(d);
  throw new Error(`tensor "${t.name}" is not float (element type ${t.dataType})`);
}

const ELEM_OF = new Map<Function, number>([
  [Float32Array, ELEM.FLOAT],
  [Float64Array, ELEM.DOUBLE],
  [Int8Array, ELEM.INT8],
  [Uint8Array, ELEM.UINT8],
  [Int32Array, ELEM.INT32],
  [BigInt64Array, ELEM.INT64],
]);

/** A new initializer; `dataType` defaults from the array type (pass ELEM.FLOAT16 for Uint16 bits). */
export function makeTensor(name: string, dims: number[], data: TensorData, dataType?: number): TensorProto {
  const type = dataType ?? ELEM_OF.get(data.constructor);
  if (type === undefined) throw new Error(`makeTensor("${name}"): give dataType for ${data.constructor.name}`);
  if (numel(dims) !== data.length) throw new Error(`makeTensor("${name}"): dims ${JSON.stringify(dims)} hold ${numel(dims)} values, data has ${data.length}`);
  return onnx.TensorProto.create({ name, dataType: type, dims, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice() }) as TensorProto;
}

export type AttrValue = number | number[] | string | TensorProto;

/** An attribute of the type its value implies: string, ints, int (an integer number), float, or tensor. */
export function makeAttribute(name: string, v: AttrValue) {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return onnx.AttributeProto.create({ name, type: A.STRING, s: new TextEncoder().encode(v) });
  if (Array.isArray(v)) return onnx.AttributeProto.create({ name, type: A.INTS, ints: v });
  if (typeof v === 'number') return Number.isInteger(v) ? onnx.AttributeProto.create({ name, type: A.INT, i: v }) : onnx.AttributeProto.create({ name, type: A.FLOAT, f: v });
  return onnx.AttributeProto.create({ name, type: A.TENSOR, t: v });
}

export function makeNode(op: string, inputs: string[], outputs: string[], name: string, attributes: Record<string, AttrValue> = {}, domain = ''): NodeProto {
  const attribute = Object.entries(attributes).map(([k, v]) => makeAttribute(k, v));
  return onnx.NodeProto.create({ opType: op, input: inputs, output: outputs, name, attribute, domain }) as unknown as NodeProto;
}

/** An INT/FLOAT attribute's value, or `dflt` when the node does not set it. */
export function attrNumber(node: NodeProto, name: string, dflt: number): number {
  const a = node.attribute.find((x) => x.name === name);
  if (!a) return dflt;
  const A = onnx.AttributeProto.AttributeType;
  return a.type === A.FLOAT ? Number(a.f) : Number(a.i);
}

export function attrInts(node: NodeProto, name: string): number[] | undefined {
  const a = node.attribute.find((x) => x.name === name);
  return a ? (a.ints ?? []).map(Number) : undefined;
}

/** The default-domain opset the model imports. */
export function opsetOf(model: ModelProto): number {
  const o = model.opsetImport.find((x) => !x.domain || x.domain === 'ai.onnx');
  return o ? Number(o.version) : 0;
}

/** Raises the default-domain opset to at least `min` (the ops this tool emits need 13). */
export function ensureOpset(model: ModelProto, min: number): void {
  const o = model.opsetImport.find((x) => !x.domain || x.domain === 'ai.onnx');
  if (!o) model.opsetImport.push(onnx.OperatorSetIdProto.create({ domain: '', version: min }));
  else if (Number(o.version) < min) o.version = min;
}

/**
 * An index over one graph: initializers by name, the node producing each tensor, the nodes
 * consuming it, and fresh names. Rewrites that change the node list call `reindex()`.
 */
export class GraphIndex {
  readonly initializers = new Map<string, TensorProto>();
  readonly producer = new Map<string, NodeProto>();
  readonly consumers = new Map<string, NodeProto[]>();
  private readonly names = new Set<string>();

  constructor(readonly graph: GraphProto) {
    this.reindex();
  }

  reindex(): void {
    this.initializers.clear();
    this.producer.clear();
    this.consumers.clear();
    for (const t of this.graph.initializer) this.initializers.set(t.name, t);
    for (const v of [...this.graph.input, ...this.graph.output, ...this.graph.valueInfo]) this.names.add(v.name);
    for (const t of this.graph.initializer) this.names.add(t.name);
    for (const n of this.graph.node) {
      if (n.name) this.names.add(n.name);
      for (const o of n.output) {
        this.producer.set(o, n);
        this.names.add(o);
      }
      for (const i of n.input) {
        if (!i) continue;
        const list = this.consumers.get(i);
        if (list) list.push(n);
        else this.consumers.set(i, [n]);
      }
    }
  }

  /** True when the tensor is a graph output (its producer's output must keep its name). */
  isGraphOutput(name: string): boolean {
    return this.graph.output.some((o) => o.name === name);
  }

  /** A name not used anywhere in the graph yet, based on `base`. */
  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  addInitializer(t: TensorProto): void {
    this.graph.initializer.push(t);
    this.initializers.set(t.name, t);
    this.names.add(t.name);
  }

  /** Drops initializers no node (and no graph output) reads any more. */
  removeUnusedInitializers(): void {
    const used = new Set<string>(this.graph.output.map((o) => o.name));
    for (const n of this.graph.node) for (const i of n.input) used.add(i);
    this.graph.initializer = this.graph.initializer.filter((t) => used.has(t.name));
    this.graph.input = this.graph.input.filter((v) => !this.initializers.has(v.name) || used.has(v.name));
    this.reindex();
  }
}

/** Orders nodes so that every node comes after the producers of its inputs (rewrites append freely, then sort). */
export function topoSort(graph: GraphProto): void {
  const available = new Set<string>([...graph.input.map((v) => v.name), ...graph.initializer.map((t) => t.name), '']);
  const pending = [...graph.node];
  const out: NodeProto[] = [];
  while (pending.length) {
    const i = pending.findIndex((n) => n.input.every((x) => available.has(x)));
    if (i < 0) {
      out.push(...pending); // a cycle or an outer-scope input (subgraphs): keep the rest as is
      break;
    }
    const [n] = pending.splice(i, 1);
    out.push(n!);
    for (const o of n!.output) available.add(o);
  }
  graph.node = out;
}
