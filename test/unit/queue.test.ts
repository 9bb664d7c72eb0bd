// Unit tests for the queue data structure (src/batching/queue.ts): the ring-buffer Deque, and
// RequestQueue's lanes, counts, deadline heap, lazy cancellation and reruns; then a seeded
// model-based test against a naive array model.
import t from 'tap';
import { mulberry32 } from '../helpers/random.js';
import { Deque, RequestQueue, type Queued } from '../../src/batching/queue.js';

interface Req extends Queued {
  id: number;
}
let nextId = 0;
const req = (rows: number, over: Partial<Req> = {}): Req => ({ id: nextId++, rows, key: 'k', level: 0, enqueuedAt: 0, deadline: 1000, heapAt: -1, ticket: 0, ...over });
const ids = (items: readonly Req[]): number[] => items.map((r) => r.id);

/** The lanes map is private; transient keys are only observable through it. */
const laneKeys = (q: RequestQueue<Req>): string[] => [...(q as unknown as { lanes: Map<string, unknown> }).lanes.keys()].sort();

t.test('Deque', async (t) => {
  t.test('push then shift is FIFO across growth (8, 16, 1000 items)', async (t) => {
    for (const n of [8, 9, 16, 17, 1000]) {
      const d = new Deque<number>();
      for (let i = 0; i < n; i++) d.push(i, i + 100);
      t.equal(d.length, n, `${n}: length`);
      const out: number[] = [];
      const tickets: number[] = [];
      while (d.length) {
        tickets.push(d.peekTicket());
        out.push(d.shift()!);
      }
      t.strictSame(out, Array.from({ length: n }, (_, i) => i), `${n}: in push order`);
      t.strictSame(tickets, Array.from({ length: n }, (_, i) => i + 100), `${n}: each with its ticket`);
      t.equal(d.shift(), undefined, `${n}: empty shifts undefined`);
      t.equal(d.peek(), undefined);
      t.equal(d.peekTicket(), -1);
    }
  });

  t.test('unshift is LIFO at the front, across growth', async (t) => {
    for (const n of [8, 9, 17, 1000]) {
      const d = new Deque<number>();
      for (let i = 0; i < n; i++) d.unshift(i, i);
      const out: number[] = [];
      while (d.length) out.push(d.shift()!);
      t.strictSame(out, Array.from({ length: n }, (_, i) => n - 1 - i), `${n}: last unshifted first`);
    }
  });

  t.test('wrap-around: a ring whose start has moved grows without losing order', async (t) => {
    const d = new Deque<number>();
    const model: number[] = [];
    // advance the start past the buffer's end several times, then grow while wrapped
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 6; i++) {
        d.push(round * 100 + i);
        model.push(round * 100 + i);
      }
      for (let i = 0; i < 5; i++) t.equal(d.shift(), model.shift());
    }
    for (let i = 0; i < 3; i++) {
      d.unshift(-i - 1, 7);
      model.unshift(-i - 1);
    }
    for (let i = 0; i < 40; i++) {
      d.push(1000 + i);
      model.push(1000 + i);
    }
    t.equal(d.length, model.length);
    t.equal(d.peekTicket(), 7, 'the unshifted head kept its ticket through growth');
    const out: number[] = [];
    while (d.length) out.push(d.shift()!);
    t.strictSame(out, model);
  });

  t.test('mixed pushes and unshifts on both ends match an array, 5000 random steps', async (t) => {
    const rnd = mulberry32(7);
    const d = new Deque<number>();
    const model: number[] = [];
    let bad = 0;
    for (let i = 0; i < 5000; i++) {
      const op = rnd();
      if (op < 0.4) {
        d.push(i, i);
        model.push(i);
      } else if (op < 0.7) {
        d.unshift(i, i);
        model.unshift(i);
      } else if (d.shift() !== model.shift()) bad++;
      if (d.length !== model.length || d.peek() !== model[0] || (model.length && d.peekTicket() !== model[0])) bad++;
    }
    t.equal(bad, 0, 'no step differed');
  });
});

