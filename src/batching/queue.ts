// One model version's queue as a data structure, free of timers and I/O: a deque per batch key
// and priority level (arrival order within each), live row counts kept as requests come and go,
// deadlines in a heap (per-request timeouts break arrival order), and cancellation by a flag that
// the deques sweep when it reaches their head. Nothing here allocates per decision.

export interface Queued {
  rows: number;
  /** Requests share a batch only when their keys (dtypes and non-batch dims) are equal. */
  key: string;
  /** Priority level, 0 the most urgent (the protocol's priority 1). */
  level: number;
  enqueuedAt: number;
  deadline: number;
  /** Position in the deadline heap; -1 once it left the queue (its deque drops it at the head). */
  heapAt: number;
  /** Set each time it joins the queue: a deque entry from an earlier stay (a rerun) is stale. */
  ticket: number;
  /** Arrival order, set when first queued and kept by a rerun: breaks ties of enqueuedAt. */
  arrival?: number;
}

/** A ring buffer of (item, ticket) pairs: push and shift at either end in O(1), growing by doubling. */
export class Deque<T> {
  private buf: (T | undefined)[] = new Array<T | undefined>(8);
  private tickets: number[] = new Array<number>(8).fill(0);
  private start = 0;
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(x: T, ticket = 0): void {
    if (this.size === this.buf.length) this.grow();
    const i = (this.start + this.size) & (this.buf.length - 1);
    this.buf[i] = x;
    this.tickets[i] = ticket;
    this.size++;
  }

  unshift(x: T, ticket = 0): void {
    if (this.size === this.buf.length) this.grow();
    this.start = (this.start - 1) & (this.buf.length - 1);
    this.buf[this.start] = x;
    this.tickets[this.start] = ticket;
    this.size++;
  }

  peek(): T | undefined {
    return this.size ? this.buf[this.start] : undefined;
  }

  /** The ticket the head was pushed with. */
  peekTicket(): number {
    return this.size ? this.tickets[this.start]! : -1;
  }

  shift(): T | undefined {
    if (!this.size) return undefined;
    const x = this.buf[this.start];
    this.buf[this.start] = undefined;
    this.start = (this.start + 1) & (this.buf.length - 1);
    this.size--;
    return x;
  }

  private grow(): void {
    const cap = this.buf.length;
    const next = new Array<T | undefined>(cap * 2);
    const nextTickets = new Array<number>(cap * 2).fill(0);
    for (let i = 0; i < this.size; i++) {
      next[i] = this.buf[(this.start + i) & (cap - 1)];
      nextTickets[i] = this.tickets[(this.start + i) & (cap - 1)]!;
    }
    this.buf = next;
    this.tickets = nextTickets;
    this.start = 0;
  }
}

interface Lane<T> {
  items: Deque<T>;
  /** Live rows and requests in this lane (gone ones still in the deque are not counted). */
  rows: number;
  count: number;
}

/** Keys made up to isolate a failing batch's halves: their lanes go when they empty. */
const isTransientKey = (key: string): boolean => key.startsWith('#');

export class RequestQueue<T extends Queued> {
  private readonly lanes = new Map<string, Lane<T>[]>();
  private readonly heap: T[] = [];
  private readonly levelRows: number[];
  private liveRows = 0;
  private nextTicket = 1;

  constructor(readonly levels: number) {
    this.levelRows = new Array<number>(levels).fill(0);
  }

  /** Requests waiting. */
  get length(): number {
    return this.heap.length;
  }

  /** Rows waiting, every key and level. */
  get rows(): number {
    return this.liveRows;
  }

  /** Rows waiting at `level` or a more urgent one, every key: what a request of that level waits behind. */
  rowsAtOrAbove(level: number): number {
    let n = 0;
    for (let l = 0; l <= level && l < this.levels; l++) n += this.levelRows[l]!;
    return n;
  }

  push(item: T): void {
    this.enter(item, false);
  }

  /** Back at the head of its lane (a rerun after a worker died or a batch was split). */
  unshift(item: T): void {
    this.enter(item, true);
  }

  /** Takes a request out wherever it is (a cancellation); false when it had already left. */
  remove(item: T): boolean {
    if (item.heapAt < 0) return false;
    const lanes = this.lanes.get(item.key);
    this.heapRemove(item);
    this.removed(item, lanes?.[this.levelOf(item)]);
    if (lanes) this.dropIfTransient(item.key);
    return true;
  }

  /** The request whose deadline comes first. */
  earliest(): T | undefined {
    return this.heap[0];
  }

  earliestDeadline(): number {
    return this.heap.length ? this.heap[0]!.deadline : Infinity;
  }

  /** Takes out and returns the earliest request if its deadline is at or before `now`. */
  popExpired(now: number): T | undefined {
    const top = this.heap[0];
    if (!top || top.deadline > now) return undefined;
    this.remove(top);
    return top;
  }

