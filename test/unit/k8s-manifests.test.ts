// Static checks of the Kubernetes manifests (deploy/k8s) and the KServe runtime and
// InferenceService (deploy/kserve), without a cluster:
//  - every YAML document parses, and every document is of a kind this file knows how to validate;
//  - core kinds validate against the Kubernetes OpenAPI schemas (kubernetes-models), plus a strict
//    unknown-field check read from kubernetes-models' type declarations (kubectl --validate=strict);
//  - KServe kinds validate against a faithful subset of KServe's CRD schemas, vendored in
//    test/fixtures/kserve/ (source file and commit in each fixture's $comment);
//  - negative controls prove each validator rejects what it should;
//  - cross-checks between the objects: selectors and labels, ports and probes, the grace-period
//    arithmetic, CPU sizing from the ConfigMap, ConfigMap keys, image, runtime and protocol, and
//    the kustomization's resource list. The env and the model config.json files go through the
//    server's own parsers (parseServeOptions, parseModelConfig).
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler, type IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import { parseServeOptions } from '../../src/config.js';
import { DEFAULT_BATCHING, DEFAULT_MAX_BATCH_SIZE, parseModelConfig } from '../../src/repository/model-config.js';
import { PREFIX } from '../../src/metrics.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const K8S_DIR = join(ROOT, 'deploy', 'k8s');
const KSERVE_DIR = join(ROOT, 'deploy', 'kserve');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'kserve');
/** Helm values for prometheus-adapter: YAML in deploy/k8s that is deliberately no manifest. */
const ADAPTER_RULES = 'prometheus-adapter-rules.yaml';
const NAME_LABEL = 'app.kubernetes.io/name';
const APP = 'onnx-serve';
/** Seconds of slack the grace period must leave beyond preStop + drain timeout. */
const MIN_GRACE_MARGIN_S = 5;
/** Kubernetes' default terminationGracePeriodSeconds (what KServe predictor pods get unless set). */
const DEFAULT_GRACE_S = 30;

type Obj = Record<string, unknown>;