t.test('FIFO within a (key, level) lane; levels in order; keys kept apart', async (t) => {
  const q = new RequestQueue<Req>(3);
  const a = req(1, { level: 1, enqueuedAt: 1 });
  const b = req(2, { level: 0, enqueuedAt: 2 });
  const c = req(1, { level: 1, enqueuedAt: 3 });
  const d = req(1, { level: 0, enqueuedAt: 4 });
  const x = req(1, { key: 'other', level: 0, enqueuedAt: 0 });
  for (const r of [a, b, c, d, x]) q.push(r);
  t.strictSame(ids(q.take('k', 100)), ids([b, d, a, c]), 'level 0 in arrival order, then level 1 in arrival order');
  t.equal(q.length, 1, 'the other key is untouched');
  t.equal(q.head(), x);
});

t.test('head(): the oldest lane head of the most urgent level that has any, across keys', async (t) => {
  const q = new RequestQueue<Req>(3);
  t.equal(q.head(), undefined, 'empty');
  const low = req(1, { key: 'a', level: 2, enqueuedAt: 0 });
  q.push(low);
  t.equal(q.head(), low, 'only a low one: it');
  const midA = req(1, { key: 'a', level: 1, enqueuedAt: 5 });
  const midB = req(1, { key: 'b', level: 1, enqueuedAt: 3 });
  q.push(midA);
  q.push(midB);
  t.equal(q.head(), midB, 'level 1 beats an older level 2; the older level-1 head across keys');
  const high = req(1, { key: 'c', level: 0, enqueuedAt: 9 });
  q.push(high);
  t.equal(q.head(), high, 'level 0 beats older requests of other levels');
  q.remove(high);
  t.equal(q.head(), midB);
});

t.test('head(): ties of enqueuedAt go by arrival order, which a rerun keeps', async (t) => {
  const q = new RequestQueue<Req>(1);
  const first = req(1, { key: 'b', enqueuedAt: 10 });
  const second = req(1, { key: 'a', enqueuedAt: 10 });
  q.push(first);
  q.push(second);
  t.equal(q.head(), first, 'pushed first, same enqueuedAt: first');
  // first leaves (dispatched) and comes back: its new ticket is later than second's, its arrival is not
  t.strictSame(ids(q.take('b', 8)), [first.id]);
  t.equal(q.head(), second);
  q.unshift(first);
  t.equal(q.head(), first, 'back: still ahead of second');
});

t.test('counts: keyRows, rows, rowsAtOrAbove follow push, take, remove, expiry, unshift and drain', async (t) => {
  const q = new RequestQueue<Req>(3);
  const check = (what: string, rows: number, length: number, byLevel: [number, number, number], keys: Record<string, number>): void => {
    t.equal(q.rows, rows, `${what}: rows`);
    t.equal(q.length, length, `${what}: length`);
    t.strictSame([0, 1, 2].map((l) => q.rowsAtOrAbove(l)), byLevel, `${what}: rowsAtOrAbove 0..2`);
    for (const [k, n] of Object.entries(keys)) t.equal(q.keyRows(k), n, `${what}: keyRows(${k})`);
  };
  check('empty', 0, 0, [0, 0, 0], { k: 0, j: 0 });
  const a = req(3, { level: 0, deadline: 50 });
  const b = req(2, { level: 1, deadline: 10 });
  const c = req(4, { level: 2, deadline: 30 });
  const d = req(5, { key: 'j', level: 1, deadline: 40 });
  for (const r of [a, b, c, d]) q.push(r);
  check('pushed', 14, 4, [3, 10, 14], { k: 9, j: 5 });
  t.equal(q.rowsAtOrAbove(7), 14, 'a level past the last counts everything');
  t.equal(q.rowsAtOrAbove(-1), 0, 'a level before the first counts nothing');

  t.ok(q.remove(c), 'cancel c');
  check('c cancelled', 10, 3, [3, 10, 10], { k: 5, j: 5 });

  t.equal(q.popExpired(9), undefined, 'nothing expired at 9');
  t.equal(q.popExpired(10), b, 'b expires at its deadline');
  check('b expired', 8, 2, [3, 8, 8], { k: 3, j: 5 });

  t.strictSame(ids(q.take('k', 8)), [a.id]);
  check('a taken', 5, 1, [0, 5, 5], { k: 0, j: 5 });

  q.unshift(a);
  check('a rerun', 8, 2, [3, 8, 8], { k: 3, j: 5 });

  const all = q.drain();
  t.strictSame(ids(all).sort(), ids([a, d]).sort(), 'drain returns what was live');
  check('drained', 0, 0, [0, 0, 0], { k: 0, j: 0 });
  t.equal(q.head(), undefined);
  t.equal(q.earliestDeadline(), Infinity);
  t.notOk(q.remove(a), 'a drained request has left');
});

