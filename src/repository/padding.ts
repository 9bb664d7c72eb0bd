// config.json "padding" against the model's signature, once it is known at load: every named
// input exists and has a symbolic dimension to pad, each value fits its dtype, and no input
// left unpadded shares a padded dimension's name (its exact shape would keep the lengths apart
// anyway). Builds the plan the scheduler packs and unpacks with, and the routes key with. Pure.
import { DTYPES } from '../tensors/dtypes.js';
import type { OutputCut, PaddingPlan, InputPadding } from '../tensors/pad.js';
import { describeDims, isNamedDim, type TensorSignature } from '../signature.js';
import { ModelConfigError } from './model-config.js';

interface SignatureLike {
  inputs: readonly TensorSignature[];
  outputs: readonly TensorSignature[];
}

/** The padding plan, or undefined when config.json pads nothing; throws ModelConfigError naming the key. */
export function paddingPlan(padding: Readonly<Record<string, number | boolean>>, sig: SignatureLike, configFile: string): PaddingPlan | undefined {
  const names = Object.keys(padding);
  if (names.length === 0) return undefined;
  const fail = (key: string, why: string): never => {
    throw new ModelConfigError(`${configFile}: "${key}" ${why}`);
  };
  const inputs: Record<string, InputPadding> = {};
  /** Each padded dimension's name → the first padded input (and dimension) that has it. */
  const named = new Map<string, { input: string; inputDim: number }>();
  for (const name of names) {
    const s = sig.inputs.find((i) => i.name === name);
    if (!s) fail(`padding.${name}`, `names no input of the model; allowed: its inputs ${sig.inputs.map((i) => `"${i.name}"`).join(', ')}`);
    const input = s!;
    const dims: number[] = [];
    input.dims.forEach((d, i) => {
      if (i > 0 && typeof d === 'string') dims.push(i);
    });
    if (!dims.length) fail(`padding.${name}`, `pads input "${name}", which has no variable dimension beyond dimension 0 (dims ${describeDims(input.dims)}); allowed: inputs with a symbolic dimension such as [batch, seq]`);
    inputs[name] = { dims, value: padValue(padding[name]!, input, `padding.${name}`, fail) };
    for (const i of dims) {
      const d = input.dims[i]!;
      if (isNamedDim(d) && !named.has(d)) named.set(d, { input: name, inputDim: i });
    }
  }
  for (const other of sig.inputs) {
    if (inputs[other.name]) continue;
    const shared = other.dims.find((d, i) => i > 0 && isNamedDim(d) && named.has(d));
    if (shared !== undefined) {
      const by = named.get(shared as string)!.input;
      fail('padding', `pads dimension "${shared}" of input "${by}" but not input "${other.name}", which has it too (dims ${describeDims(other.dims)}); add "${other.name}" to "padding"`);
    }
  }
  const outputs: Record<string, OutputCut[]> = {};
  for (const o of sig.outputs) {
    const cuts: OutputCut[] = [];
    o.dims.forEach((d, i) => {
      const from = i > 0 && isNamedDim(d) ? named.get(d) : undefined;
      if (from) cuts.push({ dim: i, ...from });
    });
    if (cuts.length) outputs[o.name] = cuts;
  }
  return { inputs, outputs };
}

/** A pad value as the number packing fills with: within the input's dtype; a bool's is false/true or 0/1. */
function padValue(v: number | boolean, input: TensorSignature, key: string, fail: (key: string, why: string) => never): number {
  const info = DTYPES[input.dtype];
  const is = `is ${JSON.stringify(v)}; allowed:`;
  if (info.kind === 'bool') {
    if (v === true || v === 1) return 1;
    if (v === false || v === 0) return 0;
    return fail(key, `${is} false, true, 0 or 1 (input "${input.name}" is bool)`);
  }
  if (typeof v === 'boolean') return fail(key, `${is} a number (input "${input.name}" is ${input.dtype}; false/true are for bool inputs)`);
  if (info.kind === 'int' || info.kind === 'bigint') {
    // int64/uint64: a pad value is a JSON number, so within ±2^53
    const min = Math.max(info.min!, Number.MIN_SAFE_INTEGER);
    const max = Math.min(info.max!, Number.MAX_SAFE_INTEGER);
    if (!Number.isInteger(v) || v < min || v > max) return fail(key, `${is} an integer from ${min} to ${max} (input "${input.name}" is ${input.dtype})`);
  }
  const limit = info.kind === 'half' ? 65504 : input.dtype === 'float32' ? 3.4028234663852886e38 : Number.MAX_VALUE;
  if (Math.abs(v) > limit) return fail(key, `${is} a number from ${-limit} to ${limit} (input "${input.name}" is ${input.dtype})`);
  return v;
}
