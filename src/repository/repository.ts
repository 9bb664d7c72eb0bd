// The model repository: every model version found in the folder, loaded in parallel, with
// its state. A model that fails to load is logged and marked UNAVAILABLE; the rest serve.
// Each version's compressed variants load beside it; a broken variant never fails its base.
import { dirname, join } from 'node:path';
import { availableParallelism } from 'node:os';
import { fileStamp, scanModel, scanRepository, type ScannedModel, type ScannedVersion } from './scan.js';
import { checkModelName, fileOutside, modelFolder } from './model-folder.js';
import { fromTritonConfig, isTritonConfig } from './triton-config.js';
import { parseModelConfig, type ConfigDefaults, type ModelConfig } from './model-config.js';
import { chooseSizing, estimateCopyBytes, type Explicit, type Sizing } from './sizing.js';
import { modelBytesOnDisk } from './model-bytes.js';
import { ModelVersion, type LoadOptions } from './model-version.js';
import type { Isolation } from '../pool/protocol.js';
import { attachVariants, loadVariant } from './variants.js';
import { ServeError, scrubPaths } from '../errors.js';

export interface RepositoryLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** A model that could not even be scanned (bad folder, unreadable config.json). */
export interface BrokenModel {
  name: string;
  reason: string;
}

export interface RepositoryLoadOptions {
  faultHooks?: boolean;
  /** Where every model's sessions run: threads (default) or child processes. */
  isolation?: Isolation;
  /** Hooks for one model version or variant ('' for the base, metrics): its scheduler observer and worker-exit callback. */
  instrument?: (model: string, version: string, variant: string) => Pick<LoadOptions, 'observer' | 'onWorkerExit'>;
  /** Called once a version (or variant) that no longer serves has drained: its metric series go (metrics). */
  retire?: (model: string, version: string, variant: string) => void;
}

/** One entry of the model repository index (Triton's model_repository extension). */
export interface IndexEntry {
  name: string;
  version?: string;
  state: string;
  reason: string;
}

/** What a load request may change: config.json's content, replaced for this load. */
export interface LoadRequest {
  /** Parsed JSON used instead of config.json (Triton's load parameter "config"). */
  config?: unknown;
  /**
   * Keep serving versions whose config and files did not change (poll mode: a version folder
   * added loads only that version). Without it (a load request) every version loads anew.
   */
  reuseUnchanged?: boolean;
}

/** The CLI's instances and threads (undefined: auto), where each came from, and the memory budget of every model's copies. */
export interface RepositoryDefaults extends ConfigDefaults {
  instancesFrom?: string;
  intraOpThreadsFrom?: string;
  memoryBudget: number;
  /** os.availableParallelism() unless given. */
  cores?: number;
}

export class ModelRepository {
  /** name → versions, ascending. */
  readonly models = new Map<string, ModelVersion[]>();
  readonly broken: BrokenModel[] = [];
  /** Models taken out by unloadModel (or whose load failed while none served): name → reason, for the index and their 503s. */
  private readonly offline = new Map<string, string>();
  /** Versions of a load in progress, for the index: they serve only once all have loaded. */
  private readonly loading = new Map<string, ModelVersion[]>();
  /** Each model's chain of load and unload operations: one at a time per model. */
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly pending = new Set<Promise<unknown>>();
  /** model.onnx bytes of each version, for the memory budget of later loads. */
  private readonly bytes = new WeakMap<ModelVersion, number>();
  /** What each version loaded from: its config and its files' stamps (reuseUnchanged compares them). */
  private readonly stamps = new WeakMap<ModelVersion, string>();
  private loadOpts: RepositoryLoadOptions = {};
  private closed = false;

  constructor(
    readonly root: string,
    private readonly defaults: RepositoryDefaults,
    private readonly log: RepositoryLogger,
  ) {}

