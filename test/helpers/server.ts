// Test helpers: a temporary model repository and the real server on an ephemeral loopback port.
import { mkdtemp, mkdir, writeFile, rm, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import tap from 'tap';
import { request } from 'undici';
import { createServer } from 'node:net';
import { parseServeOptions } from '../../src/config.js';
import { serve, type Served, type ServeExtra } from '../../src/server.js';

/** Repository root of the project (tests run from dist/test/helpers). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const SHIPPED_MODELS = join(ROOT, 'models');

export interface ModelFixture {
  /** ONNX bytes, or a path to copy. Keyed by version when `versions` is used. */
  onnx?: Uint8Array | string;
  versions?: Record<string, Uint8Array | string>;
  config?: unknown;
  /** More files, by path inside the model folder (e.g. `2/model.int8.onnx`): bytes, or text written as is. */
  files?: Record<string, Uint8Array | string>;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Writes models/<name>/{config.json, model.onnx | <v>/model.onnx, files…} into a fresh temp folder. */
export async function makeRepo(t: Teardown, models: Record<string, ModelFixture>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'onnx-serve-test-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const put = async (file: string, src: Uint8Array | string): Promise<void> => {
    await mkdir(dirname(file), { recursive: true });
    if (typeof src === 'string') await copyFile(src, file);
    else await writeFile(file, src);
  };
  for (const [name, m] of Object.entries(models)) {
    await mkdir(join(root, name), { recursive: true });
    if (m.config !== undefined) {
      await writeFile(join(root, name, 'config.json'), typeof m.config === 'string' ? m.config : JSON.stringify(m.config));
    }
    if (m.onnx) await put(join(root, name, 'model.onnx'), m.onnx);
    for (const [v, src] of Object.entries(m.versions ?? {})) await put(join(root, name, v, 'model.onnx'), src);
    for (const [file, content] of Object.entries(m.files ?? {})) {
      await mkdir(dirname(join(root, name, file)), { recursive: true });
      await writeFile(join(root, name, file), content);
    }
  }
  return root;
}

/** Starts the real server (real workers, real onnxruntime) on 127.0.0.1:0; shut down at teardown. */
export async function startServer(t: Teardown, modelsDir: string, args: string[] = [], extra: ServeExtra = {}): Promise<Served> {
  const opts = parseServeOptions(['--models', modelsDir, '--host', '127.0.0.1', '--port', '0', '--log-level', 'silent', '--instances', '1', ...args], {});
  const served = await serve(opts, extra);
  t.teardown(() => served.shutdown());
  return served;
}

export interface JsonResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> {
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

export async function getJson(url: string): Promise<JsonResponse> {
  const res = await request(url);
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** tap's Test type, as the callback of t.test receives it. */
export type Asserts = Parameters<Parameters<typeof tap.test>[0]>[0];

/**
 * Polls cond every 10 ms for up to timeoutMs and throws if it never holds. Tests wait on the
 * state they need (a busy worker, a queued request) rather than on a fixed sleep, which a loaded
 * 2-core CI machine can outlast.
 */
export async function waitUntil(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
}

/** A port free on 127.0.0.1 right now: nothing listens on it (a closed port), and a child may bind it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
