// deploy/grafana (provisioning and the onnx-serve dashboard) and the queries of
// deploy/prometheus/rules.yml, checked against what a real server's /metrics exports: every metric
// a query names exists, every label it groups or filters by is on that metric, the headline panels
// are there, and everything points at the datasource and paths compose provisions.
// Grafana is not installable here, so these are the checks short of rendering the dashboard.
import t from 'tap';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import YAML from 'yaml';
import { ROOT, SHIPPED_MODELS, postJson, startServer, type Asserts } from '../helpers/server.js';
import { DASHBOARD_FILE, loadCompose, loadDashboard, mountedFrom, panelQueries, parseLabelValues, queryPanels, variableQuery, type Panel } from '../helpers/monitoring.js';

const GRAFANA = join(ROOT, 'deploy', 'grafana');
const DASHBOARDS_MOUNT = '/var/lib/grafana/dashboards';

/** Labels Prometheus adds to every scraped series. */
const TARGET_LABELS = ['instance', 'job'];
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

interface Exported {
  /** Sample names: families, plus _bucket/_sum/_count of histograms. */
  names: Set<string>;
  /** Label names seen on each sample name. */
  labels: Map<string, Set<string>>;
}

function parseExposition(text: string): Exported {
  const names = new Set<string>();
  const labels = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      const [, name, kind] = type;
      names.add(name!);
      const suffixes = kind === 'histogram' ? ['_bucket', '_sum', '_count'] : kind === 'summary' ? ['_sum', '_count'] : [];
      for (const s of suffixes) names.add(name! + s);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!sample) continue;
    const set = labels.get(sample[1]!) ?? new Set<string>();
    for (const l of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g)) set.add(l[1]!);
    labels.set(sample[1]!, set);
  }
  return { names, labels };
}

interface Analysis {
  metrics: string[];
  /** Labels of every by (...) / without (...) clause. */
  grouping: string[];
  matchers: { metric: string; label: string }[];
}

