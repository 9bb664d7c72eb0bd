// Section memory: what the auto-sized instance count costs in memory on a large model. The
// server's resident set from /proc/PID/status (VmRSS), read after load and a few warm requests.
import { readFileSync } from 'node:fs';

export const MEMORY_MODEL = 'big-mlp';
/** About 102 M float32 weights (≈ 410 MB): 1024 → 10240 → 8192 → 1000. */
export const MEMORY_SIZES = [1024, 10240, 8192, 1000];
/** Goal: the auto choice's RSS at most this share of the two-instance one. */
export const MEMORY_RSS_GOAL = 0.65;

/** VmRSS in bytes from the text of /proc/PID/status; undefined when the line is missing. */
export function parseVmRss(status: string): number | undefined {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** Samples pid's resident set every `everyMs` from now: its value now, and the peak so far. */
export function watchRssPeak(pid: number, everyMs: number): { beforeBytes: number | undefined; peakBytes(): number; stop(): void } {
  const beforeBytes = rssOf(pid);
  let peak = beforeBytes ?? 0;
  const timer = setInterval(() => (peak = Math.max(peak, rssOf(pid) ?? 0)), everyMs);
  return { beforeBytes, peakBytes: () => peak, stop: () => clearInterval(timer) };
}

/** A process's resident set in bytes, or undefined without /proc (or once it has exited). */
export function rssOf(pid: number): number | undefined {
  try {
    return parseVmRss(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Float32 parameters of an MLP of these layer sizes (weights and biases). */
export function mlpParams(sizes: readonly number[]): number {
  let n = 0;
  for (let i = 0; i + 1 < sizes.length; i++) n += sizes[i]! * sizes[i + 1]! + sizes[i + 1]!;
  return n;
}
