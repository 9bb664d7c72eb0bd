/** What a function throws (undefined if it returns), for asserting on error types and messages. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}
