// Unit tests for preview (src/preview.ts): short, never-throwing descriptions of client values.
import t from 'tap';
import { preview } from '../../src/preview.js';

t.test('scalars and short flat lists read as JSON', async (t) => {
  for (const v of [1, -2.5, 0, true, false, null, 'abc', '', [], {}, [1, 5], ['a', null, true]]) {
    t.equal(preview(v), JSON.stringify(v), JSON.stringify(v));
  }
});

t.test('nesting, long lists and long strings are cut; deep values never throw', async (t) => {
  t.equal(preview([[1, 2], { a: 1 }, [], {}]), '[[…],{…},[],{}]', 'one level deep');
  t.equal(preview([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), '[1,2,3,4,5,6,7,8,…]', 'eight items, then an ellipsis');
  t.equal(preview('x'.repeat(1000)), JSON.stringify(`${'x'.repeat(40)}…`), 'strings stop at 40 characters');
  const deep = JSON.parse(`${'['.repeat(20_000)}1${']'.repeat(20_000)}`) as unknown;
  t.throws(() => JSON.stringify(deep), RangeError, 'JSON.stringify of the same value overflows the stack');
  t.equal(preview(deep), '[[…]]');
  t.equal(preview({ a: deep }), '{…}');
  t.equal(preview(undefined), 'undefined');
});