  /** The request to serve next by priority: the oldest head among the most urgent level that has any. */
  head(): T | undefined {
    for (let level = 0; level < this.levels; level++) {
      let best: T | undefined;
      for (const lanes of this.lanes.values()) {
        const h = this.headOf(lanes[level]!);
        if (h && (!best || h.enqueuedAt < best.enqueuedAt || (h.enqueuedAt === best.enqueuedAt && h.arrival! < best.arrival!))) best = h;
      }
      if (best) return best;
    }
    return undefined;
  }

  /** Live rows of one key, every level. */
  keyRows(key: string): number {
    const lanes = this.lanes.get(key);
    if (!lanes) return 0;
    let n = 0;
    for (const lane of lanes) n += lane.rows;
    return n;
  }

  /** When the longest-waiting request of a key arrived (Infinity when none waits). */
  oldestOf(key: string): number {
    const lanes = this.lanes.get(key);
    let t = Infinity;
    if (!lanes) return t;
    for (const lane of lanes) {
      const h = this.headOf(lane);
      if (h && h.enqueuedAt < t) t = h.enqueuedAt;
    }
    return t;
  }

  /**
   * Takes one batch of a key: `first` (when given) then heads by level, most urgent first, in
   * arrival order within a level, while the rows fit in maxRows. The first request always goes,
   * even oversize or with maxRows 0 (a model that does not batch): a stuck head would block the queue.
   */
  take(key: string, maxRows: number, first?: T): T[] {
    const batch: T[] = [];
    let rows = 0;
    if (first && this.remove(first)) {
      batch.push(first);
      rows = first.rows;
    }
    const lanes = this.lanes.get(key);
    if (lanes) {
      outer: for (const lane of lanes) {
        for (;;) {
          const h = this.headOf(lane);
          if (!h) break;
          if (batch.length > 0 && rows + h.rows > maxRows) break outer;
          lane.items.shift();
          this.heapRemove(h);
          this.removed(h, lane);
          batch.push(h);
          rows += h.rows;
        }
      }
      this.dropIfTransient(key);
    }
    return batch;
  }

  /** Takes everything out (the model is going away). */
  drain(): T[] {
    const all = this.heap.slice();
    for (const item of all) this.remove(item);
    this.lanes.clear();
    return all;
  }

  private lane(item: T): Lane<T> {
    let lanes = this.lanes.get(item.key);
    if (!lanes) {
      lanes = Array.from({ length: this.levels }, () => ({ items: new Deque<T>(), rows: 0, count: 0 }));
      this.lanes.set(item.key, lanes);
    }
    return lanes[this.levelOf(item)]!;
  }

  /** The lane's first live request, sweeping gone ones off its head. */
  private headOf(lane: Lane<T>): T | undefined {
    for (;;) {
      const h = lane.items.peek();
      if (!h || (h.heapAt >= 0 && h.ticket === lane.items.peekTicket())) return h;
      lane.items.shift();
    }
  }

  private enter(item: T, atHead: boolean): void {
    item.ticket = this.nextTicket++;
    item.arrival ??= item.ticket;
    const lane = this.lane(item);
    if (atHead) lane.items.unshift(item, item.ticket);
    else lane.items.push(item, item.ticket);
    lane.rows += item.rows;
    lane.count++;
    this.levelRows[this.levelOf(item)]! += item.rows;
    this.liveRows += item.rows;
    this.heapPush(item);
  }

  /** The counts, once an item left the heap; `lane` is its lane (absent once drain() cleared the lanes). */
  private removed(item: T, lane: Lane<T> | undefined): void {
    if (lane) {
      lane.rows -= item.rows;
      lane.count--;
    }
    this.levelRows[this.levelOf(item)]! -= item.rows;
    this.liveRows -= item.rows;
  }

  private levelOf(item: T): number {
    return Math.min(this.levels - 1, Math.max(0, item.level));
  }

  private dropIfTransient(key: string): void {
    if (!isTransientKey(key)) return;
    const lanes = this.lanes.get(key);
    if (lanes && lanes.every((l) => l.count === 0)) this.lanes.delete(key);
  }

  // an intrusive binary min-heap on deadline: each item knows its index, so removal is O(log n)
  private heapPush(item: T): void {
    item.heapAt = this.heap.length;
    this.heap.push(item);
    this.siftUp(item.heapAt);
  }

  private heapRemove(item: T): void {
    const i = item.heapAt;
    if (i < 0) return;
    const last = this.heap.pop()!;
    item.heapAt = -1;
    if (last === item) return;
    this.heap[i] = last;
    last.heapAt = i;
    this.siftUp(i);
    this.siftDown(last.heapAt);
  }

  private siftUp(i: number): void {
    const h = this.heap;
    const x = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.deadline <= x.deadline) break;
      h[i] = h[p]!;
      h[i]!.heapAt = i;
      i = p;
    }
    h[i] = x;
    x.heapAt = i;
  }

  private siftDown(i: number): void {
    const h = this.heap;
    const n = h.length;
    const x = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && h[r]!.deadline < h[l]!.deadline ? r : l;
      if (h[c]!.deadline >= x.deadline) break;
      h[i] = h[c]!;
      h[i]!.heapAt = i;
      i = c;
    }
    h[i] = x;
    x.heapAt = i;
  }
}
