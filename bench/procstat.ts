// CPU accounting from Linux /proc: a process's CPU time split by thread (tells whether a
// server's main thread or its inference threads saturate), the machine's busy time (what other
// processes take from the cores), and waiting for a quiet machine. Undefined without /proc.
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

let ticksPerSecond = 100;
try {
  ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  /* keep the Linux default */
}

export interface CpuSample {
  at: number;
  /** tid → [thread name, CPU seconds]. */
  threads: Map<number, [string, number]>;
  pid: number;
}

/**
 * The threads of pid and, withChildren, of its child processes (a server under process isolation
 * runs its sessions in children: their threads count as the server's other threads, named
 * `child …`; the bench process's children are the servers, not its own).
 */
export function sampleCpu(pid: number, withChildren = false): CpuSample | undefined {
  try {
    const threads = new Map<number, [string, number]>();
    const children = addThreads(pid, threads, '');
    for (const child of withChildren ? children : []) {
      try {
        addThreads(child, threads, 'child ');
      } catch {
        /* the child ended between the listing and the read */
      }
    }
    return { at: performance.now(), threads, pid };
  } catch {
    return undefined;
  }
}

/** Adds pid's threads (tid → [name, CPU seconds]) to the map and returns pid's child processes. */
function addThreads(pid: number, threads: Map<number, [string, number]>, prefix: string): number[] {
  const children: number[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' '); // fields[0] is field 3 (state)
      const ticks = Number(fields[11]) + Number(fields[12]); // utime (14), stime (15)
      threads.set(Number(tid), [prefix + name, ticks / ticksPerSecond]);
      for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(' ')) if (c) children.push(Number(c));
    } catch {
      /* the thread ended between readdir and read (or the kernel lists no children) */
    }
  }
  return children;
}

/**
 * CPU seconds the whole machine spent in processes (user, nice, system), from /proc/stat.
 * Interrupt time is left out: per-process counters do not include it either, and at low
 * concurrency timer and network interrupts alone would look like another process.
 */
export function sampleSystemBusy(): number | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0); // user nice system idle iowait irq softirq steal …
    return busy / ticksPerSecond;
  } catch {
    return undefined;
  }
}

export interface CpuUse {
  wallS: number;
  /** CPU seconds of the main thread (tid == pid) and of all other threads. */
  mainS: number;
  otherS: number;
  /** The busiest non-main threads: name and CPU seconds. */
  top: { name: string; cpuS: number }[];
}

export function cpuBetween(a: CpuSample | undefined, b: CpuSample | undefined): CpuUse | undefined {
  if (!a || !b) return undefined;
  let mainS = 0;
  let otherS = 0;
  const top: { name: string; cpuS: number }[] = [];
  for (const [tid, [name, cpu]] of b.threads) {
    const before = a.threads.get(tid)?.[1] ?? 0;
    const d = Math.max(0, cpu - before);
    if (tid === b.pid) mainS += d;
    else {
      otherS += d;
      if (d > 0) top.push({ name, cpuS: d });
    }
  }
  top.sort((x, y) => y.cpuS - x.cpuS);
  return { wallS: (b.at - a.at) / 1000, mainS, otherS, top: top.slice(0, 4) };
}

/** This process's CPU seconds (every thread, ended worker threads included) and wall seconds since the call. */
export function ownCpu(): () => { cpuS: number; wallS: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  return () => {
    const c = process.cpuUsage(c0);
    return { cpuS: (c.user + c.system) / 1e6, wallS: (performance.now() - t0) / 1000 };
  };
}

/** Background load, in cores, over `ms` (other processes only: this process is subtracted). */
export async function backgroundLoad(ms = 1000): Promise<number | undefined> {
  const own = ownCpu();
  const sys0 = sampleSystemBusy();
  await new Promise((r) => setTimeout(r, ms));
  const sys1 = sampleSystemBusy();
  const { cpuS, wallS } = own();
  if (sys0 === undefined || sys1 === undefined || wallS <= 0) return undefined;
  return Math.max(0, (sys1 - sys0 - cpuS) / wallS);
}

/**
 * Before a measurement: while other processes keep the machine busy, wait (0.5 s at a time)
 * for them to finish, spending at most BENCH_QUIET_WAIT_S over the whole run.
 */
export function makeQuietWaiter(budgetS: number, busyCores: number, log: (line: string) => void): () => Promise<void> {
  let leftMs = budgetS * 1000;
  return async () => {
    let waited = 0;
    while (leftMs > 0) {
      const load = await backgroundLoad(500);
      if (load === undefined || load < busyCores) break;
      if (waited === 0) log(`  (other processes use ${(load * 100).toFixed(0)} % of a core: waiting up to ${(leftMs / 1000).toFixed(0)} s for a quiet machine)`);
      waited += 500;
      leftMs -= 500;
    }
  };
}
