// The server under load: its URL (loopback only unless allowed), the model's KServe v2 metadata
// read from it, and request bodies built from that metadata by the payload builder the k6
// scripts use, so any served model (on onnx-serve, or any v2 server for the v2 protocols) works.
// Every problem is a LoadError with one line that says what to fix.
import { isIP } from 'node:net';
import { request } from 'undici';
import { buildPayload, metadataPath, type ModelMetadata } from '../lib/payload.js';
import type { RequestSpec } from './engine.js';
import { LoadError, type TargetInfo } from './types.js';

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

function isLoopback(hostname: string): boolean {
  if (LOOPBACK_NAMES.has(hostname)) return true;
  return isIP(hostname) === 4 && hostname.startsWith('127.');
}

/** The origin (scheme://host:port) of a target URL; throws for a non-HTTP URL or a remote host without allowRemote. */
export function targetOrigin(url: string, allowRemote: boolean): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new LoadError(`--url "${url}" is not a URL; use e.g. http://127.0.0.1:8080`, 2);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new LoadError(`--url "${url}" must be http:// or https://`, 2);
  if (!allowRemote && !isLoopback(u.hostname)) {
    throw new LoadError(`--url "${url}" is not a loopback address (127.0.0.1, ::1, localhost); pass --allow-remote to load another host`, 2);
  }
  return u.origin;
}

/** GET the model's v2 metadata; an unreachable server or unknown model is a one-line LoadError. */
export async function fetchMetadata(origin: string, model: string, version?: string): Promise<ModelMetadata> {
  const url = origin + metadataPath(model, version);
  let status: number;
  let text: string;
  try {
    const res = await request(url, { signal: AbortSignal.timeout(10_000) });
    status = res.statusCode;
    text = await res.body.text();
  } catch (err) {
    const e = err as { code?: string; cause?: { code?: string }; name?: string; message?: string };
    const why = e.name === 'TimeoutError' ? 'no answer in 10 s' : (e.cause?.code ?? e.code ?? e.message);
    throw new LoadError(`cannot reach ${origin} (${why}); is the server running?`);
  }
  if (status === 404) {
    throw new LoadError(`model "${model}"${version ? ` version ${version}` : ''} is not served at ${origin} (${errorMessage(text)})`);
  }
  if (status !== 200) throw new LoadError(`GET ${url} answered HTTP ${status}: ${errorMessage(text)}`);
  try {
    const meta = JSON.parse(text) as ModelMetadata;
    if (!Array.isArray(meta.inputs)) throw new Error('no inputs');
    return meta;
  } catch {
    throw new LoadError(`GET ${url} did not answer KServe v2 model metadata: ${text.slice(0, 120)}`);
  }
}

function errorMessage(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: string | { message?: string } };
    const m = typeof j.error === 'string' ? j.error : j.error?.message;
    if (m) return m;
  } catch {
    /* not JSON */
  }
  return text.slice(0, 120) || 'empty answer';
}

/** `count` different bodies (seeds 1..count) for the target's protocol. */
export function buildRequests(meta: ModelMetadata, t: TargetInfo, count = 8): RequestSpec[] {
  const out: RequestSpec[] = [];
  for (let seed = 1; seed <= count; seed++) {
    try {
      const p = buildPayload(meta, { protocol: t.protocol, batch: t.batch, seed, ...(t.variant ? { variant: t.variant } : {}), ...(t.version ? { version: t.version } : {}) });
      out.push({ path: p.path, body: p.body, headers: p.headers });
    } catch (err) {
      throw new LoadError(`model "${t.model}": ${(err as Error).message}`);
    }
  }
  return out;
}

/** Sends one request before the run, so that a body the server refuses ends with its reason, not a run of errors. */
export async function probe(origin: string, spec: RequestSpec): Promise<void> {
  let status: number;
  let text: string;
  try {
    const res = await request(origin + spec.path, { method: 'POST', headers: spec.headers, body: spec.body, signal: AbortSignal.timeout(30_000) });
    status = res.statusCode;
    text = await res.body.text();
  } catch (err) {
    throw new LoadError(`POST ${spec.path} failed before the run: ${(err as Error).message}`);
  }
  if (status !== 200) throw new LoadError(`POST ${spec.path} answered HTTP ${status} before the run: ${errorMessage(text)}`);
}
