// Checks on the shape of a parsed JSON value, shared by the request and config readers so that
// "an object" means the same everywhere: a JSON object, never an array or null. Pure, no imports:
// the worker thread loads it (through signature.ts).

/** A JSON object: not null and not an array (typeof says "object" for both). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
