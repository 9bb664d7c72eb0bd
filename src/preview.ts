// Short descriptions of values a client sent, for error messages. JSON.stringify and String()
// recurse: a 20,000-deep array makes them throw RangeError (a 500), and a large value would be
// echoed whole. These look one level deep and cut long strings and lists.

const MAX_ITEMS = 8;
const MAX_CHARS = 40;

function shallow(v: unknown): string {
  if (Array.isArray(v)) return v.length === 0 ? '[]' : '[…]';
  if (typeof v === 'object' && v !== null) return Object.keys(v).length === 0 ? '{}' : '{…}';
  if (typeof v === 'string') return JSON.stringify(v.length > MAX_CHARS ? `${v.slice(0, MAX_CHARS)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return JSON.stringify(v);
  return String(v); // undefined, bigint: not from JSON, but never a throw
}

/** As JSON.stringify for a scalar or a short flat list (`[1,5]`); nested parts become `[…]`, long lists end in `,…`. */
export function preview(v: unknown): string {
  if (!Array.isArray(v)) return shallow(v);
  const items = v.slice(0, MAX_ITEMS).map(shallow);
  return `[${items.join(',')}${v.length > MAX_ITEMS ? ',…' : ''}]`;
}
