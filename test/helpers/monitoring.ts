// The monitoring deploy files as the deploy tests read them: the provisioned Grafana dashboard (its
// panels, every query a panel or template variable sends to Prometheus, those queries with the
// variables filled in) and where compose mounts files into its containers.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import YAML from 'yaml';
import { ROOT } from './server.js';

export const DEPLOY = join(ROOT, 'deploy');

export const DASHBOARD_FILE = join(DEPLOY, 'grafana', 'dashboards', 'onnx-serve.json');

export interface Ref {
  type?: string;
  uid?: string;
}

export interface Target {
  refId: string;
  expr: string;
  legendFormat?: string;
  datasource?: Ref;
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: Ref;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Target[];
}

export interface Variable {
  name: string;
  type: string;
  datasource?: Ref;
  definition?: string;
  /** Grafana writes either the bare query or {query, refId}. */
  query: string | { query: string };
}

export interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
}

export function loadDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
}

/** Panels that query (rows only group them). */
export function queryPanels(d: Dashboard): Panel[] {
  return d.panels.filter((p) => p.type !== 'row');
}

export interface PanelQuery {
  panel: string;
  target: Target;
}

export function panelQueries(d: Dashboard): PanelQuery[] {
  return queryPanels(d).flatMap((p) => (p.targets ?? []).map((target) => ({ panel: p.title, target })));
}

export function variableQuery(v: Variable): string {
  return typeof v.query === 'string' ? v.query : v.query.query;
}

/** label_values(selector, label) → its parts; undefined for any other variable query. */
export function parseLabelValues(q: string): { selector: string; label: string } | undefined {
  const m = /^\s*label_values\(\s*(.+)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/.exec(q);
  return m ? { selector: m[1]!, label: m[2]! } : undefined;
}

/** The query Grafana sends with every multi-value variable on "All" (allValue .*). */
export function withAllVariables(expr: string): string {
  return expr.replace(/\$\{?(model|instance)\}?/g, '.*');
}

export type Volume = string | { source?: string; target: string };

export interface Compose {
  services: Record<string, { volumes?: Volume[] }>;
}

export function loadCompose(): Compose {
  return YAML.parse(readFileSync(join(DEPLOY, 'compose.yaml'), 'utf8')) as Compose;
}

/** The host file a service's volumes put at container path `target` (through a file or a folder mount), or undefined. */
export function mountedFrom(volumes: Volume[], target: string): string | undefined {
  for (const v of volumes) {
    const [source, dest] = typeof v === 'string' ? v.split(':') : [v.source, v.target];
    if (!source || !dest) continue;
    const dir = dest.replace(/\/$/, '');
    // compose resolves relative sources against the compose file's folder
    if (target === dir) return resolve(DEPLOY, source);
    if (target.startsWith(`${dir}/`)) return resolve(DEPLOY, source, target.slice(dir.length + 1));
  }
  return undefined;
}
