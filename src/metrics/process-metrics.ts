// The process's own metrics, under the names prom-client's default metrics use
// (process_* and nodejs_*), so dashboards made for Node services work as they
// are; ringwire does not depend on prom-client for them. On Linux, memory and
// descriptors come from /proc/self (as prom-client reads them); elsewhere the
// families that need /proc are left out. The heap figures are the main thread's
// (V8 gives each worker thread a heap of its own, readable only from inside it).

import { readdirSync, readFileSync } from 'node:fs';
import type { MetricFamily } from './exposition.ts';

const one = (name: string, type: MetricFamily['type'], help: string, value: number, labels?: Record<string, string>): MetricFamily => ({
  name, type, help, samples: [{ labels, value }],
});

/** Seconds since the epoch when this process started (performance.timeOrigin is that instant, in ms). */
const START_TIME = Math.round(performance.timeOrigin) / 1000;

/** kB fields of /proc/self/status (VmRSS, VmSize, VmData), in bytes; null where there is no /proc. */
function procStatus(): Record<string, number> | null {
  try {
    const out: Record<string, number> = {};
    for (const m of readFileSync('/proc/self/status', 'utf8').matchAll(/^(Vm\w+):\s+(\d+) kB$/gm)) out[m[1]!] = Number(m[2]) * 1024;
    return out;
  } catch {
    return null;
  }
}

function descriptors(): { open: number; max: number } | null {
  try {
    const open = readdirSync('/proc/self/fd').length - 1; // less the one readdir itself holds open
    const limit = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
    return { open, max: limit === undefined || limit === 'unlimited' ? -1 : Number(limit) };
  } catch {
    return null;
  }
}

export function processFamilies(): MetricFamily[] {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  const [major = '', minor = '', patch = ''] = process.versions.node.split('.');
  const families = [
    one('process_cpu_user_seconds_total', 'counter', 'User CPU time spent in seconds.', cpu.user / 1e6),
    one('process_cpu_system_seconds_total', 'counter', 'System CPU time spent in seconds.', cpu.system / 1e6),
    one('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.', (cpu.user + cpu.system) / 1e6),
    one('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds.', START_TIME),
    one('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', memory.rss),
  ];
  const status = procStatus();
  if (status) {
    if (status.VmSize !== undefined) families.push(one('process_virtual_memory_bytes', 'gauge', 'Virtual memory size in bytes.', status.VmSize));
    if (status.VmData !== undefined) families.push(one('process_heap_bytes', 'gauge', 'Process heap size in bytes.', status.VmData));
  }
  const fds = descriptors();
  if (fds) {
    families.push(one('process_open_fds', 'gauge', 'Number of open file descriptors.', fds.open));
    if (fds.max >= 0) families.push(one('process_max_fds', 'gauge', 'Maximum number of open file descriptors.', fds.max));
  }
  families.push(
    one('nodejs_heap_size_total_bytes', 'gauge', 'Process heap size from Node.js in bytes (the main thread\'s).', memory.heapTotal),
    one('nodejs_heap_size_used_bytes', 'gauge', 'Process heap size used from Node.js in bytes (the main thread\'s).', memory.heapUsed),
    one('nodejs_external_memory_bytes', 'gauge', 'Node.js external memory size in bytes.', memory.external),
    one('nodejs_version_info', 'gauge', 'Node.js version info.', 1, { version: process.version, major, minor, patch }),
  );
  return families;
}
