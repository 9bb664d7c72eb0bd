// The model repository: every model version found in the folder, loaded in parallel, with
// its state. A model that fails to load is logged and marked UNAVAILABLE; the rest serve.
// Each version's compressed variants load beside it; a broken variant never fails its base.
import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { scanRepository, type ScannedModel } from './scan.js';
import { parseModelConfig, type ConfigDefaults, type ModelConfig } from './model-config.js';
import { chooseSizing, estimateCopyBytes, type Explicit, type Sizing } from './sizing.js';
import { ModelVersion, type LoadOptions } from './model-version.js';
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
  /** Hooks for one model version or variant ('' for the base, metrics): its scheduler observer and worker-exit callback. */
  instrument?: (model: string, version: string, variant: string) => Pick<LoadOptions, 'observer' | 'onWorkerExit'>;
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

  constructor(
    readonly root: string,
    private readonly defaults: RepositoryDefaults,
    private readonly log: RepositoryLogger,
  ) {}

  async loadAll(opts: RepositoryLoadOptions = {}): Promise<void> {
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
      const versions = m.versions.map((v) => {
        const bytes = sizes.get(v.path) ?? 0;
        // every other version loads at least one copy: this one's extra copies get what is left
        const sizing = this.sizing(m, config, bytes, this.defaults.memoryBudget - (allCopies - estimateCopyBytes(bytes)));
        if (sizing.warning) this.log.warn({ model: m.name, version: v.version, instances: sizing.instances, reason: sizing.warning }, 'instances exceed the memory budget; loading them anyway');
        return new ModelVersion(m.name, v.version, v.path, config, m.configFile, sizing);
      });
      this.models.set(m.name, versions);
      for (const mv of versions) {
        attachVariants(mv);
        const loadOpts = (variant = ''): LoadOptions => ({ faultHooks: opts.faultHooks, log: this.log, ...opts.instrument?.(mv.name, mv.version, variant) });
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
    }
    await Promise.all(loads);
  }

  /** Each version's model.onnx size on disk, by path (0 when it cannot be read: the load says why). */
  private async modelSizes(models: ScannedModel[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    await Promise.all(
      models.flatMap((m) => m.versions).map(async (v) => out.set(v.path, await stat(v.path).then((st) => st.size, () => 0))),
    );
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
    if (!target.ready) throw new ServeError('MODEL_NOT_READY', `${target.label} is ${target.state}${target.reason ? `: ${target.reason}` : ''}`);
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

  async close(): Promise<void> {
    await Promise.all(this.all().map((mv) => mv.unload()));
  }
}
