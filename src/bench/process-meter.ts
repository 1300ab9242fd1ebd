// CPU time, peak memory and read/write syscalls of another process, read from the
// OS (Linux /proc), so every contender, ours or an external binary, is measured the
// same way and nothing runs inside the process being measured. utime/stime cover all
// of the process's threads (libuv's pool, V8's GC threads); they tick at CLK_TCK
// (100 Hz here), 10 ms, which over a measured interval of seconds is under 1%.
// The syscall counts (/proc/<pid>/io syscr, syscw) are exact and cover every thread
// too: read/readv/pread and write/writev/pwrite on any descriptor (sockets, and the
// rare pipe, eventfd or stderr write), not send/recv-family calls, which libuv does
// not use for TCP streams.
// Elsewhere than Linux the figures are NaN and the report says "n/a".

import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export interface CpuTime {
  /** Seconds of user-mode CPU. */
  user: number;
  /** Seconds of kernel-mode CPU. */
  system: number;
}

let ticks: number | undefined;
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** CPU used so far by process pid (all threads). NaNs when it cannot be read. */
export function cpuTime(pid: number): CpuTime {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const hz = clockTicks();
    return { user: Number(fields[11]) / hz, system: Number(fields[12]) / hz }; // utime, stime: fields 14, 15
  } catch {
    return { user: NaN, system: NaN };
  }
}

/** The most resident memory process pid has had (VmHWM), in bytes; NaN when unknown. */
export function peakRss(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

export interface Syscalls {
  /** read(2)-family calls (syscr). */
  reads: number;
  /** write(2)-family calls, writev included (syscw). */
  writes: number;
}

/** Read and write syscalls process pid has made so far (all threads). NaNs when it cannot be read. */
export function syscalls(pid: number): Syscalls {
  let io: string;
  try {
    io = readFileSync(`/proc/${pid}/io`, 'utf8');
  } catch {
    return { reads: NaN, writes: NaN };
  }
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(io)?.[1] ?? NaN);
  return { reads: field('syscr'), writes: field('syscw') };
}

export function syscallsSince(before: Syscalls, after: Syscalls): Syscalls {
  return { reads: after.reads - before.reads, writes: after.writes - before.writes };
}

export function cpuSince(before: CpuTime, after: CpuTime): CpuTime {
  return { user: after.user - before.user, system: after.system - before.system };
}