t.test('levels outside the range are clamped to the first and last', async (t) => {
  const q = new RequestQueue<Req>(3);
  const low = req(1, { level: 9 });
  const high = req(2, { level: -4 });
  q.push(low);
  q.push(high);
  t.strictSame([0, 1, 2].map((l) => q.rowsAtOrAbove(l)), [2, 2, 3]);
  t.equal(q.head(), high);
  t.strictSame(ids(q.take('k', 8)), [high.id, low.id]);
  t.equal(q.rows, 0);
});

t.test('remove(): a request not at the head is swept lazily; a second remove is false', async (t) => {
  const q = new RequestQueue<Req>(1);
  const [a, b, c] = [req(1, { enqueuedAt: 1 }), req(1, { enqueuedAt: 2 }), req(1, { enqueuedAt: 3 })];
  for (const r of [a, b, c]) q.push(r);
  t.ok(q.remove(b), 'b removed from the middle');
  t.notOk(q.remove(b), 'twice: false');
  t.equal(q.length, 2);
  t.equal(q.keyRows('k'), 2);
  t.ok(q.remove(a), 'a removed from the head');
  t.equal(q.head(), c, 'the head skips both gone ones');
  t.equal(q.oldestOf('k'), 3, 'oldestOf too');
  t.strictSame(ids(q.take('k', 8)), [c.id], 'take never returns the gone ones');
  t.equal(q.head(), undefined);
  t.equal(q.oldestOf('k'), Infinity);
  t.notOk(q.remove(c), 'a taken request is not removable');
});

t.test('popExpired: deadline order, whatever the arrival order, only deadline <= now', async (t) => {
  const q = new RequestQueue<Req>(2);
  const deadlines = [70, 20, 90, 20.5, 10, 60, 30, 80, 40, 50];
  const items = deadlines.map((deadline, i) => req(1, { deadline, enqueuedAt: i, level: i % 2 }));
  for (const r of items) q.push(r);
  t.equal(q.earliestDeadline(), 10);
  t.equal(q.earliest()!.deadline, 10);
  const out: number[] = [];
  for (let r = q.popExpired(45); r; r = q.popExpired(45)) out.push(r.deadline);
  t.strictSame(out, [10, 20, 20.5, 30, 40], 'those due at 45, earliest first');
  t.equal(q.length, 5);
  t.equal(q.earliestDeadline(), 50);
  t.equal(q.popExpired(49.9), undefined, 'not before its deadline');
  t.equal(q.popExpired(50)!.deadline, 50, 'at its deadline');
  t.strictSame(ids(q.take('k', 100)), ids(items.filter((r) => r.deadline > 50).sort((x, y) => x.level - y.level || x.enqueuedAt - y.enqueuedAt)), 'the rest are still queued, by lane');
});

t.test('take(key, maxRows, first?)', async (t) => {
  t.test('stops at the first request that does not fit, across levels', async (t) => {
    const q = new RequestQueue<Req>(3);
    const a = req(3, { level: 0 });
    const b = req(6, { level: 1 });
    const c = req(1, { level: 2 });
    for (const r of [c, b, a]) q.push(r);
    t.strictSame(ids(q.take('k', 8)), [a.id], 'b does not fit after a, and c, which would, waits behind it');
    t.strictSame(ids(q.take('k', 8)), [b.id, c.id]);
  });
  t.test('always takes one: oversize, and maxRows 0', async (t) => {
    const q = new RequestQueue<Req>(1);
    const big = req(20);
    const small = req(1);
    q.push(big);
    q.push(small);
    t.strictSame(ids(q.take('k', 8)), [big.id], 'an oversize head goes alone');
    q.push(req(1));
    t.strictSame(ids(q.take('k', 0)), [small.id], 'maxRows 0: one request');
    t.equal(q.length, 1);
    t.strictSame(q.take('none', 8), [], 'a key with nothing queued: empty');
  });
  t.test('first goes first, then lanes by level', async (t) => {
    const q = new RequestQueue<Req>(3);
    const h = req(2, { level: 0 });
    const m = req(2, { level: 1 });
    const low = req(4, { level: 2 });
    for (const r of [h, m, low]) q.push(r);
    t.strictSame(ids(q.take('k', 4, low)), [low.id], 'first fills the batch');
    t.equal(q.rows, 4);
    t.strictSame(ids(q.take('k', 8, m)), [m.id, h.id], 'first, then level 0');
    t.equal(q.length, 0);
  });
  t.test('a first that already left is ignored', async (t) => {
    const q = new RequestQueue<Req>(1);
    const gone = req(1);
    const a = req(1);
    q.push(gone);
    q.push(a);
    q.remove(gone);
    t.strictSame(ids(q.take('k', 8, gone)), [a.id]);
  });
});