interface Manifest {
  file: string;
  dir: string;
  index: number;
  doc: Obj;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const where = (m: Manifest) => `${m.file} document ${m.index + 1} (${String(m.doc.kind)} ${String((m.doc.metadata as Obj | undefined)?.name)})`;

function must<T>(v: T | undefined | null, what: string): T {
  if (v === undefined || v === null) throw new Error(`missing: ${what}`);
  return v;
}

/** Walks a dotted path ("spec.containers.0.image") through objects and arrays. */
function get(v: unknown, path: string): unknown {
  let cur = v;
  for (const key of path.split('.')) {
    if (Array.isArray(cur)) cur = cur[Number(key)];
    else if (isObj(cur)) cur = cur[key];
    else return undefined;
  }
  return cur;
}

// ---------------------------------------------------------------------------------------------
// Loading

interface YamlFile {
  file: string;
  dir: string;
  errors: string[];
  docs: unknown[];
}

function readYamlDir(dir: string): YamlFile[] {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((file) => {
      const text = readFileSync(join(dir, file), 'utf8');
      const docs = YAML.parseAllDocuments(text, { prettyErrors: true });
      const errors = docs.flatMap((d) => [...d.errors, ...d.warnings].map((e) => `${file}: ${e.message}`));
      // An empty document (comments only) is null: skipped.
      return { file, dir, errors, docs: docs.map((d) => d.toJS() as unknown).filter((v) => v !== null && v !== undefined) };
    });
}

const yamlFiles = [...readYamlDir(K8S_DIR), ...readYamlDir(KSERVE_DIR)];
const manifests: Manifest[] = yamlFiles
  .filter((f) => !(f.dir === K8S_DIR && f.file === ADAPTER_RULES))
  .flatMap((f) => f.docs.map((doc, index) => ({ file: f.file, dir: f.dir, index, doc: isObj(doc) ? doc : { value: doc } })));

function only(kind: string, name?: string): Manifest {
  const found = manifests.filter((m) => m.doc.kind === kind && (name === undefined || get(m.doc, 'metadata.name') === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` named ${name}` : ''}, found ${found.length}`);
  return found[0]!;
}

// ---------------------------------------------------------------------------------------------
// Strict unknown-field check for core kinds, from kubernetes-models' .d.ts interfaces
// (kubernetes-models' own validate() accepts unknown fields; kubectl's strict validation does not).

interface Field {
  /** The .d.ts file of the field's object type, when it is an object (or an array of them). */
  ref?: string;
  array: boolean;
}

const interfaces = new Map<string, Map<string, Field> | undefined>();

function dtsOf(specifier: string, from?: string): string {
  const js = specifier.startsWith('.') && from ? join(dirname(from), specifier) : fileURLToPath(import.meta.resolve(specifier));
  return js.replace(/\.js$/, '') + '.d.ts';
}

/** The fields of the interface declared in a kubernetes-models .d.ts; undefined for a type alias (Quantity, IntOrString, ...). */
function fieldsOf(dts: string): Map<string, Field> | undefined {
  if (interfaces.has(dts)) return interfaces.get(dts);
  const text = readFileSync(dts, 'utf8');
  const imports = new Map<string, string>();
  for (const m of text.matchAll(/^import \{ ([\w, ]+) \} from "([^"]+)";$/gm)) {
    for (const id of m[1]!.split(',').map((s) => s.trim())) imports.set(id, m[2]!);
  }
  const body = /^export interface \w+(?: extends [\w, ]+)? \{\n([\s\S]*?)^\}/m.exec(text);
  let fields: Map<string, Field> | undefined;
  if (body) {
    fields = new Map();
    for (const m of body[1]!.matchAll(/^ {4}"([^"]+)"\??: (.*)$/gm)) {
      const type = m[2]!;
      const arrayOf = /^Array<(\w+)>;$/.exec(type);
      const id = arrayOf?.[1] ?? /^(\w+);$/.exec(type)?.[1];
      const spec = id === undefined ? undefined : imports.get(id);
      fields.set(m[1]!, { array: !!arrayOf, ...(spec ? { ref: dtsOf(spec, dts) } : {}) });
    }
  }
  interfaces.set(dts, fields);
  return fields;
}

function unknownFields(value: unknown, dts: string, path: string, out: string[] = []): string[] {
  const fields = fieldsOf(dts);
  if (!fields || !isObj(value)) return out;
  for (const [key, v] of Object.entries(value)) {
    const f = fields.get(key);
    if (!f) out.push(`${path}.${key}: unknown field`);
    else if (f.ref && f.array && Array.isArray(v)) v.forEach((x, i) => unknownFields(x, f.ref!, `${path}.${key}[${i}]`, out));
    else if (f.ref && !f.array) unknownFields(v, f.ref, `${path}.${key}`, out);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// A validator for the JSON-schema subset that Kubernetes CRDs use (structural schemas)

interface Schema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  additionalProperties?: Schema | boolean;
  anyOf?: Schema[];
  pattern?: string;
  format?: string;
  minimum?: number;
  /** Not a CRD keyword: this object lists only some of the CRD's properties (see the fixtures' $comment). */
  'x-trimmed'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

const INT_RANGE: Record<string, [number, number]> = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

function typeOk(v: unknown, type: NonNullable<Schema['type']>): boolean {
  switch (type) {
    case 'object': return isObj(v);
    case 'array': return Array.isArray(v);
    case 'integer': return Number.isInteger(v);
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    default: return typeof v === type;
  }
}

const describe = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : `${typeof v} ${JSON.stringify(v)}`);

function validateSchema(v: unknown, s: Schema, path = ''): string[] {
  const at = path || '(root)';
  if (s.anyOf && !s.anyOf.some((alt) => validateSchema(v, alt, path).length === 0)) {
    return [`${at}: must be one of ${s.anyOf.map((a) => a.type).join(' | ')}, is ${describe(v)}`];
  }
  if (s.type && !typeOk(v, s.type)) return [`${at}: must be ${s.type}, is ${describe(v)}`];
  const errors: string[] = [];
  if (s.enum && !s.enum.includes(v)) errors.push(`${at}: must be one of ${JSON.stringify(s.enum)}, is ${describe(v)}`);
  if (typeof v === 'string' && s.pattern && !new RegExp(s.pattern).test(v)) errors.push(`${at}: ${JSON.stringify(v)} does not match ${s.pattern}`);
  if (typeof v === 'number') {
    if (s.minimum !== undefined && v < s.minimum) errors.push(`${at}: must be at least ${s.minimum}, is ${v}`);
    const range = s.format ? INT_RANGE[s.format] : undefined;
    if (range && (v < range[0] || v > range[1])) errors.push(`${at}: ${v} is out of the ${s.format} range`);
  }
  if (Array.isArray(v) && s.items) v.forEach((x, i) => errors.push(...validateSchema(x, s.items!, `${path}[${i}]`)));
  if (isObj(v)) {
    for (const r of s.required ?? []) if (!(r in v)) errors.push(`${at}: missing required field "${r}"`);
    const open = s['x-trimmed'] || s['x-kubernetes-preserve-unknown-fields'] || (!s.properties && s.additionalProperties === undefined);
    for (const [key, x] of Object.entries(v)) {
      const p = s.properties?.[key] ?? (isObj(s.additionalProperties) ? s.additionalProperties : undefined);
      const sub = path ? `${path}.${key}` : key;
      if (p) errors.push(...validateSchema(x, p, sub));
      else if (!open) errors.push(`${sub}: unknown field`);
    }
  }
  return errors;
}

const loadSchema = (file: string) => JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')) as Schema;

// ---------------------------------------------------------------------------------------------
// One validator per kind; a kind not listed here fails the test.

interface CoreModel {
  apiVersion: string;
  kind: string;
  new (data: never): { validate(): void };
}

function core(model: CoreModel, specifier: string) {
  const dts = dtsOf(specifier);
  return (doc: Obj): string[] => {
    const errors: string[] = [];
    if (doc.apiVersion !== model.apiVersion) errors.push(`apiVersion must be ${model.apiVersion}, is ${String(doc.apiVersion)}`);
    try {
      new model(doc as never).validate();
    } catch (err) {
      errors.push(`schema: ${(err as Error).message}`);
    }
    return [...errors, ...unknownFields(doc, dts, String(doc.kind))];
  };
}

function crd(apiVersion: string, schemaFile: string) {
  const schema = loadSchema(schemaFile);
  return (doc: Obj): string[] => [
    ...(doc.apiVersion === apiVersion ? [] : [`apiVersion must be ${apiVersion}, is ${String(doc.apiVersion)}`]),
    ...validateSchema(doc, schema),
  ];
}

/** Hand-written: kustomize's Kustomization is neither a Kubernetes nor a CRD kind. */
function kustomization(doc: Obj, dir: string): string[] {
  const errors: string[] = [];
  if (doc.apiVersion !== 'kustomize.config.k8s.io/v1beta1') errors.push(`apiVersion must be kustomize.config.k8s.io/v1beta1, is ${String(doc.apiVersion)}`);
  const known = ['apiVersion', 'kind', 'resources', 'images', 'labels', 'namespace', 'namePrefix', 'nameSuffix', 'patches', 'configMapGenerator', 'secretGenerator', 'generatorOptions', 'replicas', 'components'];
  for (const k of Object.keys(doc)) if (!known.includes(k)) errors.push(`${k}: unknown or unsupported field`);
  const resources = doc.resources;
  if (!Array.isArray(resources) || resources.some((r) => typeof r !== 'string')) errors.push('resources: must be a list of file names');
  else for (const r of resources as string[]) if (!existsSync(join(dir, r))) errors.push(`resources: ${r} does not exist in ${dir}`);
  return errors;
}

const VALIDATORS: Record<string, (doc: Obj, dir: string) => string[]> = {
  ConfigMap: core(ConfigMap, 'kubernetes-models/v1/ConfigMap'),
  Service: core(Service, 'kubernetes-models/v1/Service'),
  Deployment: core(Deployment, 'kubernetes-models/apps/v1/Deployment'),
  HorizontalPodAutoscaler: core(HorizontalPodAutoscaler, 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'),
  PodDisruptionBudget: core(PodDisruptionBudget, 'kubernetes-models/policy/v1/PodDisruptionBudget'),
  InferenceService: crd('serving.kserve.io/v1beta1', 'inferenceservice-v1beta1.schema.json'),
  ClusterServingRuntime: crd('serving.kserve.io/v1alpha1', 'clusterservingruntime-v1alpha1.schema.json'),
  Kustomization: kustomization,
};

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function validateManifest(doc: Obj, dir: string): string[] {
  const kind = doc.kind;
  const validate = typeof kind === 'string' && Object.hasOwn(VALIDATORS, kind) ? VALIDATORS[kind] : undefined;
  if (!validate) return [`kind ${JSON.stringify(kind)}: this test has no validator for it (add one to VALIDATORS)`];
  const errors = validate(doc, dir);
  if (kind !== 'Kustomization') {
    const name = get(doc, 'metadata.name');
    if (typeof name !== 'string' || name.length > 253 || !DNS_SUBDOMAIN.test(name)) errors.push(`metadata.name must be a DNS subdomain, is ${describe(name)}`);
  }
  return errors;
}

// ---------------------------------------------------------------------------------------------
// Helpers for the cross-checks

function cpuCores(q: unknown): number {
  if (typeof q === 'number') return q;
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(String(q));
  if (!m) throw new Error(`not a CPU quantity: ${String(q)}`);
  return m[2] ? Number(m[1]) / 1000 : Number(m[1]);
}

function memBytes(q: unknown): number {
  if (typeof q === 'number') return q;
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(q));
  if (!m) throw new Error(`not a memory quantity: ${String(q)}`);
  const mult = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * mult;
}

/** A container's environment as the server sees it, each configMapKeyRef resolved through the ConfigMaps. */
function resolveEnv(env: readonly IEnvVar[] | undefined, configMaps: readonly IConfigMap[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env ?? []) {
    const ref = e.valueFrom?.configMapKeyRef;
    if (ref) {
      const cm = configMaps.find((c) => c.metadata?.name === ref.name);
      const value = cm?.data?.[ref.key];
      if (value === undefined) throw new Error(`env ${e.name}: ConfigMap ${ref.name} has no key ${ref.key}`);
      out[e.name] = value;
    } else if (e.value !== undefined) {
      out[e.name] = e.value;
    }
  }
  return out;
}

/** How long a preStop hook delays SIGTERM, read from its sleep action or its command. */
function preStopSeconds(c: IContainer): number {
  const ps = c.lifecycle?.preStop;
  if (ps?.sleep) return ps.sleep.seconds;
  const cmd = ps?.exec?.command ?? [];
  const script = cmd.join(' ');
  const timeout = /setTimeout\([^,]*,\s*(\d+)\s*\)/.exec(script);
  if (cmd[0] === 'node' && timeout) return Number(timeout[1]) / 1000;
  const sleep = /^(?:\/bin\/)?sleep (\d+(?:\.\d+)?)$/.exec(script);
  if (sleep) return Number(sleep[1]);
  throw new Error(`cannot read a duration from preStop ${JSON.stringify(ps)}`);
}

const subset = (small: Record<string, string> | undefined, big: Record<string, string> | undefined) =>
  !!small && Object.keys(small).length > 0 && Object.entries(small).every(([k, v]) => big?.[k] === v);

// ---------------------------------------------------------------------------------------------
// Schema validation

t.test('every YAML file parses, and every document is a kind this test validates', async (t) => {
  t.ok(yamlFiles.some((f) => f.dir === K8S_DIR), 'deploy/k8s has YAML files');
  t.ok(yamlFiles.some((f) => f.dir === KSERVE_DIR), 'deploy/kserve has YAML files');
  for (const f of yamlFiles) {
    t.same(f.errors, [], `${f.file} parses without errors or warnings`);
    t.ok(f.docs.length > 0, `${f.file} holds at least one document`);
  }
  for (const m of manifests) {
    t.ok(typeof m.doc.kind === 'string' && Object.hasOwn(VALIDATORS, m.doc.kind), `${where(m)}: a kind with a validator`);
  }
  const kinds = manifests.map((m) => m.doc.kind).sort();
  t.same(kinds, ['ClusterServingRuntime', 'ConfigMap', 'ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'InferenceService', 'Kustomization', 'PodDisruptionBudget', 'Service'], 'the expected set of objects');
});

t.test('every manifest validates: Kubernetes schemas (kubernetes-models), KServe CRD subsets, kustomization', async (t) => {
  for (const m of manifests) t.same(validateManifest(m.doc, m.dir), [], where(m));
});

t.test('negative controls: each validator rejects a broken copy', async (t) => {
  const clone = <T>(v: T): T => structuredClone(v);
  const expectError = (doc: Obj, dir: string, pattern: RegExp, what: string) => {
    const errors = validateManifest(doc, dir);
    t.ok(errors.some((e) => pattern.test(e)), `${what}: ${errors.join('; ') || 'no error'}`);
  };
  const dep = only('Deployment').doc;

  let d = clone(dep);
  (d.spec as Obj).replicas = 'two';
  expectError(d, K8S_DIR, /replicas must be integer/, 'Deployment with replicas "two"');

  d = clone(dep);
  delete (get(d, 'spec.template.spec') as Obj).containers;
  expectError(d, K8S_DIR, /required property containers/, 'Deployment without containers');

  d = clone(dep);
  const c0 = get(d, 'spec.template.spec.containers.0') as Obj;
  c0.readinesProbe = c0.readinessProbe;
  expectError(d, K8S_DIR, /containers\[0\]\.readinesProbe: unknown field/, 'Deployment with a misspelt readinessProbe');

  d = clone(dep);
  (get(d, 'spec.template.spec.containers.0.resources.requests') as Obj).cpu = 'two cores';
  expectError(d, K8S_DIR, /cpu must match format "quantity"/, 'Deployment with a CPU request that is no quantity');

  d = clone(dep);
  d.apiVersion = 'apps/v1beta1';
  expectError(d, K8S_DIR, /apiVersion must be apps\/v1/, 'Deployment with an old apiVersion');

  const cm = clone(only('ConfigMap', 'onnx-serve-env').doc);
  (cm.data as Obj).ONNX_SERVE_INSTANCES = 2;
  expectError(cm, K8S_DIR, /must be string/, 'ConfigMap with an unquoted number');

  const hpa = clone(only('HorizontalPodAutoscaler').doc);
  (get(hpa, 'spec.metrics.1.pods.target') as Obj).averageValue = 'four';
  expectError(hpa, K8S_DIR, /averageValue must match format "quantity"/, 'HPA with a queue target that is no quantity');

  const svc = clone(only('Service').doc);
  (get(svc, 'spec.ports.0') as Obj).port = '8080';
  expectError(svc, K8S_DIR, /port must be integer/, 'Service with a string port');

  const pdb = clone(only('PodDisruptionBudget').doc);
  (pdb.spec as Obj).minAvailabe = 1;
  expectError(pdb, K8S_DIR, /spec\.minAvailabe: unknown field/, 'PDB with a misspelt minAvailable');

  const isvc = only('InferenceService').doc;
  let i = clone(isvc);
  delete (i.spec as Obj).predictor;
  expectError(i, KSERVE_DIR, /spec: missing required field "predictor"/, 'InferenceService without a predictor');

  i = clone(isvc);
  (get(i, 'spec.predictor') as Obj).scaleMetric = 'gpu';
  expectError(i, KSERVE_DIR, /spec\.predictor\.scaleMetric: must be one of/, 'InferenceService with a scaleMetric outside the enum');

  i = clone(isvc);
  delete (get(i, 'spec.predictor.model.modelFormat') as Obj).name;
  expectError(i, KSERVE_DIR, /modelFormat: missing required field "name"/, 'InferenceService with a nameless modelFormat');

  i = clone(isvc);
  const model = get(i, 'spec.predictor.model') as Obj;
  model.storageURI = model.storageUri;
  expectError(i, KSERVE_DIR, /spec\.predictor\.model\.storageURI: unknown field/, 'InferenceService with a misspelt storageUri');

  i = clone(isvc);
  (get(i, 'spec.predictor.model.resources.requests') as Obj).cpu = 'lots';
  expectError(i, KSERVE_DIR, /requests\.cpu: .* does not match/, 'InferenceService with a CPU request that is no quantity');

  i = clone(isvc);
  (get(i, 'spec.predictor') as Obj).minReplicas = '2';
  expectError(i, KSERVE_DIR, /minReplicas: must be integer/, 'InferenceService with a string minReplicas');

  const csr = only('ClusterServingRuntime').doc;
  let r = clone(csr);
  delete (get(r, 'spec.containers.0') as Obj).name;
  expectError(r, KSERVE_DIR, /spec\.containers\[0\]: missing required field "name"/, 'ClusterServingRuntime with a nameless container');

  r = clone(csr);
  (r.spec as Obj).protocolVersions = 'v2';
  expectError(r, KSERVE_DIR, /protocolVersions: must be array/, 'ClusterServingRuntime with protocolVersions not a list');

  r = clone(csr);
  (get(r, 'spec.supportedModelFormats.0') as Obj).priority = 0;
  expectError(r, KSERVE_DIR, /priority: must be at least 1/, 'ClusterServingRuntime with priority 0');

  r = clone(csr);
  (get(r, 'spec.containers.0.ports.0') as Obj).containerPort = 2 ** 31;
  expectError(r, KSERVE_DIR, /containerPort: .* int32 range/, 'ClusterServingRuntime with a port out of the int32 range');

  r = clone(csr);
  (r.spec as Obj).multiModels = true;
  expectError(r, KSERVE_DIR, /spec\.multiModels: unknown field/, 'ClusterServingRuntime with an unknown spec field');

  const k = clone(only('Kustomization').doc);
  (k.resources as string[]).push('missing.yaml');
  expectError(k, K8S_DIR, /missing\.yaml does not exist/, 'kustomization naming a missing file');

  expectError({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'x' } }, K8S_DIR, /no validator/, 'an unknown kind');
  expectError({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'Bad_Name' } }, K8S_DIR, /DNS subdomain/, 'a name that is no DNS subdomain');
});

// ---------------------------------------------------------------------------------------------
// Cross-checks

const configMaps = manifests.filter((m) => m.doc.kind === 'ConfigMap').map((m) => m.doc as unknown as IConfigMap);
const deployment = only('Deployment', APP).doc as unknown as IDeployment;
const podSpec = must(deployment.spec?.template.spec, 'Deployment pod spec');
const container = must(podSpec.containers[0], 'Deployment container');
const depEnv = resolveEnv(container.env, configMaps);
const service = only('Service', APP).doc as unknown as IService;
const hpa = only('HorizontalPodAutoscaler').doc as unknown as IHorizontalPodAutoscaler;
const pdb = only('PodDisruptionBudget').doc as unknown as IPodDisruptionBudget;
const runtimeDoc = only('ClusterServingRuntime').doc;
const runtimeContainer = must(get(runtimeDoc, 'spec.containers.0'), 'ServingRuntime container') as IContainer;
const isvcDoc = only('InferenceService').doc;

t.test('every object carries the app label; Deployment and Service are named onnx-serve', async (t) => {
  const labelsOf = (m: Manifest) => {
    const labels = get(m.doc, 'metadata.labels');
    return isObj(labels) ? labels : {};
  };
  for (const m of manifests.filter((m) => m.doc.kind !== 'Kustomization' && m.doc.kind !== 'InferenceService')) {
    t.equal(labelsOf(m)[NAME_LABEL], APP, `${where(m)}: ${NAME_LABEL}=${APP}`);
  }
  // KServe copies an InferenceService's labels to its pods, which the Service and PDB above
  // would then select in a shared namespace.
  const isvc = only('InferenceService');
  t.not(labelsOf(isvc)[NAME_LABEL], APP, `${where(isvc)}: not ${NAME_LABEL}=${APP}, which deploy/k8s selects pods by`);
  t.equal(labelsOf(isvc)['app.kubernetes.io/part-of'], APP, `${where(isvc)}: part of ${APP}`);
  t.equal(deployment.metadata?.name, APP);
  t.equal(service.metadata?.name, APP);
});

t.test('selectors match the pod template labels', async (t) => {
  const labels = deployment.spec?.template.metadata?.labels;
  t.equal(labels?.[NAME_LABEL], APP, 'pod template labelled');
  t.ok(subset(deployment.spec?.selector.matchLabels, labels), 'Deployment selector matches its template');
  t.notOk(deployment.spec?.selector.matchExpressions, 'Deployment selects by labels only');
  t.ok(subset(service.spec?.selector, labels), 'Service selector matches the Deployment template');
  t.ok(subset(pdb.spec?.selector?.matchLabels, labels), 'PDB selector matches the Deployment template');
  for (const [i, tsc] of (podSpec.topologySpreadConstraints ?? []).entries()) {
    t.ok(subset(tsc.labelSelector?.matchLabels, labels), `topologySpreadConstraints[${i}] selects the same pods`);
  }
});

t.test('Deployment: replicas, rolling update, Prometheus annotations, image', async (t) => {
  t.equal(deployment.spec?.replicas, 2);
  t.equal(deployment.spec?.strategy?.type, 'RollingUpdate');
  t.equal(deployment.spec?.strategy?.rollingUpdate?.maxUnavailable, 0, 'maxUnavailable 0: capacity never dips');
  t.equal(deployment.spec?.strategy?.rollingUpdate?.maxSurge, 1);
  const port = must(container.ports?.find((p) => p.name === 'http'), 'container port http');
  const ann = deployment.spec?.template.metadata?.annotations ?? {};
  t.equal(ann['prometheus.io/scrape'], 'true');
  t.equal(ann['prometheus.io/port'], String(port.containerPort), 'scrape port is the container port');
  t.equal(ann['prometheus.io/path'], '/metrics');
  t.match(container.image, /^(?:[\w.-]+(?::\d+)?\/)*onnx-serve(?::[\w.-]+)?$/, 'the onnx-serve image');
  t.equal(podSpec.automountServiceAccountToken, false, 'no API token in the pod');
});

t.test('Service: ClusterIP 8080 named http to the container port named http, 8081 named grpc to grpc', async (t) => {
  t.equal(service.spec?.type, 'ClusterIP');
  const ports = must(service.spec?.ports, 'Service ports');
  t.equal(ports.length, 2);
  const grpc = ports.find((p) => p.name === 'grpc');
  t.same([grpc?.port, grpc?.targetPort, grpc?.appProtocol], [8081, 'grpc', 'kubernetes.io/h2c'], 'gRPC: 8081 to the container port named grpc, HTTP/2 cleartext');
  const grpcTarget = container.ports?.find((p) => p.name === 'grpc');
  t.equal(grpcTarget?.containerPort, 8081, 'the container declares the gRPC port');
  t.equal(parseServeOptions([], depEnv).grpcPort, grpcTarget?.containerPort, 'the server serves gRPC on it (ONNX_SERVE_GRPC_PORT)');
  t.equal(ports[0]?.name, 'http');
  t.equal(ports[0]?.port, 8080);
  t.equal(ports[0]?.targetPort, 'http');
  const target = container.ports?.find((p) => p.name === ports[0]?.targetPort);
  t.ok(target, 'the container declares the target port');
  t.equal(target?.containerPort, 8080);
  t.equal(Number(depEnv.PORT), target?.containerPort, 'the server listens on the declared port (PORT)');
  t.equal(depEnv.HOST, '0.0.0.0', 'and on all interfaces (HOST)');
});

t.test('probes: ready/live paths on the named port the container declares', async (t) => {
  const declared = new Set((container.ports ?? []).map((p) => p.name));
  const probes = { startupProbe: '/v2/health/ready', readinessProbe: '/v2/health/ready', livenessProbe: '/v2/health/live' } as const;
  for (const [name, path] of Object.entries(probes) as [keyof typeof probes, string][]) {
    const p = must(container[name], name);
    t.equal(p.httpGet?.path, path, `${name} GET ${path}`);
    t.equal(p.httpGet?.port, 'http', `${name} on the port named http`);
    t.ok(declared.has(String(p.httpGet?.port)), `${name}: the container declares that port`);
  }
  const startup = must(container.startupProbe, 'startupProbe');
  const budget = (startup.failureThreshold ?? 3) * (startup.periodSeconds ?? 10);
  t.ok(budget >= 60, `startup allows ${budget} s (>= 60 s) to load large models`);
  t.equal(container.readinessProbe?.periodSeconds, 5);
  t.equal(container.livenessProbe?.periodSeconds, 10);
  t.equal(container.livenessProbe?.failureThreshold, 3);
});

t.test('security: non-root, read-only root filesystem, no privileges, an emptyDir at /tmp', async (t) => {
  const psc = must(podSpec.securityContext, 'pod securityContext');
  t.equal(psc.runAsNonRoot, true);
  t.equal(psc.runAsUser, 1000, 'the image user node (uid 1000)');
  t.equal(psc.runAsGroup, 1000);
  t.equal(psc.fsGroup, 1000);
  t.equal(psc.seccompProfile?.type, 'RuntimeDefault');
  const sc = must(container.securityContext, 'container securityContext');
  t.equal(sc.allowPrivilegeEscalation, false);
  t.equal(sc.readOnlyRootFilesystem, true);
  t.ok(sc.capabilities?.drop?.includes('ALL'), 'drops ALL capabilities');
  t.notOk(sc.runAsUser === 0 || sc.privileged, 'no root or privileged override in the container');
  const volumes = new Map((podSpec.volumes ?? []).map((v) => [v.name, v]));
  const tmp = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
  t.ok(tmp, 'a mount at /tmp');
  t.ok(tmp && volumes.get(tmp.name)?.emptyDir, '/tmp is an emptyDir');
  for (const m of container.volumeMounts ?? []) t.ok(volumes.has(m.name), `mount ${m.mountPath} names a declared volume (${m.name})`);
});

t.test('env: every configMapKeyRef names an existing key; the server accepts the result', async (t) => {
  const refs = (container.env ?? []).filter((e) => e.valueFrom?.configMapKeyRef);
  t.ok(refs.length >= 4, 'settings come from the ConfigMap');
  for (const e of refs) {
    const ref = e.valueFrom!.configMapKeyRef!;
    const cm = configMaps.find((c) => c.metadata?.name === ref.name);
    t.ok(cm, `${e.name}: ConfigMap ${ref.name} exists`);
    t.ok(cm?.data && Object.hasOwn(cm.data, ref.key), `${e.name}: ConfigMap ${ref.name} has key ${ref.key}`);
  }
  t.same(
    { ONNX_SERVE_INSTANCES: depEnv.ONNX_SERVE_INSTANCES, ONNX_SERVE_INTRA_OP_THREADS: depEnv.ONNX_SERVE_INTRA_OP_THREADS, ONNX_SERVE_DRAIN_TIMEOUT_MS: depEnv.ONNX_SERVE_DRAIN_TIMEOUT_MS, LOG_LEVEL: depEnv.LOG_LEVEL },
    { ONNX_SERVE_INSTANCES: '2', ONNX_SERVE_INTRA_OP_THREADS: '1', ONNX_SERVE_DRAIN_TIMEOUT_MS: '25000', LOG_LEVEL: 'info' },
    'the settings the brief fixes',
  );
  const opts = parseServeOptions([], depEnv);
  t.equal(opts.host, '0.0.0.0');
  t.equal(opts.port, 8080);
  t.equal(opts.modelsDir, '/app/models', 'the repository baked into the image');
  t.equal(opts.instances, 2);
  t.equal(opts.intraOpThreads, 1);
  t.equal(opts.drainTimeoutMs, 25_000);
  t.equal(opts.logLevel, 'info');
  const ropts = parseServeOptions([], resolveEnv(runtimeContainer.env, []));
  t.equal(ropts.modelsDir, '/mnt/models', "the runtime serves KServe's storage-initializer mount");
  t.equal(ropts.port, runtimeContainer.ports?.[0]?.containerPort, 'the runtime listens on its declared port');
  t.equal(ropts.host, '0.0.0.0');
});

t.test('resources: CPU request covers instances x intraOpThreads; limits at or above requests', async (t) => {
  const check = (name: string, env: Record<string, string>, res: IContainer['resources']) => {
    const opts = parseServeOptions([], env);
    // the manifests fix both (auto sizing would choose per model): the request is sized from them
    const inference = must(opts.instances, `${name} ONNX_SERVE_INSTANCES`) * must(opts.intraOpThreads, `${name} ONNX_SERVE_INTRA_OP_THREADS`);
    const req = cpuCores(must(res?.requests?.cpu, `${name} cpu request`));
    const lim = cpuCores(must(res?.limits?.cpu, `${name} cpu limit`));
    t.ok(req >= inference, `${name}: cpu request ${req} >= instances ${opts.instances} x intraOpThreads ${opts.intraOpThreads} = ${inference}`);
    t.ok(req >= inference + 0.5, `${name}: cpu request ${req} leaves >= 0.5 core for the main thread`);
    t.ok(lim >= req, `${name}: cpu limit ${lim} >= request ${req}`);
    const mreq = memBytes(must(res?.requests?.memory, `${name} memory request`));
    const mlim = memBytes(must(res?.limits?.memory, `${name} memory limit`));
    t.ok(mreq >= 256 * 2 ** 20, `${name}: memory request ${mreq / 2 ** 20} MiB covers the ~275 MiB measured peak with headroom`);
    t.ok(mlim >= mreq, `${name}: memory limit >= request`);
  };
  check('Deployment', depEnv, container.resources);
  const runtimeEnv = resolveEnv(runtimeContainer.env, []);
  check('ServingRuntime', runtimeEnv, runtimeContainer.resources);
  check('InferenceService', runtimeEnv, get(isvcDoc, 'spec.predictor.model.resources') as IContainer['resources']);
});

t.test('graceful shutdown: terminationGracePeriodSeconds >= preStop + drain timeout + margin', async (t) => {
  const preStop = preStopSeconds(container);
  const drain = Number(must(depEnv.ONNX_SERVE_DRAIN_TIMEOUT_MS, 'ONNX_SERVE_DRAIN_TIMEOUT_MS')) / 1000;
  const grace = must(podSpec.terminationGracePeriodSeconds, 'terminationGracePeriodSeconds');
  t.ok(preStop > 0, `preStop waits ${preStop} s for endpoints to drop the pod`);
  t.ok(grace >= preStop + drain + MIN_GRACE_MARGIN_S, `grace ${grace} s >= preStop ${preStop} s + drain ${drain} s + margin ${MIN_GRACE_MARGIN_S} s`);
  t.equal(grace, 40, '5 + 25 + 10 = 40');

  // The preStop command really is a ${preStop}-second wait: run it with setTimeout recorded instead of waited on.
  const cmd = must(container.lifecycle?.preStop?.exec?.command, 'preStop command');
  t.equal(cmd[0], 'node', 'runs node, which every image of the server has');
  const spy = 'data:text/javascript,globalThis.setTimeout=(f,ms)=>{console.log(JSON.stringify(ms))}';
  const run = spawnSync(process.execPath, ['--import', spy, ...cmd.slice(1)], { encoding: 'utf8', timeout: 10_000 });
  t.equal(run.status, 0, `the preStop command runs (${run.stderr.trim() || 'ok'})`);
  t.equal(Number(run.stdout.trim()) / 1000, preStop, 'and waits as long as the test read from it');

  // KServe: no preStop, Kubernetes' default grace period.
  const rdrain = Number(resolveEnv(runtimeContainer.env, []).ONNX_SERVE_DRAIN_TIMEOUT_MS) / 1000;
  const rgrace = (get(isvcDoc, 'spec.predictor.terminationGracePeriodSeconds') as number | undefined) ?? DEFAULT_GRACE_S;
  t.ok(rgrace >= rdrain + MIN_GRACE_MARGIN_S, `KServe predictor: grace ${rgrace} s >= drain ${rdrain} s + margin ${MIN_GRACE_MARGIN_S} s`);
});

t.test('HPA: targets the Deployment; CPU 70 % and onnx_serve_queue_depth; slow scale-down', async (t) => {
  const spec = must(hpa.spec, 'HPA spec');
  t.same(spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata?.name }, 'scaleTargetRef names the Deployment');
  t.equal(spec.minReplicas, 2);
  t.equal(spec.maxReplicas, 10);
  t.ok((spec.minReplicas ?? 1) >= (deployment.spec?.replicas ?? 1), 'minReplicas no lower than the Deployment replicas');
  const cpu = spec.metrics?.find((m) => m.type === 'Resource' && m.resource?.name === 'cpu');
  t.same(cpu?.resource?.target, { type: 'Utilization', averageUtilization: 70 });
  const queue = spec.metrics?.find((m) => m.type === 'Pods');
  t.equal(queue?.pods?.metric.name, `${PREFIX}queue_depth`, 'the gauge the server exports');
  t.equal(queue?.pods?.target.type, 'AverageValue');
  t.ok(queue?.pods?.target.averageValue !== undefined && cpuCores(queue.pods.target.averageValue) > 0, 'a positive queue target');
  t.equal(spec.behavior?.scaleDown?.stabilizationWindowSeconds, 300);
  // The adapter rule that serves the metric (Helm values, not a manifest).
  const rules = must(yamlFiles.find((f) => f.dir === K8S_DIR && f.file === ADAPTER_RULES), ADAPTER_RULES);
  t.same(rules.errors, []);
  const custom = get(rules.docs[0], 'rules.custom');
  t.ok(Array.isArray(custom), `${ADAPTER_RULES} has rules.custom`);
  const rule = (Array.isArray(custom) ? custom : []).find((r) => get(r, 'name.as') === queue?.pods?.metric.name);
  t.ok(rule, `${ADAPTER_RULES} serves ${String(queue?.pods?.metric.name)}`);
  t.match(String(get(rule, 'seriesQuery')), /onnx_serve_queue_depth\{.*pod!=""/, 'from the per-pod series');
  t.same(get(rule, 'resources.overrides.pod'), { resource: 'pod' }, 'mapped to pods');
  t.match(String(get(rule, 'metricsQuery')), /^sum\(<<\.Series>>\{<<\.LabelMatchers>>\}\) by \(<<\.GroupBy>>\)$/, 'summed per pod over models and variants');
});

t.test('PDB: one pod may go while the HPA minimum keeps another', async (t) => {
  const spec = must(pdb.spec, 'PDB spec');
  t.equal(spec.minAvailable, 1);
  t.ok(Number(spec.minAvailable) < (hpa.spec?.minReplicas ?? 1), 'minAvailable below minReplicas, so a node drain can proceed');
});

t.test('ConfigMap model config.json files: valid for the server, matching the shipped models, mounted where it reads them', async (t) => {
  const models = must(configMaps.find((c) => c.metadata?.name === 'onnx-serve-models'), 'ConfigMap onnx-serve-models');
  const data = must(models.data, 'onnx-serve-models data');
  const keys = Object.keys(data);
  t.ok(keys.length > 0, 'holds model configs');
  for (const key of keys) t.match(key, /^[-._a-zA-Z0-9]+$/, `${key}: a valid ConfigMap key`);
  const shipped = readdirSync(join(ROOT, 'models'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  t.same(keys.map((k) => k.replace(/\.config\.json$/, '')).sort(), shipped, 'one config per shipped model');
  const defaults = { instances: 2, intraOpThreads: 1 };
  const mounts = container.volumeMounts ?? [];
  const volume = podSpec.volumes?.find((v) => v.configMap?.name === models.metadata?.name);
  t.ok(volume, 'a volume of the ConfigMap');
  for (const key of keys) {
    const name = key.replace(/\.config\.json$/, '');
    const file = `${depEnv.ONNX_SERVE_MODELS}/${name}/config.json`;
    const raw: unknown = JSON.parse(data[key]!);
    const cfg = parseModelConfig(raw, key, defaults);
    t.equal(cfg.maxBatchSize, DEFAULT_MAX_BATCH_SIZE, `${name}: maxBatchSize is the shipped default`);
    t.same(cfg.dynamicBatching, DEFAULT_BATCHING, `${name}: dynamicBatching is the shipped default`);
    t.same({ instances: cfg.instances, intraOpThreads: cfg.intraOpThreads }, defaults, `${name}: workers come from the ONNX_SERVE_* env`);
    const shippedFile = join(ROOT, 'models', name, 'config.json');
    const shippedCfg = parseModelConfig(existsSync(shippedFile) ? JSON.parse(readFileSync(shippedFile, 'utf8')) : undefined, shippedFile, defaults);
    t.same(cfg.variants, shippedCfg.variants, `${name}: the same variants as the shipped config.json`);
    for (const f of Object.values(cfg.variants)) t.ok(existsSync(join(ROOT, 'models', name, f)), `${name}: variant file ${f} is shipped`);
    const mount = mounts.find((m) => m.subPath === key);
    t.equal(mount?.mountPath, file, `${key} is mounted at ${file}`);
    t.equal(mount?.name, volume?.name, `${key} comes from the ConfigMap volume`);
    t.equal(mount?.readOnly, true, `${key} is mounted read-only`);
  }
});

t.test('KServe: InferenceService uses the runtime over v2; same image as the Deployment', async (t) => {
  t.equal(runtimeContainer.image, container.image, 'one image for the Deployment and the ServingRuntime');
  t.equal(get(runtimeDoc, 'metadata.name'), APP);
  t.equal(runtimeContainer.name, 'kserve-container', "KServe's serving container name");
  const model = get(isvcDoc, 'spec.predictor.model');
  t.equal(get(model, 'runtime'), get(runtimeDoc, 'metadata.name'), 'the InferenceService names the ServingRuntime');
  t.equal(get(model, 'protocolVersion'), 'v2');
  const protocols = get(runtimeDoc, 'spec.protocolVersions');
  t.ok(Array.isArray(protocols) && protocols.includes('v2'), 'the runtime speaks v2');
  const formats = get(runtimeDoc, 'spec.supportedModelFormats') as { name: string; autoSelect?: boolean }[];
  const format = formats.find((f) => f.name === get(model, 'modelFormat.name'));
  t.equal(format?.name, 'onnx', 'the runtime supports the model format');
  t.equal(format?.autoSelect, true, 'and is picked automatically for it');
  t.match(String(get(model, 'storageUri')), /^[a-z0-9]+:\/\/\S+$/, 'a storageUri');
  // Probes and scrape annotation on the runtime's own port.
  const port = runtimeContainer.ports?.[0]?.containerPort;
  t.equal(port, 8080);
  t.equal(runtimeContainer.readinessProbe?.httpGet?.path, '/v2/health/ready');
  t.equal(runtimeContainer.livenessProbe?.httpGet?.path, '/v2/health/live');
  t.equal(runtimeContainer.readinessProbe?.httpGet?.port, port);
  t.equal(runtimeContainer.livenessProbe?.httpGet?.port, port);
  const ann = get(runtimeDoc, 'spec.annotations') as Record<string, string>;
  t.equal(ann['prometheus.io/port'], String(port));
  // Hardened like the Deployment, with a writable /tmp.
  t.equal(runtimeContainer.securityContext?.readOnlyRootFilesystem, true);
  t.equal(runtimeContainer.securityContext?.runAsNonRoot, true);
  t.equal(runtimeContainer.securityContext?.allowPrivilegeEscalation, false);
  const tmp = runtimeContainer.volumeMounts?.find((m) => m.mountPath === '/tmp');
  const vols = get(runtimeDoc, 'spec.volumes') as { name: string; emptyDir?: unknown }[];
  t.ok(tmp && vols.find((v) => v.name === tmp.name)?.emptyDir, 'an emptyDir at /tmp');
});

t.test('kustomization lists every manifest file in deploy/k8s, and nothing else', async (t) => {
  const k = only('Kustomization').doc;
  const listed = [...(k.resources as string[])].sort();
  const withManifests = [...new Set(manifests.filter((m) => m.dir === K8S_DIR && m.doc.kind !== 'Kustomization').map((m) => m.file))].sort();
  t.same(listed, withManifests, 'resources = the files holding manifests');
  t.notOk(listed.includes(ADAPTER_RULES), `${ADAPTER_RULES} (prometheus-adapter values) is not applied with the app`);
  t.ok(existsSync(join(K8S_DIR, 'README.md')), 'deploy/k8s/README.md');
});
