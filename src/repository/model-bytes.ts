// How many bytes a model version's weights take on disk: model.onnx plus the external-data files
// its initializers name. Exporters put a large model's weights there and leave model.onnx small,
// so the file's own size alone would let auto-sizing give such a model copies it cannot afford.
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import { allInitializers, decodeModel, onnx } from '../compress/onnx-file.js';

/**
 * Only a model.onnx up to this size is read for external-data references. One larger holds its
 * weights inline (an exporter moves them out to keep the file small), and decoding hundreds of
 * megabytes only to find none would cost the load as much memory again.
 */
export const MAX_SCANNED_BYTES = 64 * 1024 ** 2;

/** Bytes on disk of the model and every external-data file it names (each counted once); 0 when model.onnx cannot be read. */
export async function modelBytesOnDisk(path: string): Promise<number> {
  const size = await stat(path).then((st) => st.size, () => 0);
  if (size === 0 || size > MAX_SCANNED_BYTES) return size;
  let locations: Set<string>;
  try {
    locations = externalLocations(await readFile(path));
  } catch {
    return size; // not a model onnx-proto can read: the session's load says what is wrong
  }
  let total = size;
  for (const location of locations) {
    // a location outside the folder is the session's error to report, not a size to count
    if (isAbsolute(location) || normalize(location).startsWith('..')) continue;
    total += await stat(join(dirname(path), location)).then((st) => st.size, () => 0);
  }
  return total;
}

function externalLocations(bytes: Uint8Array): Set<string> {
  const out = new Set<string>();
  const model = decodeModel(bytes, 'model.onnx');
  for (const t of allInitializers(model.graph)) {
    if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const location = t.externalData.find((e) => e.key === 'location')?.value;
    if (location) out.add(normalize(location));
  }
  return out;
}
