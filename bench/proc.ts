import { readdirSync, readFileSync } from 'node:fs';

/** CPU time (ms, user + system) and resident memory (bytes) of a process, read from /proc (Linux only). */
export interface ProcSample {
  readonly at: number;
  readonly cpuMs: number;
  readonly rssBytes: number;
  /**
   * Of the RSS, the anonymous memory (heaps, malloc) and the file pages mapped (the node binary, LMDB's memory-mapped
   * files: their pages count as resident once read or written, and the kernel may drop them when memory is short).
   */
  readonly rssAnonBytes: number;
  readonly rssFileBytes: number;
  /** Page faults that had to wait for the disk (a memory-mapped file's page not in memory): time busy, not running. */
  readonly majorFaults: number;
}

const ticksPerSecond = 100; // USER_HZ on Linux

export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const majorFaults = Number(fields[9]);
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kilobytes = (field: string) =>
      Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
    return {
      at: performance.now(),
      cpuMs: ((utime + stime) * 1000) / ticksPerSecond,
      rssBytes: kilobytes('VmRSS'),
      rssAnonBytes: kilobytes('RssAnon'),
      rssFileBytes: kilobytes('RssFile'),
      majorFaults,
    };
  } catch {
    return undefined;
  }
}

/** Several processes summed (CPU and memory), e.g. the clients' processes; undefined when none could be read. */
export function sampleProcs(pids: readonly number[]): ProcSample | undefined {
  const each = pids.map(sampleProc).filter((sample): sample is ProcSample => sample !== undefined);
  if (each.length === 0) return undefined;
  return {
    at: Math.max(...each.map((sample) => sample.at)),
    cpuMs: each.reduce((sum, sample) => sum + sample.cpuMs, 0),
    rssBytes: each.reduce((sum, sample) => sum + sample.rssBytes, 0),
    rssAnonBytes: each.reduce((sum, sample) => sum + sample.rssAnonBytes, 0),
    rssFileBytes: each.reduce((sum, sample) => sum + sample.rssFileBytes, 0),
    majorFaults: each.reduce((sum, sample) => sum + sample.majorFaults, 0),
  };
}

/** The whole machine's CPU time from /proc/stat, in ticks: all of it, and the part the hypervisor gave to others. */
export interface MachineSample {
  readonly totalTicks: number;
  readonly stealTicks: number;
}

export function sampleMachine(): MachineSample | undefined {
  try {
    // "cpu  user nice system idle iowait irq softirq steal guest guest_nice"; guest time is inside user already.
    const fields = readFileSync('/proc/stat', 'utf8')
      .split('\n', 1)[0]
      ?.trim()
      .split(/\s+/)
      .slice(1, 9)
      .map(Number);
    if (fields === undefined || fields.length < 8 || fields.some((field) => !Number.isFinite(field)))
      return undefined;
    return { totalTicks: fields.reduce((sum, field) => sum + field, 0), stealTicks: fields[7] as number };
  } catch {
    return undefined;
  }
}

/**
 * Steal between two samples: the share of the machine's CPU time its virtual CPUs were ready to run but the
 * hypervisor ran someone else. Above a few percent, latency figures describe the neighbours as much as the code.
 */
export function stealPercent(from: MachineSample | undefined, to: MachineSample | undefined): number {
  if (from === undefined || to === undefined || to.totalTicks <= from.totalTicks) return Number.NaN;
  return (100 * (to.stealTicks - from.stealTicks)) / (to.totalTicks - from.totalTicks);
}

/** CPU use between two samples, in percent of one core. */
export function cpuPercent(from: ProcSample | undefined, to: ProcSample | undefined): number {
  if (from === undefined || to === undefined || to.at <= from.at) return 0;
  return (100 * (to.cpuMs - from.cpuMs)) / (to.at - from.at);
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

/** Wall-clock milliseconds with sub-millisecond resolution. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * CPU time (ms) of each of a process's threads, keyed `name#tid` (/proc/<pid>/task/<tid>/stat): node names its
 * worker threads "node" too, so the tid tells them apart. A V8 profile sees one thread, this sees all of them.
 */
export function sampleThreads(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return byName;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cpuMs = ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
      byName.set(`${name}#${tid}`, cpuMs);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return byName;
}

/**
 * Context switches of all a process's threads so far (/proc/<pid>/task/<tid>/status, voluntary and not): each is a
 * thread going to sleep or being woken, which on a paravirtualised machine costs far more than the work it often
 * wraps. Per event, it counts the hand-offs between the hub's threads and the waits for the network and the disk.
 */
export function sampleSwitches(pid: number): number {
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return Number.NaN;
  }
  let switches = 0;
  for (const tid of tids) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      for (const match of status.matchAll(/ctxt_switches:\s+(\d+)/g)) switches += Number(match[1]);
    } catch {
      // The thread ended between the listing and the read: its switches leave the sum (a thread per phase at most).
    }
  }
  return switches;
}

/** Each thread name's CPU time between two samples, as ms. */
export function threadDelta(from: Map<string, number>, to: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, ms] of to) out[name] = ms - (from.get(name) ?? 0);
  return out;
}
