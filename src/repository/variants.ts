// A model version's compressed variants (config.json "variants"): each is its own ModelVersion
// (own workers, scheduler and state) beside the base, in the base's folder, with the base's
// batching config. It serves only if its inputs and outputs match the base's; otherwise, or when
// its file is missing or does not load, it is UNAVAILABLE with the reason and the base serves on.
import { dirname, join } from 'node:path';
import type { Signature, TensorSignature } from '../signature.js';
import { ModelVersion, type LoadOptions } from './model-version.js';
import { isFile } from './scan.js';
import { readCompressionReport } from './variant-report.js';

/** Creates the (not yet loaded) variants of a base version from its config; files sit beside its model.onnx. */
export function attachVariants(base: ModelVersion): void {
  for (const [name, file] of Object.entries(base.config.variants)) {
    base.variants.set(name, new ModelVersion(base.name, base.version, join(dirname(base.path), file), base.config, base.configFile, base.sizing, name));
  }
}

/**
 * Loads one variant, in parallel with its base; `baseSettled` resolves once the base's load
 * ended either way. Rejects with the reason (also the variant's `reason`) when it cannot serve.
 */
export async function loadVariant(base: ModelVersion, variant: ModelVersion, baseSettled: Promise<unknown>, opts: LoadOptions): Promise<void> {
  const fail = (reason: string): never => {
    variant.state = 'UNAVAILABLE';
    variant.reason = reason;
    throw new Error(reason);
  };
  variant.compression = await readCompressionReport(variant.path);
  if (!(await isFile(variant.path))) fail(`file "${variant.file}" is missing from ${dirname(variant.path)}`);
  try {
    await variant.load(opts);
  } catch (err) {
    fail(`file "${variant.file}" failed to load: ${(err as Error).message}`);
  }
  await baseSettled;
  const why = base.signature
    ? signatureDifference(base.signature, variant.signature!)
    : `its base (model.onnx) is ${base.state}, so the variant's signature cannot be checked against it`;
  if (why !== undefined) {
    const reason = base.signature ? `file "${variant.file}" does not match the base model's signature: ${why}` : why;
    await variant.discard(reason);
    fail(reason);
  }
}

/**
 * Why a variant cannot stand in for its base, or undefined when it can: every input and output
 * by the same name, dtype and dims (symbolic dims match any symbolic dim; names may differ).
 */
export function signatureDifference(base: Signature, variant: Signature): string | undefined {
  return tensorsDifference('input', base.inputs, variant.inputs) ?? tensorsDifference('output', base.outputs, variant.outputs);
}

function tensorsDifference(kind: string, base: TensorSignature[], variant: TensorSignature[]): string | undefined {
  const names = (ts: TensorSignature[]): string => ts.map((t) => `"${t.name}"`).join(', ') || 'none';
  for (const b of base) {
    const v = variant.find((t) => t.name === b.name);
    if (!v) return `the base's ${kind} "${b.name}" is missing (the variant's ${kind}s: ${names(variant)})`;
    if (v.dtype !== b.dtype) return `${kind} "${b.name}" is ${v.dtype}, the base's is ${b.dtype}`;
    const same = v.dims.length === b.dims.length && v.dims.every((d, i) => (typeof d === 'string' ? typeof b.dims[i] === 'string' : d === b.dims[i]));
    if (!same) return `${kind} "${b.name}" has dims ${JSON.stringify(v.dims)}, the base's are ${JSON.stringify(b.dims)}`;
  }
  const extra = variant.find((v) => !base.some((b) => b.name === v.name));
  if (extra) return `${kind} "${extra.name}" is not one of the base's ${kind}s (${names(base)})`;
  return undefined;
}
