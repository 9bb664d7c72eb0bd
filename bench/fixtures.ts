// What the benchmark serves: the shipped seed-mlp, a compute-heavy MLP and a small image CNN
// generated at run time into a temp folder (never committed), one model repository per server
// configuration, and a handful of pre-serialized request bodies per model (and, for the v2
// section, per protocol) so the client spends little CPU on JSON.
import { mkdtemp, mkdir, rm, symlink, copyFile, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cnnModel, mlpModel, seededFloats } from '../tools/onnx-builder.js';

/** Repository root (this file runs from dist/bench). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface BenchModel {
  /** Name the server serves it under. */
  name: string;
  /** The "seed", "heavy" or "cnn" key (BENCH_ONLY section names, except cnn: section v2). */
  key: 'seed' | 'heavy' | 'cnn' | 'poison' | 'padding' | 'memory';
  path: string;
  sizes: number[];
  inputName: string;
  bodies: Buffer[];
}

/** `{"model": name, "inputs": {"input": [[...features...]]}}`, values with 6 decimals in [-1, 1). */
export function makeBodies(model: string, features: number, count = 8, seed = 1234): Buffer[] {
  const bodies: Buffer[] = [];
  for (let b = 0; b < count; b++) {
    const row = Array.from(seededFloats(features, seed + b), (v) => v.toFixed(6)).join(',');
    bodies.push(Buffer.from(`{"model":${JSON.stringify(model)},"inputs":{"input":[[${row}]]}}`));
  }
  return bodies;
}

/** A /v1/predict body the server must refuse with a 4xx, and which mistake it makes. */
export interface InvalidBody {
  kind: string;
  body: Buffer;
}

/** One body per kind of mistake a client makes against `model` (whose input row has `features` values). */
export function invalidBodies(model: string, features: number): InvalidBody[] {
  const valid = makeBodies(model, features, 1)[0]!;
  const m = JSON.stringify(model);
  const words = Array.from({ length: features }, () => '"x"').join(',');
  return [
    { kind: 'malformed JSON', body: valid.subarray(0, Math.floor(valid.length / 2)) },
    { kind: 'wrong input shape', body: Buffer.from(`{"model":${m},"inputs":{"input":[[0.5,0.25,0.125]]}}`) },
    { kind: 'unknown model', body: Buffer.from(`{"model":"no-such-model","inputs":{"input":[[0.5]]}}`) },
    { kind: 'non-number values', body: Buffer.from(`{"model":${m},"inputs":{"input":[[${words}]]}}`) },
    { kind: 'empty body', body: Buffer.alloc(0) },
  ];
}

/** The same inputs encoded for each protocol the v2 section compares, built once. */
export interface ProtocolBodies {
  /** /v1/predict JSON (nested arrays for 2-D inputs, `{dims, data}` otherwise). */
  v1: Buffer[];
  /** /v2/models/{m}/infer, JSON tensors. */
  v2json: Buffer[];
  /** /v2/models/{m}/infer, binary tensor extension in and out, with its per-body headers. */
  v2binary: Buffer[];
  v2binaryHeaders: Record<string, string>[];
  /** Bytes of one body of each kind. */
  sizes: { v1: number; v2json: number; v2binary: number };
}

/** `count` single-row float32 inputs of shape dims (dims[0] = 1), values with 6 decimals in [-1, 1), in every protocol. */
export function protocolBodies(model: string, inputName: string, dims: number[], count = 4, seed = 4321): ProtocolBodies {
  const n = dims.reduce((a, b) => a * b, 1);
  const out: ProtocolBodies = { v1: [], v2json: [], v2binary: [], v2binaryHeaders: [], sizes: { v1: 0, v2json: 0, v2binary: 0 } };
  for (let b = 0; b < count; b++) {
    const text = Array.from(seededFloats(n, seed + b), (v) => v.toFixed(6));
    const flat = text.join(',');
    const v1Input = dims.length === 2 ? `[[${flat}]]` : `{"dims":${JSON.stringify(dims)},"data":[${flat}]}`;
    out.v1.push(Buffer.from(`{"model":${JSON.stringify(model)},"inputs":{${JSON.stringify(inputName)}:${v1Input}}}`));
    out.v2json.push(Buffer.from(`{"inputs":[{"name":${JSON.stringify(inputName)},"datatype":"FP32","shape":${JSON.stringify(dims)},"data":[${flat}]}]}`));
    const raw = Float32Array.from(text, Number); // the same values as the JSON bodies
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: inputName, datatype: 'FP32', shape: dims, parameters: { binary_data_size: raw.byteLength } }], parameters: { binary_data_output: true } }));
    const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength); // little-endian on every platform Node supports here
    out.v2binary.push(Buffer.concat([header, bytes]));
    out.v2binaryHeaders.push({ 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) });
  }
  out.sizes = { v1: out.v1[0]!.length, v2json: out.v2json[0]!.length, v2binary: out.v2binary[0]!.length };
  return out;
}

export class Workspace {
  private constructor(readonly dir: string) {}

  static async create(): Promise<Workspace> {
    const dir = await mkdtemp(join(tmpdir(), 'onnx-serve-bench-'));
    const ws = new Workspace(dir);
    // removed even when the bench is interrupted
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    return ws;
  }

  seedModel(): BenchModel {
    const sizes = [1000, 200, 100, 1];
    return { name: 'seed-mlp', key: 'seed', path: join(ROOT, 'models', 'seed-mlp', 'model.onnx'), sizes, inputName: 'input', bodies: makeBodies('seed-mlp', sizes[0]!) };
  }

  /** Writes the generated MLP (about 100 MB of float32 weights for 1024→4096→4096→1000). */
  async heavyModel(sizes: number[]): Promise<BenchModel> {
    const path = join(this.dir, 'generated', 'heavy-mlp.onnx');
    await mkdir(join(this.dir, 'generated'), { recursive: true });
    await writeFile(path, mlpModel(sizes, 7));
    return { name: 'heavy-mlp', key: 'heavy', path, sizes, inputName: 'input', bodies: makeBodies('heavy-mlp', sizes[0]!) };
  }

  /** Writes the generated image CNN (3×224×224 → 10, a few thousand weights). */
  async cnnModel(): Promise<BenchModel> {
    const path = join(this.dir, 'generated', 'tiny-cnn.onnx');
    await mkdir(join(this.dir, 'generated'), { recursive: true });
    await writeFile(path, cnnModel(11));
    return { name: 'tiny-cnn', key: 'cnn', path, sizes: [3 * 224 * 224, 10], inputName: 'input', bodies: [] };
  }

  /** Writes an ONNX model built at run time under generated/ and describes it. */
  async generatedModel(name: string, key: BenchModel['key'], bytes: Uint8Array, sizes: number[], inputName: string): Promise<BenchModel> {
    const path = join(this.dir, 'generated', `${name}.onnx`);
    await mkdir(join(this.dir, 'generated'), { recursive: true });
    await writeFile(path, bytes);
    return { name, key, path, sizes, inputName, bodies: [] };
  }

  /** A one-model repository `<tag>/<model.name>/{model.onnx, config.json}`; config undefined: no config.json. */
  async repo(tag: string, model: BenchModel, config?: object): Promise<string> {
    const root = join(this.dir, 'repos', tag);
    const dir = join(root, model.name);
    await mkdir(dir, { recursive: true });
    try {
      await symlink(model.path, join(dir, 'model.onnx'));
    } catch {
      await copyFile(model.path, join(dir, 'model.onnx'));
    }
    if (config) await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    return root;
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
