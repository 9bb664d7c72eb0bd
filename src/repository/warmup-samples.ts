// A model's own warm-up samples (config.json "warmup"): read from config.json or from a JSON
// file beside it, then decoded against the signature as /v1 decodes a request, so a sample that
// does not fit the model fails its load with the key that is wrong.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ModelConfigError, parseWarmup, type ModelConfig, type WarmupSample } from './model-config.js';
import { decodeInput, matchInputs, type TensorSignature } from '../signature.js';
import { ServeError } from '../errors.js';
import { elementCount, type Tensor } from '../tensors/dtypes.js';
import { isObject } from '../json-shape.js';
import type { WarmupPlan } from '../pool/protocol.js';

/** Elements a `fill` tensor may have (64 MiB of float32). */
const MAX_FILL_ELEMENTS = 1 << 24;

/** The samples config.json lists or names (undefined: made-up inputs; false: no warm-up). */
export async function readWarmupSamples(warmup: ModelConfig['warmup'], configFile: string): Promise<readonly WarmupSample[] | false | undefined> {
  if (typeof warmup !== 'string') return warmup;
  const file = join(dirname(configFile), warmup);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new ModelConfigError(`${configFile}: "warmup" names ${warmup}, which cannot be read as JSON: ${(err as Error).message}`);
  }
  const fail = (key: string, value: unknown, allowed: string): never => {
    throw new ModelConfigError(`${file}: "${key}" is ${JSON.stringify(value)?.slice(0, 200)}; allowed: ${allowed}`);
  };
  return parseWarmup(raw, '(top level)', fail) as readonly WarmupSample[];
}

function isFill(v: unknown): v is { dims: unknown; fill: unknown } {
  return isObject(v) && 'dims' in v && 'fill' in v && !('data' in v);
}

/** `{"dims": [...], "fill": x}` as the `{dims, data}` it stands for, within a size limit. */
function expandFill(v: { dims: unknown; fill: unknown }, name: string): { dims: unknown; data: unknown[] } {
  const dims = v.dims;
  if (!Array.isArray(dims) || !dims.every((d) => Number.isSafeInteger(d) && d >= 1)) {
    throw new ServeError('INVALID_INPUT', `input "${name}": "dims" must be a list of positive integers`);
  }
  const n = elementCount(dims as number[]);
  if (n > MAX_FILL_ELEMENTS) throw new ServeError('INVALID_INPUT', `input "${name}": ${n} elements is more than a warm-up sample may fill (${MAX_FILL_ELEMENTS})`);
  return { dims, data: new Array<unknown>(n).fill(v.fill) };
}

/** Each sample decoded against the model's inputs: every input present, dtypes and dims fitting. */
export function decodeWarmupSamples(samples: readonly WarmupSample[], inputs: readonly TensorSignature[], where: string): Record<string, Tensor>[] {
  return samples.map((sample, i) => {
    const key = `warmup[${i}]${sample.name ? ` ("${sample.name}")` : ''}`;
    try {
      return matchInputs(Object.keys(sample.inputs), inputs, 0, (sig) => {
        const v = sample.inputs[sig.name];
        return decodeInput(isFill(v) ? expandFill(v, sig.name) : v, sig);
      }).tensors;
    } catch (err) {
      throw new ModelConfigError(`${where}: ${key} does not fit the model: ${(err as Error).message}`);
    }
  });
}

/** The plan each worker runs: none, the model's samples, or made-up inputs. */
export function warmupPlan(samples: readonly WarmupSample[] | false | undefined, inputs: readonly TensorSignature[], checkBatch: boolean, where: string): WarmupPlan {
  if (samples === false || samples?.length === 0) return { kind: 'none' };
  if (samples === undefined) return { kind: 'made-up', checkBatch };
  return { kind: 'samples', samples: decodeWarmupSamples(samples, inputs, where), checkBatch };
}