  async loadAll(opts: RepositoryLoadOptions = {}): Promise<void> {
    this.loadOpts = opts;
    const { models, errors } = await scanRepository(this.root);
    for (const e of errors) {
      this.broken.push({ name: e.name, reason: scrubPaths(e.message, this.root) });
      this.log.error({ model: e.name, reason: e.message }, 'model unavailable');
    }
    const loads: Promise<void>[] = [];
    const sizes = await this.modelSizes(models);
    const allCopies = [...sizes.values()].reduce((a, b) => a + estimateCopyBytes(b), 0);
    for (const m of models) {
      let config;
      try {
        config = parseModelConfig(m.rawConfig, m.configFile, this.defaults);
      } catch (err) {
        this.broken.push({ name: m.name, reason: scrubPaths((err as Error).message, this.root) });
        this.log.error({ model: m.name, reason: (err as Error).message }, 'model unavailable');
        continue;
      }
      // every other version loads at least one copy: this one's extra copies get what is left
      const versions = this.versionsOf(m, config, sizes, (bytes) => allCopies - estimateCopyBytes(bytes));
      for (const mv of versions) this.stamps.set(mv, await this.stampOf(m, m.rawConfig, config, { version: mv.version, path: mv.path }));
      this.models.set(m.name, versions);
      loads.push(this.loadVersions(versions));
    }
    await Promise.all(loads);
  }

  /** The hooks later loads (loadModel) use when loadAll is not called (explicit model control). */
  useLoadOptions(opts: RepositoryLoadOptions): void {
    this.loadOpts = opts;
  }

  /** New (unloaded) ModelVersions for a scanned model, each sized within the budget left by `otherCopies(bytes)`. */
  private versionsOf(m: ScannedModel, config: ModelConfig, sizes: Map<string, number>, otherCopies: (bytes: number) => number): ModelVersion[] {
    return m.versions.map((v) => {
      const bytes = sizes.get(v.path) ?? 0;
      const sizing = this.sizing(m, config, bytes, this.defaults.memoryBudget - otherCopies(bytes));
      if (sizing.warning) this.log.warn({ model: m.name, version: v.version, instances: sizing.instances, reason: sizing.warning }, 'instances exceed the memory budget; loading them anyway');
      const mv = new ModelVersion(m.name, v.version, v.path, config, m.configFile, sizing);
      this.bytes.set(mv, bytes);
      attachVariants(mv);
      return mv;
    });
  }

  /** Loads versions and their variants in parallel; never rejects: each one's state and reason say how it went. */
  private async loadVersions(versions: ModelVersion[]): Promise<void> {
    const opts = this.loadOpts;
    const loads: Promise<void>[] = [];
    for (const mv of versions) {
      const loadOpts = (variant = ''): LoadOptions => ({ faultHooks: opts.faultHooks, isolation: opts.isolation, log: this.log, ...opts.instrument?.(mv.name, mv.version, variant) });
      const base = mv.load(loadOpts()).then(
        () =>
          this.log.info(
            { model: mv.name, version: mv.version, loadMs: Math.round(mv.loadMs), maxBatchSize: mv.batching!.maxBatchSize, ...(mv.unbatchedReason ? { unbatched: mv.unbatchedReason } : {}) },
            'model ready',
          ),
        (err: Error) => {
          // a reason is shown to clients (/v1/models, 503 messages): no absolute paths in it
          mv.reason = scrubPaths(mv.reason ?? err.message, this.root);
          this.log.error({ model: mv.name, version: mv.version, reason: err.message }, 'model unavailable');
        },
      );
      loads.push(base);
      for (const [name, v] of mv.variants) {
        loads.push(
          loadVariant(mv, v, base, loadOpts(name)).then(
            () => this.log.info({ model: mv.name, version: mv.version, variant: name, loadMs: Math.round(v.loadMs) }, 'variant ready'),
            (err: Error) => {
              v.reason = scrubPaths(v.reason ?? err.message, this.root);
              this.log.error({ model: mv.name, version: mv.version, variant: name, reason: err.message }, 'variant unavailable');
            },
          ),
        );
      }
    }
    await Promise.all(loads);
  }

