/**
 * What the benchmarks read about a process from Linux's /proc: CPU time spent
 * and resident memory (VmRSS), sampled on a timer.
 */
import { readFileSync } from 'node:fs';

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every Linux we run on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) the process has used so far, all its threads, live and ended; undefined once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  return statCpu(`/proc/${pid}/stat`);
}

/**
 * CPU seconds of one thread of a process; `threadCpuSeconds(pid, pid)` is its main thread (on the
 * recorder: the pty and display path; the record-path worker, libuv's pool and GC helpers are others).
 */
export function threadCpuSeconds(pid: number, tid: number): number | undefined {
  return statCpu(`/proc/${pid}/task/${tid}/stat`);
}

function statCpu(path: string): number | undefined {
  try {
    const stat = readFileSync(path, 'utf8');
    // Fields after the command name (which may hold spaces) start at ") ": state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Resident set size in bytes (VmRSS); undefined once the process is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

export interface RssSample {
  /** performance.now() when sampled. */
  readonly at: number;
  readonly rss: number;
  /** Whatever progress measure the caller supplies (bytes received so far). */
  readonly progress: number;
}

/** Samples a process's RSS every `intervalMs`, tagging each sample with the caller's progress. */
export class RssSampler {
  readonly samples: RssSample[] = [];
  readonly #timer: NodeJS.Timeout;

  constructor(pid: number, progress: () => number, intervalMs = 100) {
    const sample = (): void => {
      const rss = rssBytes(pid);
      if (rss !== undefined) this.samples.push({ at: performance.now(), rss, progress: progress() });
    };
    sample();
    this.#timer = setInterval(sample, intervalMs);
  }

  stop(): RssSample[] {
    clearInterval(this.#timer);
    return this.samples;
  }
}