t.test('reruns: a request taken and unshifted again is not duplicated (tickets)', async (t) => {
  t.test('taken as first (a stale entry stays behind), then unshifted', async (t) => {
    const q = new RequestQueue<Req>(1);
    const [x, a, y] = [req(1), req(1), req(1)];
    for (const r of [x, a, y]) q.push(r);
    t.strictSame(ids(q.take('k', 1, a)), [a.id]);
    q.unshift(a);
    t.equal(q.length, 3);
    t.strictSame(ids(q.take('k', 100)), [a.id, x.id, y.id], 'a once, at the head');
    t.equal(q.rows, 0);
  });
  t.test('taken as first, then pushed again: its old entry, ahead, must not serve it', async (t) => {
    const q = new RequestQueue<Req>(1);
    const [x, a, y] = [req(1), req(1), req(1)];
    for (const r of [x, a, y]) q.push(r);
    q.take('k', 1, a);
    q.push(a);
    t.strictSame(ids(q.take('k', 100)), [x.id, y.id, a.id], 'a in its new place only');
  });
  t.test('rerun under another key (a split batch): the old lane must not hand it out', async (t) => {
    const q = new RequestQueue<Req>(1);
    const [x, a] = [req(1), req(1)];
    q.push(x);
    q.push(a);
    t.strictSame(ids(q.take('k', 1, a)), [a.id]);
    a.key = '#isolated1';
    q.unshift(a);
    t.strictSame(ids(q.take('k', 100)), [x.id], 'only x in its old key');
    t.equal(q.keyRows('#isolated1'), 1, 'a is still counted under its new key');
    t.strictSame(ids(q.take('#isolated1', 100)), [a.id]);
    t.equal(q.length, 0);
    t.equal(q.rows, 0);
  });
  t.test('many cycles of take/unshift keep counts and order', async (t) => {
    const q = new RequestQueue<Req>(2);
    const items = Array.from({ length: 12 }, (_, i) => req(1, { level: i % 2, enqueuedAt: i }));
    for (const r of items) q.push(r);
    for (let i = 0; i < 50; i++) {
      const batch = q.take('k', 3, items[(i * 5) % 12]!.heapAt >= 0 ? items[(i * 5) % 12] : undefined);
      for (let j = batch.length - 1; j >= 0; j--) q.unshift(batch[j]!);
    }
    t.equal(q.length, 12);
    t.equal(q.rows, 12);
    const out = q.take('k', 100);
    t.equal(out.length, 12, 'every request once');
    t.equal(new Set(out).size, 12, 'none twice');
  });
});

t.test("transient keys ('#…') lose their lanes once empty; others keep theirs", async (t) => {
  const q = new RequestQueue<Req>(2);
  const a = req(1, { key: '#isolated1' });
  const b = req(1, { key: '#isolated1', level: 1 });
  const c = req(1, { key: '#isolated2' });
  const k = req(1, { key: 'k' });
  for (const r of [a, b, c, k]) q.push(r);
  t.strictSame(laneKeys(q), ['#isolated1', '#isolated2', 'k']);
  q.take('#isolated1', 1);
  t.strictSame(laneKeys(q), ['#isolated1', '#isolated2', 'k'], 'one of two left: kept');
  q.take('#isolated1', 1);
  t.strictSame(laneKeys(q), ['#isolated2', 'k'], 'emptied by take: dropped');
  q.remove(c);
  t.strictSame(laneKeys(q), ['k'], 'emptied by a cancellation: dropped');
  q.take('k', 1);
  t.strictSame(laneKeys(q), ['k'], 'an ordinary key keeps its lanes');
  const d = req(1, { key: '#isolated3', deadline: 5 });
  q.push(d);
  t.equal(q.popExpired(5), d);
  t.strictSame(laneKeys(q), ['k'], 'emptied by expiry: dropped');
  q.unshift(a);
  t.strictSame(laneKeys(q), ['#isolated1', 'k'], 'a rerun brings its lane back');
  t.equal(q.keyRows('#isolated1'), 1);
});

