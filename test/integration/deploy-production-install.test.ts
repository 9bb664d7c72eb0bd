// The Docker image's steps run for real, without a Docker engine: each stage of the Dockerfile is
// replayed in a temp folder (its COPYs, ENVs and RUNs, in order), then the server starts from the
// runtime layout (HTTP and gRPC), the HEALTHCHECK command runs as written, and SIGTERM drains to exit 0.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { cp, mkdtemp, mkdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix } from 'node:path';
import { Copy, Env, type Instruction } from 'dockerfile-ast';
import { credentials, loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { content, dockerfile as df, runtimeStage, stages } from '../helpers/dockerfile.js';
import { ROOT, freePort, getJson, postJson, type Asserts } from '../helpers/server.js';

const last = runtimeStage;
const lastOf = (keyword: string) => last.filter((i) => i.getKeyword() === keyword).at(-1);

// The runner's npm_* variables (from `npm test`) must not leak into the installs; registry, cache
// and proxy settings may.
const baseEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) || /^npm_config_(registry|cache|userconfig|.*proxy|cafile|strict_ssl)$/i.test(k)),
);

interface Ran {
  code: number | null;
  output: string;
}

/** Runs a command to its end (killed after timeoutMs), with stdout and stderr interleaved. */
function run(cmd: string, args: string[], opts: { cwd?: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** A container path (WORKDIR /app) inside a stage's temp root. */
function hostPath(stageRoot: string, containerPath: string): string {
  const abs = posix.resolve('/app', containerPath);
  if (abs !== '/app' && !abs.startsWith('/app/')) throw new Error(`${containerPath}: outside /app, which this test does not replay`);
  return join(stageRoot, posix.relative('/app', abs));
}

/**
 * Replays one stage in stageRoot: WORKDIR must be /app; COPY copies from the context (ROOT) or a
 * replayed stage (Docker copies a folder's contents, not the folder); ENV accumulates; each RUN
 * step (split on &&) is run, or replaced where this machine differs from the image.
 */
async function replay(t: Asserts, stage: Instruction[], stageRoot: string, built: Map<string, string>): Promise<NodeJS.ProcessEnv> {
  const env: NodeJS.ProcessEnv = {};
  await mkdir(stageRoot, { recursive: true });
  for (const i of stage.slice(1)) {
    const kw = i.getKeyword();
    if (kw === 'WORKDIR') t.equal(content(i), '/app', 'WORKDIR /app (the layout this test replays)');
    else if (i instanceof Env) for (const p of i.getProperties()) env[p.getName()] = p.getValue() ?? '';
    else if (i instanceof Copy) {
      const args = i.getArguments().map((a) => a.getValue());
      const from = i.getFromFlag()?.getValue();
      const dest = hostPath(stageRoot, args.at(-1)!);
      for (const src of args.slice(0, -1)) {
        const source = from ? hostPath(built.get(from) ?? '', src) : join(ROOT, src);
        if (statSync(source).isDirectory()) await cp(source, dest, { recursive: true });
        else {
          const to = args.at(-1)!.endsWith('/') ? join(dest, basename(src)) : dest;
          await mkdir(dirname(to), { recursive: true });
          await cp(source, to);
        }
      }
    } else if (kw === 'RUN') {
      for (const step of content(i).split('&&').map((s) => s.trim())) {
        const sh = () => run('sh', ['-c', step], { cwd: stageRoot, env: { ...baseEnv, ...env }, timeoutMs: 150_000 });
        if (/^apt-get |^rm -rf \/var\/lib\/apt/.test(step)) continue; // tini: apt on the image; here node gets the signal directly, as tini forwards it
        if (/^npm cache clean/.test(step)) continue; // would empty this machine's npm cache
        if (/^npm ci\b/.test(step) && !/--omit=dev/.test(step)) {
          // the full install with dev dependencies is this repo's own node_modules (same lockfile)
          await symlink(join(ROOT, 'node_modules'), join(stageRoot, 'node_modules'), 'dir');
          continue;
        }
        if (!/^npm ci\b|^npx tsc\b|^find node_modules\/onnxruntime-node\/bin /.test(step)) throw new Error(`RUN step "${step}": unknown to this test; teach replay() what it does`);
        const r = await sh();
        t.equal(r.code, 0, `RUN ${step}`, r.code === 0 ? {} : { output: r.output.slice(-4000) });
        if (r.code !== 0) throw new Error(`RUN ${step} failed:\n${r.output}`);
      }
    }
  }
  return env;
}


// npm ci may download (cold cache): more than .taprc's 180 s per file, told to the runner.
t.setTimeout(300_000);

/** One gRPC ServerReady call with a client made from `proto`. */
async function grpcReady(proto: string, port: number): Promise<unknown> {
  const def = loadSync(proto, { keepCase: true, defaults: true });
  const Service = (loadPackageDefinition(def) as any).inference.GRPCInferenceService;
  const client = new Service(`127.0.0.1:${port}`, credentials.createInsecure());
  try {
    return await new Promise((resolve, reject) => client.ServerReady({}, { deadline: Date.now() + 10_000 }, (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res))));
  } finally {
    client.close();
  }
}

t.test('the image steps, replayed: build, production install, serve, healthcheck, drain', { timeout: 240_000 }, async (t) => {
  const tmp = await mkdtemp(join(tmpdir(), 'onnx-serve-image-'));
  let server: ChildProcess | undefined;
  t.teardown(async () => {
    if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    await rm(tmp, { recursive: true, force: true });
  });

  t.equal(stages.length, 2, 'two stages: build and runtime');
  const built = new Map([[df.getFROMs()[0]?.getBuildStage() ?? 'build', join(tmp, 'build')]]);
  await replay(t, stages[0]!, join(tmp, 'build'), built);
  t.ok(existsSync(join(tmp, 'build', 'dist', 'src', 'cli.js')), 'the build stage compiles dist/src/cli.js from what it copies');

  const app = join(tmp, 'app');
  const imageEnv = await replay(t, last, app, built);
  t.notOk(existsSync(join(app, 'node_modules', 'typescript')), 'no typescript (dev dependency) in the runtime install');
  t.notOk(existsSync(join(app, 'node_modules', 'tap')), 'no tap (dev dependency) in the runtime install');
  t.ok(existsSync(join(app, 'node_modules', 'fastify')), 'fastify (dependency) installed');
  const bin = join(app, 'node_modules', 'onnxruntime-node', 'bin');
  const napi = existsSync(bin) ? readdirSync(bin).filter((d) => d.startsWith('napi-v')) : [];
  t.ok(
    napi.some((d) => existsSync(join(bin, d, process.platform, process.arch, 'onnxruntime_binding.node'))),
    `onnxruntime-node ships its native binding for ${process.platform}/${process.arch} without its install script`,
  );
  const kept = napi.flatMap((d) => readdirSync(join(bin, d)).flatMap((os) => readdirSync(join(bin, d, os)).map((cpu) => `${os}/${cpu}`)));
  t.same([...new Set(kept)], [`linux/${process.arch}`], 'binaries for other platforms pruned');
  t.ok(existsSync(join(app, 'models', 'digits', 'model.onnx')), 'models baked in at /app/models');
  t.notOk(existsSync(join(app, 'src')), 'no TypeScript sources in the runtime layout');

  // CMD as written, with this node; ONNX_SERVE_MODELS unset so the default ./models under
  // WORKDIR is what serves (in the image it is set to that same /app/models).
  const cmd = JSON.parse(content(lastOf('CMD'))) as string[];
  t.equal(cmd[0], 'node', 'CMD starts node');
  // gRPC on too (ONNX_SERVE_GRPC_PORT): its .proto must be where the image puts it
  const env: NodeJS.ProcessEnv = { ...baseEnv, ...imageEnv, HOST: '127.0.0.1', PORT: '0', ONNX_SERVE_GRPC_PORT: '0' };
  delete env.ONNX_SERVE_MODELS;
  t.equal(env.NODE_ENV, 'production', 'runs with the image NODE_ENV');
  const proc = spawn(process.execPath, cmd.slice(1), { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
  server = proc;
  let output = '';
  proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.on('exit', (code, signal) => r({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line in 60 s:\n${output}`)), 60_000);
    proc.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(output);
      if (m && m[2] !== '0' && /gRPC .* on 127\.0\.0\.1:\d+/.test(output)) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then(({ code }) => reject(new Error(`server exited (${code}) before listening:\n${output}`)));
  });
  const port = Number(new URL(url).port);
  t.ok(port > 0, `PORT=0 gives an ephemeral port (${port})`);

  t.equal((await getJson(`${url}/v2/health/ready`)).status, 200, 'ready');
  const grpcPort = Number(/gRPC .* on 127\.0\.0\.1:(\d+)/.exec(output)![1]);
  t.ok(existsSync(join(app, 'proto', 'grpc_service.proto')), 'the .proto is in the runtime layout');
  t.same(await grpcReady(join(app, 'proto', 'grpc_service.proto'), grpcPort), { ready: true }, `gRPC ServerReady on ${grpcPort}, from the layout's own .proto`);
  const models = await getJson(`${url}/v1/models`);
  t.equal(models.status, 200, 'GET /v1/models');
  t.match(JSON.stringify(models.body), /digits/, 'the baked-in digits model is served');
  const pred = await postJson(`${url}/v1/predict`, { model: 'digits', inputs: { input: [Array.from({ length: 64 }, (_, i) => (i % 16) / 16)] } });
  t.equal(pred.status, 200, 'POST /v1/predict digits');
  t.equal(pred.body?.outputs?.logits?.[0]?.length, 10, '10 logits');

  // HEALTHCHECK exactly as written; it reads PORT from the environment, as in the container.
  const hc = JSON.parse(content(df.getHEALTHCHECKs().filter((h) => last.includes(h)).at(-1)).replace(/^CMD\s+/, '')) as string[];
  t.equal(hc[0], 'node', 'healthcheck runs node');
  const check = (p: number) => run(process.execPath, hc.slice(1), { env: { PATH: process.env.PATH ?? '', PORT: String(p) }, timeoutMs: 10_000 });
  const healthy = await check(port);
  t.equal(healthy.code, 0, 'healthcheck passes against the ready server', { output: healthy.output });
  t.not((await check(await freePort())).code, 0, 'healthcheck fails against a closed port');

  proc.kill('SIGTERM');
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000).unref());
  const end = await Promise.race([exited, timeout]);
  t.same(end, { code: 0, signal: null }, 'SIGTERM drains and exits 0 within 30 s', { output: output.slice(-4000) });
});