/** Enough of PromQL for the queries we write: selectors, label matchers, grouping clauses. */
function analyse(expr: string): Analysis {
  const matchers = [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g)].flatMap((s) =>
    [...s[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"/g)].map((l) => ({ metric: s[1]!, label: l[1]! })),
  );
  const grouping = [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) =>
    m[1]!
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const metrics = [...bare.matchAll(/(?<![0-9.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)]
    .filter((m) => m[2] === undefined && !KEYWORDS.has(m[1]!))
    .map((m) => m[1]!);
  return { metrics: [...new Set(metrics)], grouping, matchers };
}

/**
 * Checks one query against the scrape: the metrics it names are exported (or `up`, or recorded by
 * a rule), and each label it filters or groups by exists on the metrics involved.
 */
function checkQuery(t: Tap, what: string, expr: string, exported: Exported, recorded: Map<string, Set<string>> = new Map()): Analysis {
  const a = analyse(expr);
  t.ok(a.metrics.length > 0, `${what} names a metric: ${expr}`);
  const labelsOf = (m: string): Set<string> => {
    const own = m === 'up' ? [] : (recorded.get(m) ?? exported.labels.get(m) ?? []);
    return new Set([...own, ...TARGET_LABELS]);
  };
  for (const m of a.metrics) {
    const known = exported.names.has(m) || m === 'up' || recorded.has(m);
    t.ok(known, `${what}: ${m} is ${m.includes(':') ? 'recorded by a rule' : 'exported by the server'}`);
    t.ok(m.startsWith('onnx_serve_') || m === 'up' || m.includes(':onnx_serve_'), `${what}: ${m} is an onnx-serve series`);
  }
  for (const { metric, label } of a.matchers) t.ok(labelsOf(metric).has(label), `${what}: ${metric} has label ${label}`);
  for (const label of a.grouping) {
    const missing = a.metrics.filter((m) => !labelsOf(m).has(label));
    t.same(missing, [], `${what}: grouping label ${label} is on ${a.metrics.join(', ')}`);
  }
  return a;
}

type Tap = Asserts;

async function scrapeRealServer(t: Tap): Promise<Exported> {
  const served = await startServer(t, SHIPPED_MODELS);
  // one answered request, so the code-labelled counter has a series to show its labels
  const res = await postJson(`${served.url}/v1/predict`, { model: 'digits', inputs: { input: [Array.from({ length: 64 }, (_, i) => i % 16)] } });
  t.equal(res.status, 200, 'prediction');
  const metrics = await request(`${served.url}/metrics`);
  t.equal(metrics.statusCode, 200, 'GET /metrics');
  return parseExposition(await metrics.body.text());
}

t.test('every dashboard and rule query names only exported metrics and labels', async (t) => {
  const exported = await scrapeRealServer(t);
  for (const required of ['onnx_serve_requests_total', 'onnx_serve_request_duration_seconds_bucket', 'onnx_serve_queue_depth', 'onnx_serve_rejected_total']) {
    t.ok(exported.names.has(required), `the scrape exports ${required}`);
  }
  t.ok(exported.labels.get('onnx_serve_requests_total')?.has('code'), 'the scrape shows the code label after a request');

  const dashboard = loadDashboard();
  const queries = panelQueries(dashboard);
  t.ok(queries.length >= 10, `${queries.length} panel queries`);
  for (const { panel, target } of queries) {
    const a = checkQuery(t, `"${panel}" ${target.refId}`, target.expr, exported);
    // a {{label}} the query does not keep renders literally in the legend
    for (const m of (target.legendFormat ?? '').matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)) {
      t.ok(a.grouping.includes(m[1]!) && m[1] !== 'le', `"${panel}" ${target.refId}: legend {{${m[1]}}} is a label the query keeps`);
    }
  }
  for (const v of dashboard.templating.list) {
    const lv = parseLabelValues(variableQuery(v));
    t.ok(lv, `variable ${v.name} is label_values(selector, label)`);
    if (!lv) continue;
    const a = checkQuery(t, `variable ${v.name}`, lv.selector, exported);
    t.ok(
      a.metrics.every((m) => exported.labels.get(m)?.has(lv.label) || TARGET_LABELS.includes(lv.label)),
      `variable ${v.name}: ${lv.label} is a label of ${a.metrics.join(', ')}`,
    );
  }

  const rules = (YAML.parse(await readFile(join(ROOT, 'deploy', 'prometheus', 'rules.yml'), 'utf8')) as { groups: { rules: { record?: string; alert?: string; expr: string }[] }[] }).groups.flatMap((g) => g.rules);
  const recorded = new Map<string, Set<string>>();
  for (const r of rules) {
    const a = checkQuery(t, `rule ${r.record ?? r.alert}`, r.expr, exported, recorded);
    // the series a recording rule writes keep only its grouping labels; later rules may use them
    if (r.record) recorded.set(r.record, new Set(a.grouping.filter((l) => l !== 'le')));
  }
  t.ok(recorded.size > 0 && rules.some((r) => r.alert), 'rules.yml records series and alerts');
});

t.test('the query checker catches a metric or label the server does not export', async (t) => {
  const exported = parseExposition(
    ['# TYPE onnx_serve_queue_depth gauge', 'onnx_serve_queue_depth{model="m",version="1",variant=""} 0', '# TYPE onnx_serve_x histogram', 'onnx_serve_x_bucket{model="m",le="1"} 0'].join('\n'),
  );
  const failures = (expr: string): number => {
    let n = 0;
    const probe = { ok: (c: unknown) => void (c || n++), same: (a: unknown[], b: unknown[]) => void (a.length === b.length || n++) } as unknown as Tap;
    checkQuery(probe, 'probe', expr, exported);
    return n;
  };
  t.equal(failures('sum by (model, instance) (onnx_serve_queue_depth{model=~"$model"})'), 0, 'a query the server answers');
  t.equal(failures('histogram_quantile(0.99, sum by (le, model) (rate(onnx_serve_x_bucket[1m])))'), 0, 'a histogram quantile');
  t.equal(failures('sum(onnx_serve_queue_depths)'), 1, 'a misspelt metric');
  t.equal(failures('sum by (reason) (onnx_serve_queue_depth)'), 1, 'a label the metric does not have');
  t.equal(failures('onnx_serve_queue_depth{code="200"}'), 1, 'a matcher on a label the metric does not have');
  t.equal(failures('sum by (le) (onnx_serve_queue_depth)'), 1, 'le on a gauge');
});

function panelWith(panels: Panel[], ...patterns: RegExp[]): Panel | undefined {
  return panels.find((p) => patterns.every((re) => (p.targets ?? []).some((x) => re.test(x.expr))));
}

t.test('the dashboard has the headline panels, laid out, on the provisioned datasource', async (t) => {
  const d = loadDashboard();
  t.equal(d.uid, 'onnx-serve');
  t.ok(d.schemaVersion >= 36 && d.schemaVersion <= 41, `schemaVersion ${d.schemaVersion}`);
  const panels = queryPanels(d);
  const wanted: [string, RegExp[]][] = [
    ['request rate by model and code', [/sum by \(model, code\) \(rate\(onnx_serve_requests_total\b/]],
    ['p50 and p99 latency', [/histogram_quantile\(0\.5, sum by \(le, model\) \(rate\(onnx_serve_request_duration_seconds_bucket\b/, /histogram_quantile\(0\.99, sum by \(le, model\) \(rate\(onnx_serve_request_duration_seconds_bucket\b/]],
    ['queue depth', [/sum by \(model, instance\) \(onnx_serve_queue_depth\b/]],
    ['batch size mean and p90', [/rate\(onnx_serve_batch_size_sum\b.*\/.*rate\(onnx_serve_batch_size_count\b/, /histogram_quantile\(0\.9, .*onnx_serve_batch_size_bucket\b/]],
    ['rejections by reason', [/sum by \(model, reason\) \(rate\(onnx_serve_rejected_total\b/]],
    ['worker restarts', [/sum by \(model, instance\) \(increase\(onnx_serve_worker_restarts_total\b/]],
  ];
  for (const [what, patterns] of wanted) {
    const p = panelWith(panels, ...patterns);
    t.ok(p, `a panel for ${what}${p ? `: "${p.title}"` : ''}`);
    t.equal(p?.type, 'timeseries', `${what} is a time series`);
  }

  const ids = d.panels.map((p) => p.id);
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const p of d.panels) t.ok(p.gridPos.x >= 0 && p.gridPos.w > 0 && p.gridPos.x + p.gridPos.w <= 24, `"${p.title}" fits the 24-column grid`);
  const overlaps = (p: Panel, q: Panel): boolean =>
    p.gridPos.x < q.gridPos.x + q.gridPos.w && q.gridPos.x < p.gridPos.x + p.gridPos.w && p.gridPos.y < q.gridPos.y + q.gridPos.h && q.gridPos.y < p.gridPos.y + p.gridPos.h;
  const clashes = d.panels.flatMap((p, i) => d.panels.slice(i + 1).filter((q) => overlaps(p, q)).map((q) => `${p.title} / ${q.title}`));
  t.same(clashes, [], 'no two panels overlap');

  for (const p of panels) {
    t.equal(p.datasource?.uid, 'prometheus', `"${p.title}" uses datasource uid prometheus`);
    t.ok((p.targets ?? []).length > 0, `"${p.title}" has queries`);
    for (const x of p.targets ?? []) t.ok(!x.datasource || x.datasource.uid === 'prometheus', `"${p.title}" ${x.refId} on datasource prometheus`);
  }
  const vars = new Map(d.templating.list.map((v) => [v.name, v]));
  t.same([...vars.keys()].sort(), ['instance', 'model'], 'variables model and instance');
  t.equal(variableQuery(vars.get('model')!), 'label_values(onnx_serve_requests_total, model)');
  t.equal(parseLabelValues(variableQuery(vars.get('instance')!))?.label, 'instance');
  for (const v of vars.values()) t.equal(v.datasource?.uid, 'prometheus', `variable ${v.name} on datasource prometheus`);
  // every panel filters by the variables it can, or choosing a model would change nothing
  for (const { panel, target } of panelQueries(d)) t.match(target.expr, /instance=~"\$instance"/, `"${panel}" ${target.refId} follows $instance`);
});

t.test('provisioning points at the datasource and dashboards compose mounts', async (t) => {
  const ds = YAML.parse(await readFile(join(GRAFANA, 'provisioning', 'datasources', 'prometheus.yaml'), 'utf8')) as {
    apiVersion: number;
    datasources: { uid: string; type: string; url: string; isDefault: boolean; access: string; jsonData?: { timeInterval?: string } }[];
  };
  t.equal(ds.apiVersion, 1);
  t.equal(ds.datasources.length, 1, 'one datasource');
  const [prom] = ds.datasources;
  t.match(prom, { uid: 'prometheus', type: 'prometheus', url: 'http://prometheus:9090', isDefault: true, access: 'proxy' }, 'the compose Prometheus, by uid prometheus');
  const promConfig = YAML.parse(await readFile(join(ROOT, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8')) as { global: { scrape_interval: string } };
  t.equal(prom?.jsonData?.timeInterval, promConfig.global.scrape_interval, "Grafana's minimum step is Prometheus' scrape interval");

  const providers = YAML.parse(await readFile(join(GRAFANA, 'provisioning', 'dashboards', 'onnx-serve.yaml'), 'utf8')) as {
    apiVersion: number;
    providers: { type: string; options: { path: string } }[];
  };
  t.equal(providers.apiVersion, 1);
  t.same(
    providers.providers.map((p) => [p.type, p.options.path]),
    [['file', DASHBOARDS_MOUNT]],
    `one file provider reading ${DASHBOARDS_MOUNT}`,
  );

  const compose = loadCompose();
  const volumes = compose.services.grafana?.volumes ?? [];
  t.equal(mountedFrom(volumes, DASHBOARDS_MOUNT), join(GRAFANA, 'dashboards'), `compose mounts deploy/grafana/dashboards at ${DASHBOARDS_MOUNT}`);
  for (const f of ['datasources/prometheus.yaml', 'dashboards/onnx-serve.yaml']) {
    t.equal(mountedFrom(volumes, `/etc/grafana/provisioning/${f}`), join(GRAFANA, 'provisioning', f), `compose provisions ${f}`);
  }
  t.ok(compose.services[new URL(prom!.url).hostname], 'the datasource URL names a compose service');

  // everything in the mounted folder is loaded: it must parse, with distinct uids
  const dir = join(GRAFANA, 'dashboards');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
  t.ok(files.includes('onnx-serve.json') && join(dir, 'onnx-serve.json') === DASHBOARD_FILE, 'the dashboard is in the mounted folder');
  const uids = await Promise.all(files.map(async (f) => (JSON.parse(await readFile(join(dir, f), 'utf8')) as { uid: string }).uid));
  t.equal(new Set(uids).size, files.length, 'dashboard uids are unique');
});