/**
 * A naive model: live requests in arrays per (key, level), in deque order. Every query is a
 * scan. Arrival order is counted here, independently of the queue's tickets.
 */
class Model {
  lanes = new Map<string, Req[][]>();
  arrival = new Map<Req, number>();
  private nextArrival = 0;
  constructor(readonly levels: number) {}
  level(r: Req): number {
    return Math.min(this.levels - 1, Math.max(0, r.level));
  }
  lane(r: Req): Req[] {
    let l = this.lanes.get(r.key);
    if (!l) this.lanes.set(r.key, (l = Array.from({ length: this.levels }, () => [])));
    return l[this.level(r)]!;
  }
  join(r: Req, front: boolean): void {
    if (!this.arrival.has(r)) this.arrival.set(r, this.nextArrival++);
    if (front) this.lane(r).unshift(r);
    else this.lane(r).push(r);
  }
  live(): Req[] {
    return [...this.lanes.values()].flat(2);
  }
  has(r: Req): boolean {
    // without creating lanes: a query must not bring a dropped key back
    return this.lanes.get(r.key)?.[this.level(r)]!.includes(r) ?? false;
  }
  leave(r: Req): void {
    const l = this.lane(r);
    l.splice(l.indexOf(r), 1);
    this.dropIfTransient(r.key);
  }
  dropIfTransient(key: string): void {
    const l = this.lanes.get(key);
    if (key.startsWith('#') && l && l.every((x) => x.length === 0)) this.lanes.delete(key);
  }
  head(): Req | undefined {
    for (let level = 0; level < this.levels; level++) {
      const heads = [...this.lanes.values()].map((l) => l[level]![0]).filter((r): r is Req => r !== undefined);
      heads.sort((x, y) => x.enqueuedAt - y.enqueuedAt || this.arrival.get(x)! - this.arrival.get(y)!);
      if (heads.length) return heads[0];
    }
    return undefined;
  }
  take(key: string, maxRows: number, first?: Req): Req[] {
    const batch: Req[] = [];
    let rows = 0;
    if (first && this.has(first)) {
      this.leave(first);
      batch.push(first);
      rows = first.rows;
    }
    const lanes = this.lanes.get(key);
    if (lanes) {
      outer: for (const lane of lanes) {
        while (lane.length) {
          const h = lane[0]!;
          if (batch.length > 0 && rows + h.rows > maxRows) break outer;
          lane.shift();
          batch.push(h);
          rows += h.rows;
        }
      }
      this.dropIfTransient(key);
    }
    return batch;
  }
}

