// deploy/prometheus: promtool accepts the config, its rules and the commented Kubernetes example;
// compose mounts them where Prometheus looks; the alerts fire on promtool's unit-test series; and
// a real Prometheus (Debian's, as CI installs it) run with the repo's config — only service
// discovery swapped for two loopback replicas — scrapes both replicas, evaluates the recording
// rules and answers every dashboard query.
import t from 'tap';
import { spawn, execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import YAML from 'yaml';
import { SHIPPED_MODELS, freePort, getJson, postJson, type Asserts } from '../helpers/server.js';
import { DEPLOY, loadCompose, loadDashboard, mountedFrom, panelQueries, parseLabelValues, variableQuery, withAllVariables } from '../helpers/monitoring.js';
import { startOnnxServe, type ChildServer } from '../../bench/servers.js';
import { PROMETHEUS, PROMTOOL } from './binaries.js';

const PROM_DIR = join(DEPLOY, 'prometheus');
const CONFIG = join(PROM_DIR, 'prometheus.yml');
const RULES = join(PROM_DIR, 'rules.yml');

interface Job {
  job_name: string;
  metrics_path?: string;
  dns_sd_configs?: { names: string[]; type: string; port: number }[];
  static_configs?: { targets: string[] }[];
  kubernetes_sd_configs?: { role: string }[];
  relabel_configs?: { source_labels?: string[]; regex?: string; action?: string }[];
}
interface Config {
  global: Record<string, string>;
  rule_files?: string[];
  scrape_configs: Job[];
}

const readConfig = async (): Promise<Config> => YAML.parse(await readFile(CONFIG, 'utf8')) as Config;
const job = (c: Config, name: string): Job => {
  const j = c.scrape_configs.find((s) => s.job_name === name);
  if (!j) throw new Error(`no scrape job ${name} in ${CONFIG}`);
  return j;
};

function promtool(args: string[], cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(PROMTOOL, args, { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

async function tempDir(tt: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'onnx-serve-prom-'));
  tt.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('promtool accepts the config and its rules', async (t) => {
  const config = await readConfig();
  t.equal(config.global.scrape_interval, '5s', 'replicas scraped every 5 s');
  t.same(config.rule_files, ['rules.yml'], 'rules beside the config');
  const serve = job(config, 'onnx-serve');
  t.equal(serve.metrics_path, '/metrics');
  t.same(serve.dns_sd_configs, [{ names: ['onnx-serve'], type: 'A', port: 8080, refresh_interval: '10s' }], 'one target per compose replica');
  t.ok(job(config, 'prometheus').static_configs, 'Prometheus scrapes itself');

  const checked = await promtool(['check', 'config', 'prometheus.yml'], PROM_DIR);
  t.equal(checked.code, 0, `promtool check config:\n${checked.out}`);
  t.match(checked.out, /Checking rules\.yml/, 'the rule file the config names was found and checked');

  const rules = await promtool(['check', 'rules', 'rules.yml'], PROM_DIR);
  t.equal(rules.code, 0, `promtool check rules:\n${rules.out}`);
  const groups = (YAML.parse(await readFile(RULES, 'utf8')) as { groups: { rules: unknown[] }[] }).groups;
  const n = groups.reduce((s, g) => s + g.rules.length, 0);
  t.match(rules.out, new RegExp(`SUCCESS: ${n} rules found`), `all ${n} rules loaded`);
});

t.test('compose runs this config and its rules, and names the service the job discovers', async (t) => {
  const compose = loadCompose();
  const volumes = compose.services.prometheus?.volumes ?? [];
  t.equal(mountedFrom(volumes, '/etc/prometheus/prometheus.yml'), CONFIG, 'prometheus.yml at the image\'s default config path');
  const config = await readConfig();
  for (const f of config.rule_files ?? []) t.equal(mountedFrom(volumes, `/etc/prometheus/${f}`), join(PROM_DIR, f), `${f} beside it`);
  for (const name of job(config, 'onnx-serve').dns_sd_configs?.[0]?.names ?? []) t.ok(compose.services[name], `${name} is a compose service`);
});

t.test('the commented kubernetes_sd example is a valid job', async (t) => {
  const lines = (await readFile(CONFIG, 'utf8')).split('\n');
  const start = lines.findIndex((l) => /^\s*#\s*- job_name: onnx-serve\s*$/.test(l));
  t.ok(start >= 0, 'the example is there');
  const block: string[] = [];
  for (let i = start; i < lines.length && /^\s*#( |$)/.test(lines[i]!); i++) block.push(lines[i]!.replace(/^(\s*)# ?/, '$1'));
  const [example] = YAML.parse(block.join('\n')) as Job[];
  t.same(example?.kubernetes_sd_configs, [{ role: 'pod' }], 'pod discovery');
  const keeps = (example?.relabel_configs ?? []).filter((r) => r.action === 'keep');
  t.same(
    keeps.map((r) => [r.source_labels, r.regex]),
    [
      [['__meta_kubernetes_pod_label_app_kubernetes_io_name'], 'onnx-serve'],
      [['__meta_kubernetes_pod_container_port_name'], 'http'],
    ],
    'keeps only onnx-serve pods, on the port named http',
  );

  t.equal(example?.metrics_path, '/metrics');

  // Debian builds Prometheus without Kubernetes discovery ("field kubernetes_sd_configs not found"),
  // so promtool checks the rest of the job (relabel actions, regexes, label names) on static targets
  const dir = await tempDir(t);
  const config = await readConfig();
  const { kubernetes_sd_configs: _sd, ...rest } = example!;
  const checkable: Job = { ...rest, static_configs: [{ targets: ['127.0.0.1:8080'] }] };
  config.scrape_configs = config.scrape_configs.map((j) => (j.job_name === 'onnx-serve' ? checkable : j));
  await writeFile(join(dir, 'prometheus.yml'), YAML.stringify(config));
  await copyFile(RULES, join(dir, 'rules.yml'));
  const checked = await promtool(['check', 'config', 'prometheus.yml'], dir);
  t.equal(checked.code, 0, `promtool check config with the Kubernetes job:\n${checked.out}`);
});

t.test('the alerts fire on the series they watch (promtool test rules)', async (t) => {
  const dir = await tempDir(t);
  const a = { job: 'onnx-serve', instance: '10.0.0.1:8080' };
  const mv = { model: 'digits', version: '1' };
  const series = (name: string, labels: Record<string, string>, values: string) => ({
    series: `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`,
    values,
  });
  const bucket = (le: string, values: string) => series('onnx_serve_request_duration_seconds_bucket', { ...a, ...mv, le }, values);
  const unitTest = {
    rule_files: [RULES],
    evaluation_interval: '1m',
    tests: [
      {
        interval: '1m',
        input_series: [
          series('onnx_serve_requests_total', { ...a, ...mv, code: '200' }, '0+60x10'),
          // one request in six above 250 ms: p99 lands in the (0.25, 0.5] bucket
          bucket('0.1', '0+50x10'),
          bucket('0.25', '0+50x10'),
          bucket('0.5', '0+60x10'),
          bucket('+Inf', '0+60x10'),
          series('onnx_serve_queue_depth', { ...a, ...mv }, '300x10'),
          series('onnx_serve_rejected_total', { ...a, ...mv, reason: 'queue_full' }, '0+30x10'),
          series('onnx_serve_worker_restarts_total', { ...a, ...mv }, '0 1 2 3 3 3 3 3'),
          series('up', { job: 'onnx-serve', instance: '10.0.0.2:8080' }, '1 0 0 0 0'),
        ],
        promql_expr_test: [
          { expr: 'model_code:onnx_serve_requests:rate1m', eval_time: '5m', exp_samples: [{ labels: 'model_code:onnx_serve_requests:rate1m{model="digits",code="200"}', value: 1 }] },
          { expr: 'model_reason:onnx_serve_rejected:rate1m', eval_time: '5m', exp_samples: [{ labels: 'model_reason:onnx_serve_rejected:rate1m{model="digits",reason="queue_full"}', value: 0.5 }] },
        ],
        alert_rule_test: [
          { eval_time: '1m', alertname: 'OnnxServeQueueDepthHigh', exp_alerts: [] }, // still pending: for 2m
          {
            eval_time: '3m',
            alertname: 'OnnxServeQueueDepthHigh',
            exp_alerts: [
              {
                exp_labels: { severity: 'warning', model: 'digits', instance: a.instance },
                exp_annotations: {
                  summary: `300 requests queued for digits on ${a.instance}`,
                  description: `The batch queue of digits on ${a.instance} stays above 256 requests.`,
                },
              },
            ],
          },
          { eval_time: '2m', alertname: 'OnnxServeWorkerRestarts', exp_alerts: [] }, // two restarts are tolerated
          {
            eval_time: '4m',
            alertname: 'OnnxServeWorkerRestarts',
            exp_alerts: [
              {
                exp_labels: { severity: 'critical', model: 'digits', instance: a.instance },
                exp_annotations: {
                  summary: `digits workers restarted 3 times in 15m on ${a.instance}`,
                  description: `Worker threads of digits on ${a.instance} keep dying and being replaced.`,
                },
              },
            ],
          },
          {
            eval_time: '8m',
            alertname: 'OnnxServeHighP99Latency',
            exp_alerts: [
              {
                exp_labels: { severity: 'warning', model: 'digits' },
                exp_annotations: {
                  summary: 'p99 latency of digits is 485ms',
                  description: 'Requests for digits spend more than 250 ms in the server (p99 over 1m, for 5m). Add replicas or instances.',
                },
              },
            ],
          },
          {
            eval_time: '8m',
            alertname: 'OnnxServeRejecting',
            exp_alerts: [
              {
                exp_labels: { severity: 'warning', model: 'digits', reason: 'queue_full' },
                exp_annotations: {
                  summary: 'digits rejects 0.50 requests/s (queue_full)',
                  description: 'Requests for digits leave without being computed (reason queue_full).',
                },
              },
            ],
          },
          {
            eval_time: '3m',
            alertname: 'OnnxServeTargetDown',
            exp_alerts: [
              {
                exp_labels: { severity: 'critical', job: 'onnx-serve', instance: '10.0.0.2:8080' },
                exp_annotations: {
                  summary: 'onnx-serve replica 10.0.0.2:8080 does not answer scrapes',
                  description: 'Prometheus cannot scrape 10.0.0.2:8080/metrics for a minute.',
                },
              },
            ],
          },
        ],
      },
    ],
  };
  await writeFile(join(dir, 'rules.test.yml'), YAML.stringify(unitTest));
  const res = await promtool(['test', 'rules', 'rules.test.yml'], dir);
  t.equal(res.code, 0, `promtool test rules:\n${res.out}`);
  t.match(res.out, /SUCCESS/);
});

// ---------------------------------------------------------------------------------------------
// A real Prometheus against two real replicas.


const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it returns a value (not undefined); throws after timeoutMs with `what` and the last error. */
async function eventually<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(250);
  }
}

interface PromProcess {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

async function startPrometheus(configFile: string, dataDir: string, port: number): Promise<PromProcess> {
  const args = [`--config.file=${configFile}`, `--storage.tsdb.path=${dataDir}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'];
  const child = spawn(PROMETHEUS, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const keep = (chunk: Buffer): void => {
    lines.push(...chunk.toString('utf8').split('\n').filter((l) => l.trim()));
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (gone()) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exit;
    clearTimeout(timer);
  };
  const url = `http://127.0.0.1:${port}`;
  const prom = { url, output: () => lines.join('\n'), stop };
  try {
    await eventually(async () => {
      if (gone()) throw new Error(`prometheus exited (${child.exitCode ?? child.signalCode}):\n${prom.output()}`);
      const res = await request(`${url}/-/ready`); // plain text, not JSON
      await res.body.dump();
      return res.statusCode === 200 || undefined;
    }, 'Prometheus is ready');
  } catch (err) {
    await stop();
    throw err;
  }
  return prom;
}

interface PromSeries {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(prom: PromProcess, q: string): Promise<PromSeries[]> {
  const res = await getJson(`${prom.url}/api/v1/query?query=${encodeURIComponent(q)}`);
  if (res.status !== 200 || res.body?.status !== 'success') throw new Error(`query ${q} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.data.result as PromSeries[];
}

/** instance → value of a query that yields one series per instance. */
async function byInstance(prom: PromProcess, q: string): Promise<Map<string, number>> {
  return new Map((await query(prom, q)).map((s) => [s.metric.instance!, Number(s.value[1])]));
}

const digitsRow = (seed: number): number[] => Array.from({ length: 64 }, (_, i) => (i * 7 + seed) % 17);

async function predict(t: Asserts, server: ChildServer, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await postJson(`${server.url}/v1/predict`, { model: 'digits', inputs: { input: [digitsRow(i)] } });
    t.equal(res.status, 200, `prediction on ${server.url}`);
  }
}

t.test('a real Prometheus with the repo config scrapes every replica and answers the dashboard', async (t) => {
  const [a, b] = await Promise.all([startOnnxServe(SHIPPED_MODELS, ['--instances', '1']), startOnnxServe(SHIPPED_MODELS, ['--instances', '1'])]);
  t.teardown(() => Promise.all([a.stop(), b.stop()]));
  const hostA = new URL(a.url).host;
  const hostB = new URL(b.url).host;
  // different counts per replica, so a swapped or merged instance label shows
  const sent = new Map([
    [hostA, 3],
    [hostB, 5],
  ]);
  await predict(t, a, 3);
  await predict(t, b, 5);

  const dir = await tempDir(t);
  const port = await freePort();
  const config = await readConfig();
  config.global.scrape_interval = '1s';
  if (config.global.scrape_timeout) config.global.scrape_timeout = '1s';
  // recording rules evaluated every second, so their output shows within the wait below
  config.global.evaluation_interval = '1s';
  const serve = job(config, 'onnx-serve');
  delete serve.dns_sd_configs;
  serve.static_configs = [{ targets: [hostA, hostB] }];
  job(config, 'prometheus').static_configs = [{ targets: [`127.0.0.1:${port}`] }];
  await writeFile(join(dir, 'prometheus.yml'), YAML.stringify(config));
  for (const f of config.rule_files ?? []) await copyFile(join(PROM_DIR, f), join(dir, f));

  const prom = await startPrometheus(join(dir, 'prometheus.yml'), join(dir, 'data'), port);
  t.teardown(() => prom.stop());
  const ctx = (): string => `\nprometheus output:\n${prom.output()}`;

  const counts = (): Promise<Map<string, number>> => byInstance(prom, 'sum by (instance) (onnx_serve_requests_total{model="digits", code="200"})');
  const first = await eventually(async () => {
    const m = await counts();
    return m.has(hostA) && m.has(hostB) ? m : undefined;
  }, `onnx_serve_requests_total of both replicas is in Prometheus${ctx()}`);
  t.same(first, sent, 'each replica counted exactly the predictions it answered');
  const all = await query(prom, 'onnx_serve_requests_total');
  t.same(new Set(all.map((s) => s.metric.instance)), new Set([hostA, hostB]), 'onnx_serve_requests_total series carry both replicas as instance');
  t.ok(all.every((s) => s.metric.job === 'onnx-serve' && s.metric.model === 'digits'), 'job label from the scrape config');
  t.comment(`onnx_serve_requests_total: ${all.length} series; instances ${[...new Set(all.map((s) => s.metric.instance))].join(', ')}`);

  const targets = await eventually(async () => {
    const res = await getJson(`${prom.url}/api/v1/targets?state=active`);
    const active = res.body.data.activeTargets as { labels: Record<string, string>; scrapeUrl: string; health: string; lastError: string }[];
    return active.length === 3 && active.every((x) => x.health === 'up') ? active : undefined;
  }, `all three targets are up${ctx()}`);
  const serveTargets = targets.filter((x) => x.labels.job === 'onnx-serve');
  t.same(new Set(serveTargets.map((x) => x.scrapeUrl)), new Set([`http://${hostA}/metrics`, `http://${hostB}/metrics`]), 'one target per replica, at metrics_path');
  t.same(
    serveTargets.map((x) => x.health),
    ['up', 'up'],
    'both replicas up',
  );
  t.equal(targets.find((x) => x.labels.job === 'prometheus')?.health, 'up', 'Prometheus scrapes itself');
  const perInstance = await byInstance(prom, 'count by (instance) ({job="onnx-serve"})');
  t.comment(`series per replica: ${[...perInstance].map(([i, n]) => `${i} ${n}`).join(', ')}`);

  // traffic after the first scrapes, so rates are positive
  await predict(t, a, 4);
  await predict(t, b, 4);
  const later = await eventually(async () => {
    const m = await counts();
    return m.get(hostA) === 7 && m.get(hostB) === 9 ? m : undefined;
  }, `the counters reach 7 and 9${ctx()}`);
  t.same(later, new Map([[hostA, 7], [hostB, 9]]), 'counters follow the traffic');

  const recorded = await eventually(async () => {
    const r = await query(prom, 'model_code:onnx_serve_requests:rate1m{model="digits", code="200"}');
    return r.length === 1 && Number(r[0]!.value[1]) > 0 ? r : undefined;
  }, `the recording rule yields a positive request rate${ctx()}`);
  t.ok(Number(recorded[0]!.value[1]) > 0, 'recording rule evaluated on the scraped series');

  const dashboard = loadDashboard();
  for (const { panel, target } of panelQueries(dashboard)) {
    const expr = withAllVariables(target.expr);
    const byInst = /\bby\s*\([^)]*\binstance\b/.test(expr);
    const result = await eventually(async () => {
      const r = await query(prom, expr);
      if (r.length === 0) return undefined;
      if (byInst && !(r.some((s) => s.metric.instance === hostA) && r.some((s) => s.metric.instance === hostB))) return undefined;
      return r;
    }, `"${panel}" ${target.refId} returns series${byInst ? ' for both replicas' : ''}: ${expr}`, 15_000);
    t.ok(result.length > 0, `"${panel}" ${target.refId}: ${result.length} series`);
  }
  const rate = await query(prom, withAllVariables(panelQueries(dashboard).find((q) => /rate\(onnx_serve_requests_total\b/.test(q.target.expr))!.target.expr));
  t.ok(
    rate.some((s) => s.metric.model === 'digits' && s.metric.code === '200' && Number(s.value[1]) > 0),
    'request-rate panel shows the digits traffic',
  );

  for (const v of dashboard.templating.list) {
    const lv = parseLabelValues(variableQuery(v));
    t.ok(lv, `variable ${v.name} is a label_values query`);
    if (!lv) continue;
    // what Grafana's Prometheus datasource asks for a label_values(selector, label) variable
    const res = await getJson(`${prom.url}/api/v1/label/${lv.label}/values?match[]=${encodeURIComponent(withAllVariables(lv.selector))}`);
    t.equal(res.status, 200, `variable ${v.name} query`);
    const values = res.body.data as string[];
    const expected = v.name === 'instance' ? [hostA, hostB] : ['digits'];
    t.ok(expected.every((x) => values.includes(x)), `variable ${v.name} offers ${expected.join(', ')} (got ${values.join(', ')})`);
  }
});
