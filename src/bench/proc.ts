// Reading a process's CPU time and memory from /proc (Linux), for benchmarks.

import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc/PID/stat times (USER_HZ, 100 on Linux). */
const TICKS = 100;

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // fields after the command name, which may itself contain spaces and parentheses
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return (utime + stime) / TICKS;
}

function statusKb(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  return m ? Number(m[1]) : Number.NaN;
}

/** Resident memory now, in bytes. */
export function rssBytes(pid: number): number {
  return statusKb(pid, "VmRSS") * 1024;
}

/** Highest resident memory the process reached so far, in bytes. */
export function peakRssBytes(pid: number): number {
  return statusKb(pid, "VmHWM") * 1024;
}

/** Whether /proc tells this process's CPU time and memory (Linux, and the process exists). */
export function procReadable(pid: number): boolean {
  try {
    cpuSeconds(pid);
    return Number.isFinite(rssBytes(pid));
  } catch {
    return false;
  }
}

/**
 * The same readings summed over a group of processes (nginx: its master and workers).
 * A process that has gone away counts as nothing.
 */
export function sumOver(pids: readonly number[], read: (pid: number) => number): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const v = read(pid);
      if (Number.isFinite(v)) total += v;
    } catch {
      // exited
    }
  }
  return total;
}
