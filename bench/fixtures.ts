// What the benchmark serves: the shipped seed-mlp, a compute-heavy MLP generated at run time
// into a temp folder (never committed), one model repository per server configuration, and a
// handful of pre-serialized request bodies per model so the client spends little CPU on JSON.
import { mkdtemp, mkdir, rm, symlink, copyFile, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mlpModel, seededFloats } from '../src/onnx/builder.js';

/** Repository root (this file runs from dist/bench). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface BenchModel {
  /** Name the server serves it under. */
  name: string;
  /** The "seed" or "heavy" key used by BENCH_ONLY and the report. */
  key: 'seed' | 'heavy';
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
