// Which of the execution providers a model asks for can run here. onnxruntime-node fails the whole
// session when one provider of its list cannot start (cuda without its library: "Failed to load
// shared library"), and its JS layer drops a name the build lacks with only a console warning.
// So the worker decides: a provider this build or machine lacks is skipped when another of the
// list is available, and is the load error (naming each) when none is. Pure: the worker does the trying.
import type { ProviderReport } from './protocol.js';

/** One entry of onnxruntime-node's listSupportedBackends(): `bundled: false` is a library fetched at npm install. */
export interface Backend {
  name: string;
  bundled: boolean;
}

/**
 * One Identity over float32 [1] (what tools/onnx-builder writes, checked by a unit test): a session
 * on it shows whether a provider starts at all, apart from anything the real model does.
 */
export const PROBE_MODEL = Uint8Array.from(
  Buffer.from('CAgSCm9ubngtc2VydmU6RwocCgF4EgF5GgpJZGVudGl0eV8wIghJZGVudGl0eRIFcHJvYmVaDwoBeBIKCggIARIECgIIAWIPCgF5EgoKCAgBEgQKAggBQgQKABAR', 'base64'),
);

export function notInBuild(name: string, built: readonly Backend[]): string {
  return `execution provider "${name}" is not in this onnxruntime build (it has: ${built.map((b) => b.name).join(', ')})`;
}

/** Why a provider of the build did not start, from onnxruntime's message when it was tried alone. */
export function cannotStart(name: string, backend: Backend | undefined, message: string): string {
  const why = message.replace(/\s*\n\s*/g, ' ').trim(); // one line, like every reason
  if (backend && !backend.bundled && /failed to load shared library/i.test(why)) {
    return (
      `execution provider "${name}" is not available in this onnxruntime install: its library did not load ` +
      `(onnxruntime-node downloads it at npm install unless --onnxruntime-node-install=skip, and it needs its GPU runtime, e.g. CUDA and cuDNN): ${why}`
    );
  }
  return `execution provider "${name}" cannot start on this machine: ${why}`;
}

/** The providers to use, in the order asked, and the skipped ones; or the load error when none of the list is left. */
export function chooseProviders(asked: readonly string[], unavailable: ReadonlyMap<string, string>): ProviderReport | { error: string } {
  const inUse = asked.filter((p) => !unavailable.has(p));
  const skipped = asked.filter((p) => unavailable.has(p)).map((name) => ({ name, reason: unavailable.get(name)! }));
  if (inUse.length > 0) return { inUse, skipped };
  return { error: skipped.length === 1 ? skipped[0]!.reason : `no execution provider of ${JSON.stringify(asked)} is available: ${skipped.map((s) => s.reason).join('; ')}` };
}
