// Where each recommendation of `ringwire doctor` comes from. Kernel values cite
// the kernel's own documentation or man pages; Node facts cite docs/node-facts.md
// in this repository, where each was measured and on which Node versions.

export interface Source {
  title: string;
  url: string;
}

const kernel = (page: string, title: string): Source => ({ title, url: `https://docs.kernel.org/${page}.html` });
const man = (page: string, section: number, title: string): Source => ({
  title,
  url: `https://man7.org/linux/man-pages/man${section}/${page}.${section}.html`,
});
const debian = (pkg: string, page: string, section: number, title: string): Source => ({
  title,
  url: `https://manpages.debian.org/bookworm/${pkg}/${page}.${section}.en.html`,
});
const repo = (path: string, title: string): Source => ({ title, url: path });

export const SOURCES = {
  listen: man('listen', 2, 'listen(2): a backlog above net.core.somaxconn is silently capped to it'),
  nodeBacklog: { title: 'Node.js net docs: server.listen() backlog defaults to 511', url: 'https://nodejs.org/api/net.html#serverlisten' },
  sysctlNet: kernel('admin-guide/sysctl/net', 'Linux admin-guide/sysctl/net.rst (somaxconn, rmem_max, wmem_max, default_qdisc)'),
  ipSysctl: kernel('networking/ip-sysctl', 'Linux networking/ip-sysctl.rst (tcp_max_syn_backlog, tcp_rmem, tcp_wmem, tcp_adv_win_scale, ip_local_port_range, tcp_tw_reuse)'),
  tcp: man('tcp', 7, 'tcp(7): socket buffer autotuning and SO_RCVBUF/SO_SNDBUF limits'),
  getrlimit: man('getrlimit', 2, 'getrlimit(2): RLIMIT_NOFILE; accept(2) fails with EMFILE beyond it'),
  sysctlFs: kernel('admin-guide/sysctl/fs', 'Linux admin-guide/sysctl/fs.rst (file-max, nr_open)'),
  bbr: { title: 'Google BBR quick-start (tcp_congestion_control=bbr, default_qdisc=fq)', url: 'https://github.com/google/bbr/blob/master/Documentation/bbr-quick-start.md' },
  tcFq: debian('iproute2', 'tc-fq', 8, 'tc-fq(8): the fair-queue qdisc and pacing'),
  ethtool: debian('ethtool', 'ethtool', 8, 'ethtool(8): -k offloads, -c interrupt coalescing'),
  offloads: kernel('networking/segmentation-offloads', 'Linux networking/segmentation-offloads.rst (TSO, GSO, GRO)'),
  irqAffinity: kernel('core-api/irq/irq-affinity', 'Linux core-api/irq/irq-affinity.rst (/proc/irq/N/smp_affinity_list)'),
  scaling: kernel('networking/scaling', 'Linux networking/scaling.rst (RSS: one IRQ per queue, spread over CPUs)'),
  overcommit: kernel('mm/overcommit-accounting', 'Linux mm/overcommit-accounting.rst (vm.overcommit_memory, CommitLimit)'),
  cgroupMemory: kernel('admin-guide/cgroup-v2', 'Linux admin-guide/cgroup-v2.rst (memory.max)'),
  nodeFacts: repo('docs/node-facts.md', 'docs/node-facts.md (measured on Node 20, 22, 24, 26)'),
  readme: repo('docs/limits-and-errors.md', 'docs/limits-and-errors.md (rings reserved once, queued replies bounded)'),
  tuning: repo('docs/tuning-and-profiling.md', 'docs/tuning-and-profiling.md'),
} as const satisfies Record<string, Source>;