t.test('model-based: RequestQueue against a naive model over random operations', async (t) => {
  for (const seed of [1, 2, 3, 42, 2024]) {
    const rnd = mulberry32(seed);
    const int = (n: number): number => Math.floor(rnd() * n);
    const levels = 1 + int(3);
    const q = new RequestQueue<Req>(levels);
    const m = new Model(levels);
    const keys = ['a', 'b', 'c'];
    let isolation = 0;
    let now = 0;
    const taken: Req[][] = [];
    const gone: Req[] = [];
    let failures = 0;
    // what the run exercised: a seed that never reruns or expires would prove little
    const seen = { first: 0, reruns: 0, splits: 0, expired: 0, removedTwice: 0, drains: 0 };
    const fail = (step: number, what: string, got: unknown, want: unknown): void => {
      // report the first few only: one broken invariant breaks every later step
      if (failures++ < 5) t.fail(`seed ${seed}, step ${step}: ${what}: ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    };
    const steps = 4000;
    for (let step = 0; step < steps; step++) {
      const op = rnd();
      if (op < 0.35) {
        now += int(3); // equal enqueuedAt happens: ties go by arrival
        const r = req(1 + int(5), { key: keys[int(keys.length)]!, level: int(levels + 1) - (rnd() < 0.05 ? 1 : 0), enqueuedAt: now, deadline: now + 5 + int(200) });
        q.push(r);
        m.join(r, false);
      } else if (op < 0.45) {
        const live = m.live();
        const r = live.length && rnd() < 0.8 ? live[int(live.length)]! : gone.length ? gone[int(gone.length)]! : undefined;
        if (r) {
          const want = m.has(r);
          const got = q.remove(r);
          if (got !== want) fail(step, 'remove()', got, want);
          if (!want) seen.removedTwice++;
          if (want) {
            m.leave(r);
            gone.push(r);
          }
        }
      } else if (op < 0.7) {
        const head = m.head();
        const key = head && rnd() < 0.8 ? head.key : keys[int(keys.length)]!;
        const live = m.live().filter((r) => r.key === key);
        const first = live.length && rnd() < 0.3 ? live[int(live.length)] : undefined;
        const maxRows = int(12);
        if (first) seen.first++;
        const want = m.take(key, maxRows, first);
        const got = q.take(key, maxRows, first);
        if (ids(got).join() !== ids(want).join()) fail(step, `take(${key}, ${maxRows}, ${first?.id})`, ids(got), ids(want));
        if (got.length) taken.push(got);
      } else if (op < 0.8) {
        now += int(20);
        const out: Req[] = [];
        for (let r = q.popExpired(now); r; r = q.popExpired(now)) {
          const min = Math.min(...m.live().map((x) => x.deadline));
          if (!m.has(r) || r.deadline !== min || r.deadline > now) fail(step, 'popExpired returned a request not due, or not the earliest', r.deadline, min);
          if (m.has(r)) m.leave(r);
          out.push(r);
          gone.push(r);
          seen.expired++;
        }
        const left = m.live().filter((x) => x.deadline <= now);
        if (left.length) fail(step, 'popExpired left requests that were due', ids(left), []);
      } else if (op < 0.95) {
        const batch = taken.length ? taken.splice(int(taken.length), 1)[0]! : undefined;
        if (batch) {
          // a rerun, sometimes as two halves under keys of their own (a split batch)
          seen.reruns++;
          if (batch.length > 1 && rnd() < 0.3) {
            seen.splits++;
            const mid = Math.ceil(batch.length / 2);
            for (const half of [batch.slice(0, mid), batch.slice(mid)]) {
              const key = `#isolated${++isolation}`;
              for (const r of half) r.key = key;
            }
          }
          for (let i = batch.length - 1; i >= 0; i--) {
            q.unshift(batch[i]!);
            m.join(batch[i]!, true);
          }
        }
      } else if (op < 0.96) {
        const got = q.drain();
        const want = m.live();
        if (ids(got).sort().join() !== ids(want).sort().join()) fail(step, 'drain()', ids(got), ids(want));
        m.lanes.clear();
        gone.push(...got);
        seen.drains++;
      }

      // the invariants after every step
      const live = m.live();
      if (q.length !== live.length) fail(step, 'length', q.length, live.length);
      const rows = live.reduce((n, r) => n + r.rows, 0);
      if (q.rows !== rows) fail(step, 'rows', q.rows, rows);
      for (let l = 0; l < levels; l++) {
        const want = live.filter((r) => m.level(r) <= l).reduce((n, r) => n + r.rows, 0);
        if (q.rowsAtOrAbove(l) !== want) fail(step, `rowsAtOrAbove(${l})`, q.rowsAtOrAbove(l), want);
      }
      const earliest = live.length ? Math.min(...live.map((r) => r.deadline)) : Infinity;
      if (q.earliestDeadline() !== earliest) fail(step, 'earliestDeadline', q.earliestDeadline(), earliest);
      if (q.head() !== m.head()) fail(step, 'head', q.head()?.id, m.head()?.id);
      for (const key of m.lanes.keys()) {
        const mine = live.filter((r) => r.key === key);
        const kr = mine.reduce((n, r) => n + r.rows, 0);
        if (q.keyRows(key) !== kr) fail(step, `keyRows(${key})`, q.keyRows(key), kr);
        // the oldest lane head, as the queue reads it (a rerun in batch order can put a newer one ahead)
        const oldest = Math.min(Infinity, ...m.lanes.get(key)!.map((l) => l[0]?.enqueuedAt ?? Infinity));
        if (q.oldestOf(key) !== oldest) fail(step, `oldestOf(${key})`, q.oldestOf(key), oldest);
      }
      const lk = laneKeys(q).join();
      const mk = [...m.lanes.keys()].sort().join();
      if (lk !== mk) fail(step, 'lane keys (transient ones dropped when empty)', lk, mk);
    }
    t.equal(failures, 0, `seed ${seed} (levels ${levels}): ${steps} steps agree with the model`);
    t.ok(Object.values(seen).every((n) => n > 0), `seed ${seed}: every kind of step happened ${JSON.stringify(seen)}`);
  }
});
