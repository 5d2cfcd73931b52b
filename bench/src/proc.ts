// CPU time and resident memory of a process, read from Linux's /proc: the hub runs in its own
// process so that these figures are its own and not the load generator's.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** Clock ticks per second of /proc/PID/stat times (USER_HZ), 100 when getconf is missing. */
export function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      ticksPerSecond = Number.isInteger(n) && n > 0 ? n : 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User plus system CPU time of `pid` so far, in seconds. */
export function cpuSeconds(pid: number): number {
  const { user, system } = cpuTimes(pid);
  return user + system;
}

/** User and system (kernel: sockets, I/O) CPU time of `pid` so far, in seconds. */
export function cpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces: count from after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so utime (field 14) is fields[11] and stime (15) fields[12].
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unexpected /proc/${pid}/stat: ${stat}`);
  return { user: utime / clockTicks(), system: stime / clockTicks() };
}

/** Resident set size of `pid` (VmRSS), in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** CPU use of a process between two points, as a percentage of one core. */
export class CpuMeter {
  readonly #pid: number;
  #cpu0 = 0;
  #system0 = 0;
  #wall0 = 0;

  constructor(pid: number) {
    this.#pid = pid;
  }

  start(): void {
    const { user, system } = cpuTimes(this.#pid);
    this.#cpu0 = user + system;
    this.#system0 = system;
    this.#wall0 = performance.now();
  }

  /** CPU seconds used since start(): all, and the kernel's share of them. */
  used(): { seconds: number; systemSeconds: number } {
    const { user, system } = cpuTimes(this.#pid);
    return { seconds: user + system - this.#cpu0, systemSeconds: system - this.#system0 };
  }

  /** Percent of one core since start() (200 = both cores of a 2-core machine). */
  percent(): number {
    const cpu = cpuSeconds(this.#pid) - this.#cpu0;
    const wall = (performance.now() - this.#wall0) / 1000;
    return wall > 0 ? (100 * cpu) / wall : 0;
  }
}

/**
 * CPU time used on the whole machine so far (all cores, every process, plus time stolen by the
 * hypervisor), in seconds, from the first line of /proc/stat.
 */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is in user already)
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / clockTicks();
}
