// Poll model control: every N seconds the repository folder is scanned into a snapshot (each
// model's config.json and the size and time of each version's files), compared with the last
// one, and the models that changed are reloaded (atomically, src/repository/repository.ts),
// the new ones loaded and the removed ones unloaded. The comparison is pure (planChanges).
import { dirname, join } from 'node:path';
import { fileStamp, scanRepository } from './scan.js';
import type { ModelRepository, RepositoryLogger } from './repository.js';

/** Model name → a text that changes whenever anything a load reads changes. */
export type Snapshot = ReadonlyMap<string, string>;

export interface Plan {
  /** New or changed models, to load (or reload). */
  load: string[];
  /** Models whose folder is gone, to unload. */
  unload: string[];
}

/** What changed between two scans. Pure. */
export function planChanges(before: Snapshot, after: Snapshot): Plan {
  const load = [...after].filter(([name, fp]) => before.get(name) !== fp).map(([name]) => name);
  const unload = [...before.keys()].filter((name) => !after.has(name));
  return { load: load.sort(), unload: unload.sort() };
}

/** Scans the folder: one fingerprint per model folder (a folder that does not scan has its error as fingerprint). */
export async function snapshot(root: string): Promise<Map<string, string>> {
  const { models, errors } = await scanRepository(root);
  const out = new Map<string, string>();
  for (const e of errors) out.set(e.name, `error ${e.message}`);
  for (const m of models) {
    const raw = m.rawConfig as { variants?: unknown; warmup?: unknown } | undefined;
    const variants = raw && typeof raw.variants === 'object' && raw.variants !== null ? Object.values(raw.variants).filter((f): f is string => typeof f === 'string') : [];
    const parts = [JSON.stringify(m.rawConfig ?? null)];
    if (typeof raw?.warmup === 'string') parts.push(`warmup ${await fileStamp(join(m.dir, raw.warmup))}`);
    for (const v of m.versions) {
      parts.push(`${v.version} ${await fileStamp(v.path)}`);
      for (const f of variants) parts.push(`${v.version}/${f} ${await fileStamp(join(dirname(v.path), f))}`);
    }
    out.set(m.name, parts.join('\n'));
  }
  return out;
}

export interface Poller {
  stop(): Promise<void>;
}

/**
 * Starts polling `repository.root` every `intervalMs`, from `initial` (the snapshot taken before
 * the start-up load). One scan at a time: the next is timed from the end of the last. A load that
 * fails is logged and leaves what served; it is tried again only once the files change again.
 */
export function startPolling(repository: ModelRepository, initial: Snapshot, intervalMs: number, log: RepositoryLogger): Poller {
  let last = initial;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = async (): Promise<void> => {
    let next: Snapshot;
    try {
      next = await snapshot(repository.root);
    } catch (err) {
      log.error({ reason: (err as Error).message }, 'repository poll: the folder cannot be scanned; serving on');
      return;
    }
    const plan = planChanges(last, next);
    last = next;
    for (const name of plan.unload) {
      if (stopped) return;
      await repository.unloadModel(name, { remember: false, reason: 'removed from the repository' }).catch((err: Error) => log.error({ model: name, reason: err.message }, 'repository poll: unload failed'));
    }
    await Promise.all(
      // versions whose files and config did not change keep serving as they are; loadModel logs its failures
      plan.load.map((name) => (stopped ? undefined : repository.loadModel(name, { reuseUnchanged: true }).catch(() => undefined))),
    );
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick().finally(schedule);
    }, intervalMs);
    timer.unref();
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running.catch(() => undefined);
    },
  };
}
