// Test helpers for deploy/nginx/nginx.conf: render it for loopback (replicas on 127.0.0.1 ports,
// everything nginx writes under a temp prefix), check it with `nginx -t`, run the real nginx in
// the foreground as a child, and split the conf into its blocks for static checks.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { ROOT, freePort } from '../../helpers/server.js';
import { NGINX } from '../binaries.js';

export const NGINX_CONF = join(ROOT, 'deploy', 'nginx', 'nginx.conf');
/** Debian's nginx (CI installs it with apt-get), nginx on PATH otherwise, or $NGINX. */
export const NGINX_BIN = NGINX;

/** Replaces exactly one match of re, or throws: a conf edit that breaks the template fails loudly. */
function replaceOnce(text: string, re: RegExp, by: (m: RegExpExecArray) => string, what: string): string {
  const all = [...text.matchAll(new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g'))];
  if (all.length !== 1) throw new Error(`nginx.conf template: expected exactly one ${what}, found ${all.length}`);
  const m = re.exec(text)!;
  return text.slice(0, m.index) + by(m) + text.slice(m.index + m[0].length);
}

/**
 * The repo's conf for loopback: listen on 127.0.0.1:port, one `server` line per replica port
 * (keeping the line's parameters), the access log and temp files under prefix, and workers as the
 * current user (as root, the image's `nginx` user need not exist here).
 */
export function renderConf(conf: string, o: { port: number; upstreams: number[]; prefix: string; grpcPort: number; grpcUpstreams?: number[] }): string {
  let out = replaceOnce(conf, /^user \S+;$/m, () => `user ${userInfo().username};`, '`user ...;` line');
  out = replaceOnce(out, /^(\s*)listen 8080;$/m, (m) => `${m[1]}listen 127.0.0.1:${o.port};`, '`listen 8080;` line');
  out = replaceOnce(out, /^(\s*)listen 8081 http2;$/m, (m) => `${m[1]}listen 127.0.0.1:${o.grpcPort} http2;`, '`listen 8081 http2;` line');
  // replicas started without --grpc-port: one address marked down keeps the upstream valid
  const grpc = o.grpcUpstreams?.length ? o.grpcUpstreams : undefined;
  out = replaceOnce(
    out,
    /^(\s*)server onnx-serve:8081((?: [^;\n]+)?);$/m,
    (m) => (grpc ? grpc.map((p) => `${m[1]}server 127.0.0.1:${p}${m[2]};`).join('\n') : `${m[1]}server 127.0.0.1:9 down;`),
    '`server onnx-serve:8081 ...;` line',
  );
  out = replaceOnce(
    out,
    /^(\s*)server onnx-serve:8080((?: [^;\n]+)?);$/m,
    (m) => o.upstreams.map((p) => `${m[1]}server 127.0.0.1:${p}${m[2]};`).join('\n'),
    '`server onnx-serve:8080 ...;` line',
  );
  out = replaceOnce(out, /^(\s*)access_log \/dev\/stdout (\w+);$/m, (m) => `${m[1]}access_log ${join(o.prefix, 'access.log')} ${m[2]};`, '`access_log /dev/stdout FORMAT;` line');
  // the compiled-in temp paths (/var/lib/nginx/...) are not ours to write
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `    ${k}_temp_path ${join(o.prefix, k)};`).join('\n');
  out = replaceOnce(out, /^http \{$/m, (m) => `${m[0]}\n${temps}`, '`http {` line');
  return out;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface RunningNginx {
  url: string;
  /** host:port of the gRPC server block. */
  grpcAddress: string;
  prefix: string;
  /** What `nginx -t` printed (it passed). */
  testOutput: string;
  accessLog(): Promise<string>;
  errorLog(): Promise<string>;
}

const live = new Set<ChildProcess>();
let hooked = false;
/** nginx's workers outlive a SIGKILLed master, so a last resort kills the whole process group. */
function killGroups(): void {
  for (const c of live) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/**
 * Writes the rendered conf under prefix, runs `nginx -t` (throws unless it passes), starts nginx in
 * the foreground in its own process group, and waits for /nginx-health. Stopped at teardown.
 */
export async function startNginx(t: Teardown, o: { prefix: string; upstreams: number[]; grpcUpstreams?: number[] }): Promise<RunningNginx> {
  const port = await freePort();
  const grpcPort = await freePort();
  const confFile = join(o.prefix, 'nginx.conf');
  await writeFile(confFile, renderConf(await readFile(NGINX_CONF, 'utf8'), { port, upstreams: o.upstreams, prefix: o.prefix, grpcPort, ...(o.grpcUpstreams ? { grpcUpstreams: o.grpcUpstreams } : {}) }));
  const errorFile = join(o.prefix, 'error.log');
  const args = ['-p', o.prefix, '-c', confFile, '-e', errorFile, '-g', `daemon off; pid ${join(o.prefix, 'nginx.pid')}; error_log ${errorFile} info;`];
  const check = spawnSync(NGINX_BIN, ['-t', ...args], { encoding: 'utf8', timeout: 10_000 });
  const testOutput = `${check.stdout}${check.stderr}`;
  if (check.status !== 0) throw new Error(`nginx -t failed (${check.status ?? check.error?.message}):\n${testOutput}`);

  if (!hooked) {
    hooked = true;
    process.on('exit', killGroups);
  }
  const child = spawn(NGINX_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  live.add(child);
  let output = '';
  child.stdout!.on('data', (b: Buffer) => (output += b));
  child.stderr!.on('data', (b: Buffer) => (output += b));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM'); // fast shutdown: the master stops its workers, then exits
      let timer: NodeJS.Timeout | undefined;
      const done = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 5000)))]);
      clearTimeout(timer);
      if (!done) killGroups();
    }
    live.delete(child);
  });

  const url = `http://127.0.0.1:${port}`;
  const grpcAddress = `127.0.0.1:${grpcPort}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}) at start:\n${output}`);
    const ok = await request(`${url}/nginx-health`, { signal: AbortSignal.timeout(1000) }).then(
      async (r) => (await r.body.text(), r.statusCode === 200),
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`nginx did not answer /nginx-health in 10 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const read = (f: string) => () => readFile(join(o.prefix, f), 'utf8').catch(() => '');
  return { url, grpcAddress, prefix: o.prefix, testOutput, accessLog: read('access.log'), errorLog: read('error.log') };
}

export interface Block {
  /** e.g. `location = /nginx-health`, `upstream onnx_serve`. */
  head: string;
  /** The text between the braces, nested blocks included. */
  body: string;
}

/** Every `head { ... }` block at any depth, comments removed; braces inside strings are not expected. */
export function blocks(conf: string): Block[] {
  const text = conf.replace(/#[^\n]*/g, '');
  const out: Block[] = [];
  const stack: { head: string; start: number }[] = [];
  let stmtStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') {
      stack.push({ head: text.slice(stmtStart, i).trim().replace(/\s+/g, ' '), start: i + 1 });
      stmtStart = i + 1;
    } else if (c === '}') {
      const open = stack.pop();
      if (!open) throw new Error(`unbalanced "}" at offset ${i}`);
      out.push({ head: open.head, body: text.slice(open.start, i) });
      stmtStart = i + 1;
    } else if (c === ';') stmtStart = i + 1;
  }
  if (stack.length) throw new Error(`unclosed block "${stack[stack.length - 1]!.head}"`);
  return out;
}
