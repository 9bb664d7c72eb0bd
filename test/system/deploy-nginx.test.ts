// deploy/nginx/nginx.conf and deploy/compose.yaml: the real nginx (Debian's, on loopback) in front
// of two real onnx-serve processes, one SIGTERMed under open-loop load with no request failing;
// what nginx resends and what it never does (admin); and the conf's and compose file's shape.
import t from 'tap';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import YAML from 'yaml';
import { parseLoadOptions } from '../../load/runner/options.js';
import { prepare, runOnce } from '../../load/runner/run.js';
import { startOnnxServe } from '../../bench/servers.js';
import { blocks, NGINX_CONF, startNginx } from './helpers/nginx.js';
import { ROOT, SHIPPED_MODELS, type Asserts } from '../helpers/server.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** p's value, or `late` after ms; the timer is cleared so that it holds no test open. */
async function within<T, L>(p: Promise<T>, ms: number, late: L): Promise<T | L> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<L>((r) => (timer = setTimeout(() => r(late), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function tempPrefix(t: Asserts): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'onnx-serve-nginx-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

interface Replica {
  url: string;
  port: number;
  output(): string;
  /** Resolves with the exit code (null if killed by a signal). */
  exit: Promise<number | null>;
  signal(sig: NodeJS.Signals): void;
}

/** The real CLI as a child (info logs: the test reads the end of the drain from them). */
async function startReplica(t: Asserts): Promise<Replica> {
  const s = await startOnnxServe(SHIPPED_MODELS, ['--log-level', 'info', '--drain-timeout-ms', '20000', '--instances', '1']);
  t.teardown(() => s.stop());
  return { url: s.url, port: Number(new URL(s.url).port), output: s.output, exit: s.exited, signal: (sig) => process.kill(s.pid, sig) };
}

/** onnx_serve_requests_total for model digits, summed over version, variant and code. */
async function digitsServed(url: string): Promise<number> {
  const res = await request(`${url}/metrics`, { signal: AbortSignal.timeout(5000) });
  const text = await res.body.text();
  let sum = 0;
  for (const m of text.matchAll(/^onnx_serve_requests_total\{([^}]*)\} (\S+)$/gm)) if (/model="digits"/.test(m[1]!)) sum += Number(m[2]);
  return sum;
}

t.test('two replicas behind nginx: SIGTERM one under load, every request still answers 200', async (t) => {
  const prefix = await tempPrefix(t);
  const [a, b] = await Promise.all([startReplica(t), startReplica(t)]);
  const nginx = await startNginx(t, { prefix, upstreams: [a.port, b.port] });
  t.match(nginx.testOutput, /test is successful/, 'nginx -t accepts the rendered repo conf');

  // Node announces its keep-alive timeout; nginx must close idle upstream connections first
  const live = await request(`${b.url}/v2/health/live`);
  await live.body.text();
  const serverKeepAliveS = Number(/timeout=(\d+)/.exec(String(live.headers['keep-alive']))?.[1]);
  const nginxKeepAliveS = Number(/keepalive_timeout (\d+)s;/.exec(await readFile(NGINX_CONF, 'utf8'))?.[1]);
  t.ok(nginxKeepAliveS < serverKeepAliveS, `upstream keepalive_timeout ${nginxKeepAliveS}s < the server's ${serverKeepAliveS}s`);

  const rate = 80;
  const durationMs = 8000;
  const o = parseLoadOptions(['--url', nginx.url, '--model', 'digits', '--quiet', '--rate', String(rate), '--duration', `${durationMs / 1000}s`, '--timeout', '10s'])!;
  const prepared = await prepare(o);
  const started = performance.now();
  const run = runOnce(o, prepared);

  await sleep(2500);
  const [aBefore, bBefore] = await Promise.all([digitsServed(a.url), digitsServed(b.url)]);
  t.ok(aBefore > 20 && bBefore > 20, `both replicas served digits before the SIGTERM (A ${aBefore}, B ${bBefore})`);
  a.signal('SIGTERM');
  const killedAtMs = performance.now() - started;

  const report = await run;
  const bAfter = await digitsServed(b.url);
  const aCode = await within(a.exit, 30_000, 'still running after 30 s');
  const diag = async (): Promise<string> => `\nnginx error.log:\n${(await nginx.errorLog()).split('\n').filter((l) => /\[(warn|error|crit|alert)\]/.test(l)).slice(-15).join('\n')}\nreplica A:\n${a.output().slice(-2000)}`;

  const q = report.requests;
  t.ok(q.sent >= rate * (durationMs / 1000) * 0.9, `the load ran (${q.sent} sent)`);
  t.same({ errors: q.errors, timeouts: q.timeouts, dropped: q.dropped, ok: q.ok }, { errors: 0, timeouts: 0, dropped: 0, ok: q.sent }, `no request failed: ${JSON.stringify(report.errors)}${q.ok === q.sent ? '' : await diag()}`);
  t.same(Object.keys(report.statusCodes), ['200'], `only 200s (${JSON.stringify(report.statusCodes)})`);
  t.equal(aCode, 0, `replica A drained and exited 0${aCode === 0 ? '' : await diag()}`);
  t.match(a.output(), /drained; workers ended/, 'replica A logged the end of its drain');
  // after the signal A takes no new connections: the rest of the run is B's
  const expectedAfter = rate * ((durationMs - killedAtMs) / 1000);
  t.ok(bAfter - bBefore >= 0.8 * expectedAfter, `B took the traffic after the SIGTERM: +${bAfter - bBefore} (≈ ${expectedAfter.toFixed(0)} due)`);

  const lines = (await nginx.accessLog()).split('\n').filter((l) => l.includes('"POST /v1/predict'));
  const upstreams = new Set(lines.flatMap((l) => (/upstream="([^"]*)"/.exec(l)?.[1] ?? '').split(/, /)));
  t.ok(upstreams.has(`127.0.0.1:${a.port}`) && upstreams.has(`127.0.0.1:${b.port}`), `the access log shows both replicas (${[...upstreams].join(' ')})`);
  // the load plus prepare()'s one probe
  t.equal(lines.length, q.sent + 1, 'every request went through nginx');
  t.equal(lines.filter((l) => !/" 200 /.test(l)).length, 0, 'nginx answered 200 to every one');
  // nginx does see the drain: A refuses new connections and resets the keep-alive ones it
  // closes, and nginx resends those requests (POSTs: non_idempotent) to B
  const resent = lines.filter((l) => /upstream="[^"]*,/.test(l));
  const toB = new RegExp(`upstream="127\\.0\\.0\\.1:${a.port}, 127\\.0\\.0\\.1:${b.port}"`);
  t.ok(resent.length > 0 && resent.every((l) => toB.test(l)), `requests that met the SIGTERM were resent from A to B (${resent.length})`);
  const errors = await nginx.errorLog();
  const count = (re: RegExp): number => errors.match(new RegExp(re.source, 'g'))?.length ?? 0;
  t.comment(
    `SIGTERM at ${(killedAtMs / 1000).toFixed(2)} s; A had served ${aBefore}, B ${bBefore} → ${bAfter} at the end; ${resent.length} resent to B ` +
      `(nginx error.log: ${count(/connect\(\) failed \(111/)} refused, ${count(/\(104: Connection reset/)} reset, ${count(/prematurely closed/)} closed early; upstream status ${[...new Set(resent.map((l) => /ustatus="([^"]*)"/.exec(l)?.[1]))].join(' / ')})`,
  );
});

/** A replica stand-in that answers 503 to everything and counts what reached it. */
async function stub503(t: Asserts): Promise<{ port: number; hits: string[] }> {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    req.resume().on('end', () => res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"stub"}'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as { port: number }).port, hits };
}

t.test('nginx resends inference to the other replica but never an admin call', async (t) => {
  const [x, y] = await Promise.all([stub503(t), stub503(t)]);
  const nginx = await startNginx(t, { prefix: await tempPrefix(t), upstreams: [x.port, y.port] });
  const hits = (): number => x.hits.length + y.hits.length;
  const post = async (path: string): Promise<number> => {
    const res = await request(nginx.url + path, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer t' }, body: '{}' });
    await res.body.text();
    return res.statusCode;
  };
  // each replica fails at most 2 of max_fails=3 here, so none is taken out between the calls
  t.equal(await post('/v2/repository/index'), 503, 'admin: the 503 goes back to the caller');
  t.equal(hits(), 1, 'admin: sent to one replica only, not resent');
  t.equal(await post('/v1/predict'), 503, 'predict: the last replica\'s 503 when all fail');
  t.equal(hits(), 3, 'predict: resent to the other replica');
  t.equal(await post('/v2/models/digits/versions/1/infer'), 503);
  t.equal(hits(), 5, 'v2 infer: resent to the other replica');
  t.ok(x.hits.length > 0 && y.hits.length > 0, 'both replicas were tried');
});

t.test('nginx.conf: balancing, keep-alive, passive checks, and which locations may resend a POST', async (t) => {
  const conf = await readFile(NGINX_CONF, 'utf8');
  const all = blocks(conf);
  const upstream = all.find((b) => b.head === 'upstream onnx_serve');
  t.ok(upstream, 'upstream onnx_serve');
  t.match(upstream?.body, /^\s*least_conn;/m, 'least_conn');
  t.match(upstream?.body, /^\s*keepalive \d+;/m, 'keep-alive connections to the replicas');
  t.match(upstream?.body, /^\s*server onnx-serve:8080 .*max_fails=\d+.*fail_timeout=\d+s.*;/m, 'passive health checks on the replicas');
  const server = all.find((b) => b.head === 'server');
  t.match(server?.body, /^\s*proxy_http_version 1\.1;/m, 'HTTP/1.1 to the replicas (keep-alive)');
  t.match(server?.body, /^\s*proxy_set_header Connection "";/m, 'no "Connection: close" to the replicas');
  t.match(server?.body, /^\s*proxy_set_header X-Request-Id \$req_id;/m, 'X-Request-Id passed on');

  const locations = new Map(all.filter((b) => b.head.startsWith('location ')).map((b) => [b.head.slice('location '.length), b.body]));
  const inference = ['/v1/predict', '~ ^/v2/models/[^/]+(/versions/[^/]+)?/infer$'];
  for (const loc of inference) {
    t.match(locations.get(loc), /^\s*proxy_next_upstream error timeout http_502 http_503 non_idempotent;/m, `${loc}: resends POSTs`);
    t.match(locations.get(loc), /^\s*proxy_next_upstream_tries \d+;/m, `${loc}: bounded tries`);
  }
  const grpcInfer = '/inference.GRPCInferenceService/ModelInfer';
  t.match(locations.get(grpcInfer), /^\s*grpc_next_upstream error timeout non_idempotent;/m, 'gRPC ModelInfer: resent when a replica does not answer');
  t.match(locations.get(grpcInfer), /^\s*grpc_next_upstream_tries \d+;/m, 'gRPC ModelInfer: bounded tries');
  for (const [loc, body] of locations) if (!inference.includes(loc) && loc !== grpcInfer) t.notMatch(body, /non_idempotent/, `${loc}: never resends a POST`);
  for (const loc of [grpcInfer, '/inference.GRPCInferenceService/']) t.match(locations.get(loc), /^\s*grpc_pass grpc:\/\/onnx_serve_grpc;/m, `${loc}: to the gRPC upstream`);
  const grpcUpstream = all.find((b) => b.head === 'upstream onnx_serve_grpc');
  t.match(grpcUpstream?.body, /^\s*server onnx-serve:8081 .*max_fails=\d+.*fail_timeout=\d+s.*;/m, 'gRPC: the replicas\' gRPC port, passive health checks');
  t.ok(all.some((b) => b.head === 'server' && /^\s*listen 8081 http2;/m.test(b.body)), 'gRPC: an HTTP/2 server on 8081');
  t.match(locations.get('/v2/repository/'), /^\s*proxy_next_upstream off;/m, 'admin: never resent');
  t.match(locations.get('/'), /^\s*proxy_next_upstream error timeout http_502 http_503;/m, 'the rest: idempotent retries');
  t.ok(locations.has('= /nginx-health'), 'the load balancer\'s own health');
  for (const [loc, body] of locations) if (/proxy_pass/.test(body)) t.match(body, /proxy_pass http:\/\/onnx_serve;/, `${loc}: to the upstream`);

  const re = new RegExp(inference[1]!.slice(2));
  t.ok(re.test('/v2/models/digits/infer') && re.test('/v2/models/digits/versions/1/infer'), 'the infer location matches both v2 infer paths');
  t.notOk(re.test('/v2/models/digits') || re.test('/v2/repository/models/digits/load'), '...and not metadata or admin paths');
  t.notMatch(conf, /^\s*(pid|daemon)\s/m, 'no pid/daemon: the image and the test supply them');
});

t.test('deploy/compose.yaml: replicas behind nginx, Prometheus and Grafana, mounts that exist', async (t) => {
  const deployDir = join(ROOT, 'deploy');
  const doc = YAML.parse(await readFile(join(deployDir, 'compose.yaml'), 'utf8'));
  const s = doc?.services ?? {};
  t.same(Object.keys(s).sort(), ['grafana', 'nginx', 'onnx-serve', 'prometheus'], 'the four services');

  const app = s['onnx-serve'];
  t.equal(app?.build?.context, '..', 'onnx-serve is built from the repo root');
  t.ok(existsSync(join(deployDir, app?.build?.context ?? '', app?.build?.dockerfile ?? 'Dockerfile')), 'its Dockerfile exists');
  t.ok(app?.deploy?.replicas >= 2, `${app?.deploy?.replicas} replicas`);
  t.notOk('ports' in (app ?? {}), 'the replicas publish no ports');
  t.notOk('container_name' in (app ?? {}), 'no container_name (it would forbid replicas)');
  const drainMs = Number(app?.environment?.ONNX_SERVE_DRAIN_TIMEOUT_MS);
  const graceS = Number(/^(\d+)s$/.exec(String(app?.stop_grace_period))?.[1]);
  t.ok(drainMs > 0 && graceS * 1000 > drainMs, `stop_grace_period ${graceS}s outlasts the drain timeout ${drainMs} ms`);

  t.same(s.nginx?.ports, ['8080:8080', '8081:8081'], 'nginx publishes 8080 and 8081 (gRPC)');
  t.equal(app?.environment?.ONNX_SERVE_GRPC_PORT, '8081', 'the replicas serve gRPC on the port nginx sends it to');
  t.equal(s.nginx?.depends_on?.['onnx-serve']?.condition, 'service_healthy', 'nginx starts once the replicas are ready');
  t.same(s.prometheus?.ports, ['9090:9090'], 'prometheus publishes 9090');
  t.same(s.grafana?.ports, ['3000:3000'], 'grafana publishes 3000');
  t.equal(s.grafana?.environment?.GF_AUTH_ANONYMOUS_ENABLED, 'true', 'grafana: anonymous viewers');

  const mounts = (svc: string): string[] => (s[svc]?.volumes ?? []).map(String);
  t.ok(mounts('nginx').includes('./nginx/nginx.conf:/etc/nginx/nginx.conf:ro'), 'nginx mounts the repo conf');
  t.ok(mounts('prometheus').includes('./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro'), 'prometheus mounts its config');
  t.ok(mounts('grafana').includes('./grafana/provisioning:/etc/grafana/provisioning:ro'), 'grafana mounts its provisioning');
  t.ok(mounts('grafana').includes('./grafana/dashboards:/var/lib/grafana/dashboards:ro'), 'grafana mounts its dashboards');
  for (const svc of Object.keys(s)) {
    for (const m of mounts(svc)) {
      const host = m.split(':')[0]!;
      if (host.startsWith('.')) t.ok(existsSync(join(deployDir, host)), `${svc}: ${host} exists`);
    }
  }
});
