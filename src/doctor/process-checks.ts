// What one ringwire process needs from the system's per-process and global
// limits: a descriptor per connection (RLIMIT_NOFILE, fs.nr_open, fs.file-max)
// and room for the memory every core reserves at start (RAM, the cgroup's limit,
// the commit limit when overcommit is off). Memory is reserved once and touched
// only as connections fill their rings, so "fits" means the worst case fits.

import { bytes, type Finding } from './finding.ts';
import { atLeast } from './kernel-checks.ts';
import type { Plan } from './plan.ts';
import { SOURCES } from './sources.ts';
import type { SystemFiles } from './system-files.ts';

type Limit = number | 'unlimited';

/** A row of /proc/<pid>/limits: "Max open files  1024  1048576  files". */
export function parseLimit(limits: string | undefined, name: string): { soft: Limit; hard: Limit } | undefined {
  const line = limits?.split('\n').find(l => l.startsWith(name));
  const m = line && /^\S.*?\s{2,}(\d+|unlimited)\s+(\d+|unlimited)/.exec(line);
  if (!m) return undefined;
  const value = (t: string): Limit => (t === 'unlimited' ? t : Number(t));
  return { soft: value(m[1]!), hard: value(m[2]!) };
}

const atLeastLimit = (l: Limit, n: number) => l === 'unlimited' || l >= n;

export function processChecks(files: SystemFiles, plan: Plan): Finding[] {
  return [...descriptorChecks(files, plan), ...memoryChecks(files, plan)];
}

function descriptorChecks(files: SystemFiles, plan: Plan): Finding[] {
  const n = plan.descriptors;
  const needed = `≥ ${n} (${plan.config.maxConnections} connections × ${plan.workers} thread${plan.workers > 1 ? 's' : ''} + ${n - plan.connections} for the process)`;
  const nofile = parseLimit(files.read('proc/self/limits'), 'Max open files');
  // Node raises its soft limit to the hard one at start (docs/node-facts.md), so
  // the hard limit is what a ringwire process gets, whatever `ulimit -n` shows.
  return [
    {
      area: 'descriptors', setting: 'ulimit -n (RLIMIT_NOFILE)',
      current: nofile ? `soft ${nofile.soft}, hard ${nofile.hard}` : 'unreadable',
      needed: `hard ${needed}`,
      status: !nofile ? 'unknown' : atLeastLimit(nofile.hard, n) ? 'ok' : 'limit',
      why: 'each connection is a descriptor; past the limit accept fails with EMFILE and new clients wait in the queue. Node raises its soft limit to the hard one at start, so the hard limit is the one that counts',
      command: nofile && !atLeastLimit(nofile.hard, n) ? `ulimit -Hn ${n} && ulimit -n ${n} (as root, in the shell that starts it) or LimitNOFILE=${n} in its systemd unit` : undefined,
      source: SOURCES.getrlimit,
    },
    atLeast(files, {
      area: 'descriptors', setting: 'fs.nr_open', key: 'fs.nr_open', value: n, needed,
      why: 'the highest hard RLIMIT_NOFILE any process may be given',
      source: SOURCES.sysctlFs,
    }),
    atLeast(files, {
      area: 'descriptors', setting: 'fs.file-max', key: 'fs.file-max', value: n, needed: `${needed}, plus every other process's`,
      why: 'open files across the whole system; past it every process gets ENFILE',
      source: SOURCES.sysctlFs,
    }),
  ];
}

/** kB values of /proc/meminfo, in bytes. */
function meminfo(files: SystemFiles): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of files.read('proc/meminfo')?.split('\n') ?? []) {
    const m = /^(\w+):\s+(\d+) kB/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]) * 1024);
  }
  return out;
}

/** The memory limit of this process's cgroup (v2 memory.max or v1 limit_in_bytes), if any. */
export function cgroupMemoryLimit(files: SystemFiles): number | undefined {
  for (const line of files.read('proc/self/cgroup')?.split('\n') ?? []) {
    const [, controllers, path = '/'] = line.split(':');
    const candidates = controllers === '' ? [['sys/fs/cgroup', path, 'memory.max'], ['sys/fs/cgroup', 'memory.max']]
      : controllers?.split(',').includes('memory') ? [['sys/fs/cgroup/memory', path, 'memory.limit_in_bytes'], ['sys/fs/cgroup/memory', 'memory.limit_in_bytes']]
        : [];
    for (const parts of candidates) {
      const value = files.read(...parts);
      // "max" (v2) or a number near 2^63 (v1) mean no limit.
      if (value !== undefined && /^\d+$/.test(value) && Number(value) < 2 ** 60) return Number(value);
    }
  }
  return undefined;
}

function memoryChecks(files: SystemFiles, plan: Plan): Finding[] {
  const mem = meminfo(files);
  const total = mem.get('MemTotal');
  const cgroup = cgroupMemoryLimit(files);
  const room = cgroup === undefined ? total : Math.min(cgroup, total ?? Infinity);
  const { rings, connections, queued, total: perThread } = plan.budget;
  const reserved = `${bytes(plan.memory)}${plan.workers > 1 ? ` (${plan.workers} × ${bytes(perThread)})` : ''}`;
  const findings: Finding[] = [{
    area: 'memory', setting: 'memory at most',
    current: total === undefined ? 'unreadable' : `RAM ${bytes(total)}${cgroup === undefined ? '' : `, cgroup limit ${bytes(cgroup)}`}`,
    needed: `≥ ${reserved}: ${bytes(rings)} of ring pool (--max-memory, for ${plan.config.maxConnections} connections' rings of up to ${bytes(plan.config.rxSize)} rx + ${bytes(plan.config.txSize)} tx) + ${bytes(connections)} of connection state + ${bytes(queued)} of queued replies, per thread (plus the process's own baseline)`,
    status: room === undefined ? 'unknown' : plan.memory <= room ? 'ok' : 'limit',
    why: 'the ring pool is reserved once at start and resident only as connections\' traffic takes rings from it, and queued replies are bounded by --max-queued and --max-queued-total: the worst case must fit, or the OOM killer ends the process; lower --max-memory, --max-connections or the queues otherwise',
    source: SOURCES.readme,
  }];
  const mode = files.sysctl('vm.overcommit_memory');
  const commitLimit = mem.get('CommitLimit');
  const committed = mem.get('Committed_AS');
  if (mode === '2' && commitLimit !== undefined && committed !== undefined) {
    const free = commitLimit - committed;
    findings.push({
      area: 'memory', setting: 'vm.overcommit_memory', current: `2 (never): ${bytes(Math.max(0, free))} of CommitLimit free`,
      needed: `≥ ${reserved} of CommitLimit free`,
      status: plan.memory <= free ? 'ok' : 'limit',
      why: 'with overcommit off the rings are charged in full at start, and queued replies as they are allocated: they must fit in CommitLimit (swap + overcommit_ratio of RAM), or creating the WebAssembly memory fails',
      command: 'sysctl -w vm.overcommit_ratio=<percent> (or vm.overcommit_memory=0)',
      source: SOURCES.overcommit,
    });
  } else {
    findings.push({
      area: 'memory', setting: 'vm.overcommit_memory', current: mode ?? 'unreadable', needed: '0 or 1',
      status: mode === undefined ? 'unknown' : 'info',
      why: 'with heuristic overcommit (0) or always (1) the reservation costs nothing until connections use their rings',
      source: SOURCES.overcommit,
    });
  }
  return findings;
}
