// How many workers (instances) and onnxruntime intra-op threads a model version gets, from the
// cores, the model's size on disk and a memory budget; values that config.json or the CLI gives
// always win. Pure: the caller reads the cores, the file size and the budget.

/**
 * Below this size on disk a model is "small": HTTP-bound. Measured on 2 cores (BENCHMARKS.md):
 * the main thread spends ≈ 0.16 ms per request on HTTP and JSON (seed-mlp, 5,641 req/s at 85–89 %
 * of its core), while a batched row costs ≈ 0.54 ms of compute for the 96 MB heavy MLP (1,850
 * rows/s in process at 1 × 1), ≈ 5.6 µs per MB of weights. Compute per row matches the main
 * thread's cost per request near 28 MB; below it the workers wait on the main thread, and more
 * compute threads only take the main thread's core (seed-mlp, 0.8 MB, runs ~0.1 ms). 16 MiB keeps
 * a margin under 28 MB: an idle extra thread costs little (no spinning), a starved heavy model a lot.
 */
export const SMALL_MODEL_BYTES = 16 * 1024 ** 2;

/**
 * Memory one instance's copy of the model takes, per byte on disk: the session holds the weights
 * (≈ the file) plus what onnxruntime adds beside them (pre-packed GEMM weights, the arena for
 * activations). Measured with onnxruntime-node 1.30: a second session of the 96 MiB heavy MLP,
 * run once at batch 32, added 112 MiB of RSS (1.17 ×); 1.5 leaves room for larger batches'
 * activations and for the file's bytes held while a session is created.
 */
export const COPY_FACTOR = 1.5;

/**
 * Most intra-op threads auto gives one session before it adds an instance: a batch of tens of rows
 * splits into few tiles, so more threads per session add synchronisation for little work each.
 * Measured on 2 cores in process, 1 × 2 and 2 × 1 served the same (3,519 rows/s): the split is a
 * choice, and fewer copies save memory.
 */
export const MAX_AUTO_THREADS = 4;

/** Small models on a machine with spare cores get this many workers (one runs while the other is fed; a death leaves one). */
export const SMALL_MODEL_INSTANCES = 2;

export interface Explicit {
  value: number;
  /** Where it was given, for the reason: `config.json`, `--instances`, `ONNX_SERVE_INSTANCES`… */
  from: string;
}

export interface SizingInput {
  /** os.availableParallelism(). */
  cores: number;
  /** The model's size on disk. */
  modelBytes: number;
  /** Memory this version's copies may take. */
  budgetBytes: number;
  instances?: Explicit;
  intraOpThreads?: Explicit;
}

export interface Sizing {
  instances: number;
  intraOpThreads: number;
  /** True when onnx-serve chose the instance count (neither config.json nor the CLI gave it); the reason says where each value came from. */
  auto: boolean;
  reason: string;
  /** Set when the copies exceed the budget: explicit instances, or a model whose one copy is over it (it loads anyway). */
  warning?: string;
}

export function estimateCopyBytes(modelBytes: number): number {
  return Math.ceil(modelBytes * COPY_FACTOR);
}

/** Bytes as people read them: 812 KiB, 95.7 MiB, 3.9 GiB. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function chooseSizing(input: SizingInput): Sizing {
  const cores = Math.max(1, Math.floor(input.cores));
  const compute = Math.max(1, cores - 1);
  const copy = estimateCopyBytes(input.modelBytes);
  const fit = Math.max(0, Math.floor(input.budgetBytes / Math.max(1, copy)));
  const small = input.modelBytes < SMALL_MODEL_BYTES;
  const parts: string[] = [];
  const kind = small
    ? `model ${formatBytes(input.modelBytes)} < ${formatBytes(SMALL_MODEL_BYTES)}: small, HTTP-bound`
    : `model ${formatBytes(input.modelBytes)} ≥ ${formatBytes(SMALL_MODEL_BYTES)}: compute-heavy`;
  const budget = `a copy ≈ ${formatBytes(copy)} (${COPY_FACTOR} × file), budget ${formatBytes(input.budgetBytes)} fits ${fit >= 100 ? '100+' : fit}`;

  let instances: number;
  if (input.instances) {
    instances = input.instances.value;
    parts.push(`instances ${instances} from ${input.instances.from}`);
  } else {
    const threads = input.intraOpThreads?.value;
    // compute cores the threads given leave room for, at least one instance
    const byCores = threads === undefined ? undefined : Math.max(1, Math.floor(compute / threads));
    const want = small ? Math.min(SMALL_MODEL_INSTANCES, compute, byCores ?? compute) : (byCores ?? Math.ceil(compute / MAX_AUTO_THREADS));
    instances = Math.max(1, Math.min(want, fit));
    const why =
      fit < want
        ? fit <= 1
          ? 'a second copy does not fit the budget'
          : `only ${fit} copies fit the budget`
        : small
          ? 'more would only wait on the main thread'
          : threads === undefined
            ? `≤ ${MAX_AUTO_THREADS} threads each`
            : `${threads} threads each in ${compute} compute cores`;
    parts.push(`auto instances ${instances} (${why})`);
  }

  let intraOpThreads: number;
  if (input.intraOpThreads) {
    intraOpThreads = input.intraOpThreads.value;
    parts.push(`intraOpThreads ${intraOpThreads} from ${input.intraOpThreads.from}`);
  } else {
    // a small model's run is shorter than the main thread's work per request: one thread is enough
    intraOpThreads = small ? 1 : Math.max(1, Math.floor(compute / instances));
    parts.push(`auto intraOpThreads ${intraOpThreads}${small ? '' : ` (the ${compute} compute core${compute === 1 ? '' : 's'} shared)`}`);
  }

  const auto = !input.instances;
  const head = `${cores} core${cores === 1 ? '' : 's'}, 1 for the main thread, ${compute} for compute; ${kind}; ${budget}`;
  const sizing: Sizing = { instances, intraOpThreads, auto, reason: `${head}: ${parts.join(', ')}` };
  if (instances * copy > input.budgetBytes) {
    sizing.warning = `${instances} instance${instances === 1 ? '' : 's'} × ${formatBytes(copy)} = ${formatBytes(instances * copy)} exceeds the memory budget of ${formatBytes(input.budgetBytes)}`;
    sizing.reason += `; warning: ${sizing.warning}`;
  }
  return sizing;
}