  /** Each version's bytes on disk, external data included, by path (0 when it cannot be read: the load says why). */
  private async modelSizes(models: ScannedModel[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    await Promise.all(models.flatMap((m) => m.versions).map(async (v) => out.set(v.path, await modelBytesOnDisk(v.path))));
    return out;
  }

  /** config.json's values win, then the CLI's; the rest is auto. */
  private sizing(m: ScannedModel, config: ModelConfig, modelBytes: number, budgetBytes: number): Sizing {
    const raw = (typeof m.rawConfig === 'object' && m.rawConfig !== null ? m.rawConfig : {}) as Record<string, unknown>;
    const given = (key: 'instances' | 'intraOpThreads', cli: string | undefined): Explicit | undefined => {
      const value = config[key];
      if (value === undefined) return undefined;
      return { value, from: raw[key] !== undefined ? 'config.json' : (cli ?? 'the CLI') };
    };
    return chooseSizing({
      cores: this.defaults.cores ?? availableParallelism(),
      modelBytes,
      budgetBytes: Math.max(0, budgetBytes),
      instances: given('instances', this.defaults.instancesFrom),
      intraOpThreads: given('intraOpThreads', this.defaults.intraOpThreadsFrom),
    });
  }

  /**
   * The versions of a model, ascending (only the one asked for when `version` is given), ready
   * or not; throws MODEL_NOT_FOUND (unknown model or version) / MODEL_NOT_READY (a model that
   * could not be scanned).
   */
  find(name: string, version?: string): ModelVersion[] {
    const versions = this.models.get(name);
    if (!versions) {
      const broken = this.broken.find((b) => b.name === name);
      if (broken) throw new ServeError('MODEL_NOT_READY', `model "${name}" is unavailable: ${broken.reason}`);
      const offline = this.offline.get(name);
      if (offline !== undefined) throw new ServeError('MODEL_NOT_READY', `model "${name}" is not loaded (${offline}); POST /v2/repository/models/${name}/load loads it`);
      throw new ServeError('MODEL_NOT_FOUND', `no model "${name}"; available: ${[...this.models.keys()].join(', ') || 'none'}`);
    }
    if (version === undefined) return versions;
    const mv = versions.find((v) => v.version === version);
    if (!mv) throw new ServeError('MODEL_NOT_FOUND', `model "${name}" has no version "${version}"; versions: ${versions.map((v) => v.version).join(', ')}`);
    return [mv];
  }

  /**
   * The version asked for (or the highest), or its variant when one is named; throws
   * MODEL_NOT_FOUND (unknown model, version or variant) / MODEL_NOT_READY (that one is not READY).
   */
  resolve(name: string, version?: string, variant?: string): ModelVersion {
    const found = this.find(name, version);
    const mv = found[found.length - 1]!;
    const target = variant === undefined ? mv : mv.variants.get(variant);
    if (!target) {
      throw new ServeError('MODEL_NOT_FOUND', `model "${name}" version ${mv.version} has no variant "${variant}"; variants: ${[...mv.variants.keys()].join(', ') || 'none'}`);
    }
    if (!target.ready) throw new ServeError('MODEL_NOT_READY', `${target.label} is ${target.state}${target.reason ? `: ${target.reason}` : ''}`, target.retryAfter() ?? {});
    return target;
  }

  /** Every base model version (variants hang off each: `mv.variants`). */
  all(): ModelVersion[] {
    return [...this.models.values()].flat();
  }

  /** Every base version and every variant: each has its own scheduler and workers. */
  allWithVariants(): ModelVersion[] {
    return this.all().flatMap((mv) => [mv, ...mv.variants.values()]);
  }

  /** Every model version READY and nothing broken (Triton's strict readiness); variants do not count. */
  allReady(): boolean {
    return this.broken.length === 0 && this.all().every((mv) => mv.ready);
  }

  /**
   * Loads (or reloads) one model from its folder: every version on disk, with config.json, or
   * `request.config` in its place. Atomic: the new versions load fully (workers started, warm-up
   * run) beside the serving ones, then take all new requests at once; the old ones finish their
   * queues and end their workers. If any version fails, the new ones are ended and what served
   * before serves on: MODEL_LOAD_FAILED with the reason.
   */
  loadModel(name: string, request: LoadRequest = {}): Promise<ModelVersion[]> {
    try {
      checkModelName(name);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.exclusive(name, async () => {
      const dir = await modelFolder(this.root, name);
      const serving = this.models.get(name);
      const failed = (reason: string): never => {
        if (!serving) this.offline.set(name, `its last load failed: ${reason}`);
        this.log.error({ model: name, reason }, 'model load failed');
        const kept = serving ? `; versions ${serving.map((v) => v.version).join(', ')} still serve` : '';
        throw new ServeError('MODEL_LOAD_FAILED', `model "${name}" failed to load: ${reason}${kept}`);
      };
      let m: ScannedModel;
      try {
        m = await scanModel(dir, name);
      } catch (err) {
        return failed(scrubPaths((err as Error).message, this.root));
      }
      let raw = request.config !== undefined ? request.config : m.rawConfig;
      let config: ModelConfig;
      try {
        // Triton's own form (tritonclient's load_model(config=...)): mapped over config.json
        if (request.config !== undefined && isTritonConfig(raw)) raw = fromTritonConfig(raw, name, m.rawConfig);
        config = parseModelConfig(raw, request.config !== undefined ? `${name}: the load request's parameters.config` : m.configFile, this.defaults);
      } catch (err) {
        return failed(scrubPaths((err as Error).message, this.root));
      }
      const files = m.versions.flatMap((v) => [v.path, ...Object.values(config.variants).map((f) => join(dirname(v.path), f))]);
      const outside = await fileOutside(this.root, [dir, ...files]);
      if (outside !== undefined) return failed(`${scrubPaths(outside, this.root)} is a link to a file outside the model repository`);
      const stamps = new Map(await Promise.all(m.versions.map(async (v) => [v.version, await this.stampOf(m, raw, config, v)] as const)));
      const reused = new Map<string, ModelVersion>();
      for (const mv of request.reuseUnchanged ? (serving ?? []) : []) if (mv.ready && this.stamps.get(mv) === stamps.get(mv.version)) reused.set(mv.version, mv);
      const scanned = { ...m, rawConfig: raw, versions: m.versions.filter((v) => !reused.has(v.version)) };
      const sizes = await this.modelSizes([scanned]);
      // the budget left by every other model's copies, as they run, and one copy of each other new version
      const others = this.all().filter((mv) => mv.name !== name || reused.has(mv.version)).reduce((a, mv) => a + mv.sizing.instances * estimateCopyBytes(this.bytes.get(mv) ?? 0), 0);
      const news = [...sizes.values()].reduce((a, b) => a + estimateCopyBytes(b), 0);
      const fresh = this.versionsOf(scanned, config, sizes, (bytes) => others + news - estimateCopyBytes(bytes));
      for (const mv of fresh) this.stamps.set(mv, stamps.get(mv.version)!);
      const versions = m.versions.map((v) => reused.get(v.version) ?? fresh.find((mv) => mv.version === v.version)!);
      if (serving && fresh.length === 0 && versions.length === serving.length) return serving; // nothing changed
      this.loading.set(name, fresh);
      try {
        await this.loadVersions(fresh);
      } finally {
        this.loading.delete(name);
      }
      const bad = fresh.find((mv) => mv.state !== 'READY');
      if (bad || this.closed) {
        await this.retire(fresh, serving ?? []);
        if (this.closed) throw new ServeError('SHUTTING_DOWN', 'the server is shutting down; the load was abandoned');
        return failed(`version ${bad!.version}: ${bad!.reason ?? bad!.state}`);
      }
      // the switch: one synchronous step, so a request resolves either the old versions or the new
      this.models.set(name, versions);
      this.offline.delete(name);
      this.dropBroken(name);
      this.log.info(
        { model: name, versions: versions.map((v) => v.version), loaded: fresh.map((v) => v.version), replaced: serving?.filter((mv) => !reused.has(mv.version)).map((v) => v.version) ?? [] },
        serving ? 'model reloaded' : 'model loaded',
      );
      if (serving) await this.retire(serving.filter((mv) => reused.get(mv.version) !== mv), versions);
      return versions;
    });
  }

  /**
   * Takes a model out of service: readiness and listings drop it at once, its queued and running
   * requests finish, its workers end. `remember` (an unload request) keeps it known as unloaded, so
   * its requests answer MODEL_NOT_READY, not MODEL_NOT_FOUND. Unloading a model on disk that does
   * not serve does nothing; a name neither served nor on disk is MODEL_NOT_FOUND.
   */
  unloadModel(name: string, opts: { remember?: boolean; reason?: string } = {}): Promise<void> {
    try {
      checkModelName(name);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.exclusive(name, async () => {
      const serving = this.models.get(name);
      const wasBroken = this.dropBroken(name);
      if (!serving) {
        if (opts.remember === false) {
          this.offline.delete(name);
          return;
        }
        if (!wasBroken && !this.offline.has(name)) await modelFolder(this.root, name); // MODEL_NOT_FOUND when it is not there either
        this.offline.set(name, opts.reason ?? 'unloaded');
        return;
      }
      this.models.delete(name);
      if (opts.remember !== false) this.offline.set(name, opts.reason ?? 'unloaded');
      else this.offline.delete(name);
      this.log.info({ model: name, versions: serving.map((v) => v.version), reason: opts.reason ?? 'unloaded' }, 'model unloading: finishing its queue');
      await this.retire(serving, []);
      this.log.info({ model: name }, 'model unloaded');
    });
  }

  /**
   * Every model on disk or serving, each version with its state: the serving ones' own, LOADING
   * for a load in progress, UNAVAILABLE with the reason for the rest (not loaded, unloaded, failed).
   */
  async index(onlyReady = false): Promise<IndexEntry[]> {
    const { models: onDisk, errors } = await scanRepository(this.root);
    const disk = new Map(onDisk.map((m) => [m.name, m]));
    const names = new Set([...disk.keys(), ...errors.map((e) => e.name), ...this.models.keys(), ...this.loading.keys(), ...this.broken.map((b) => b.name)]);
    const out: IndexEntry[] = [];
    for (const name of [...names].sort()) {
      const serving = this.models.get(name) ?? [];
      const loading = this.loading.get(name) ?? [];
      const seen = new Set<string>();
      for (const mv of serving) {
        seen.add(mv.version);
        out.push({ name, version: mv.version, state: mv.ready ? 'READY' : mv.state, reason: mv.reason ?? '' });
      }
      for (const mv of loading) if (!seen.has(mv.version)) (seen.add(mv.version), out.push({ name, version: mv.version, state: 'LOADING', reason: '' }));
      const why = this.broken.find((b) => b.name === name)?.reason ?? this.offline.get(name) ?? 'not loaded';
      const scanError = errors.find((e) => e.name === name);
      if (scanError && seen.size === 0) out.push({ name, state: 'UNAVAILABLE', reason: scrubPaths(scanError.message, this.root) });
      for (const v of disk.get(name)?.versions ?? []) if (!seen.has(v.version)) out.push({ name, version: v.version, state: 'UNAVAILABLE', reason: why });
    }
    return onlyReady ? out.filter((e) => e.state === 'READY') : out;
  }

  /** What a version's load reads: the config and the stamps of its model, variant and warm-up files. */
  private async stampOf(m: ScannedModel, raw: unknown, config: ModelConfig, v: ScannedVersion): Promise<string> {
    const files = [v.path, ...Object.values(config.variants).map((f) => join(dirname(v.path), f))];
    if (typeof config.warmup === 'string') files.push(join(m.dir, config.warmup));
    return [JSON.stringify(raw ?? null), ...(await Promise.all(files.map(async (f) => `${f} ${await fileStamp(f)}`)))].join('\n');
  }

  /** Ends versions that no longer serve (their queues drained first), and their metric series unless `kept` serves them on. */
  private async retire(old: readonly ModelVersion[], kept: readonly ModelVersion[]): Promise<void> {
    await Promise.all(old.map((mv) => mv.unload()));
    const keep = new Set(kept.flatMap((mv) => [mv, ...mv.variants.values()]).map((v) => `${v.version}\0${v.variant ?? ''}`));
    for (const mv of old.flatMap((v) => [v, ...v.variants.values()])) {
      if (!keep.has(`${mv.version}\0${mv.variant ?? ''}`)) this.loadOpts.retire?.(mv.name, mv.version, mv.variant ?? '');
    }
  }

  private dropBroken(name: string): boolean {
    const i = this.broken.findIndex((b) => b.name === name);
    if (i >= 0) this.broken.splice(i, 1);
    return i >= 0;
  }

  /** Runs `fn` after every earlier operation on the same model has settled (loads and unloads never overlap). */
  private exclusive<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ServeError('SHUTTING_DOWN', 'the server is shutting down; models are no longer loaded or unloaded'));
    const run = (this.locks.get(name) ?? Promise.resolve()).then(fn, fn);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(name, settled);
    this.pending.add(settled);
    void settled.then(() => {
      this.pending.delete(settled);
      if (this.locks.get(name) === settled) this.locks.delete(name);
    });
    return run;
  }

  /** Lets loads and unloads in progress finish, then finishes every model's queue and ends its workers. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.pending]);
    await Promise.all(this.all().map((mv) => mv.unload()));
  }
}
