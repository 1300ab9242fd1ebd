// The kernel's network settings, read from /proc/sys, against the configuration:
// the accept queue (somaxconn, tcp_max_syn_backlog) against the backlog, socket
// buffer ceilings (tcp_rmem, tcp_wmem) against the rings, and the settings no
// configuration decides (congestion control, queueing discipline, outbound ports)
// reported as context. Only values that follow from the configuration get a
// needed number and an `apply`; the rest never do.

import { bytes, type Finding } from './finding.ts';
import type { Plan } from './plan.ts';
import { SOURCES } from './sources.ts';
import type { SystemFiles } from './system-files.ts';

/**
 * A sysctl that must be at least `needed` (field `field` of a vector like
 * tcp_rmem). Below it: a limit, and --apply writes exactly `needed` there,
 * keeping the other fields.
 */
export function atLeast(
  files: SystemFiles,
  f: Omit<Finding, 'current' | 'status' | 'command' | 'apply'> & { key: string; value: number; field?: number; isBytes?: boolean },
): Finding {
  const { key, value, field = 0, isBytes = false, ...rest } = f;
  const raw = files.sysctl(key);
  const current = files.sysctlNumber(key, field);
  const fields = raw?.split(' ') ?? [];
  if (raw === undefined || current === undefined) return { ...rest, current: 'unreadable', status: 'unknown' };
  const shown = isBytes ? bytes(current) : fields[field]!; // as written: 2^63-1 stays exact
  const display = fields.length > 1 ? `${raw} (${field === fields.length - 1 ? 'max' : `field ${field + 1}`} ${shown})` : shown;
  if (current >= value) return { ...rest, current: display, status: 'ok' };
  fields[field] = String(value);
  const next = fields.join(' ');
  return {
    ...rest,
    current: display,
    status: 'limit',
    command: `sysctl -w ${key}=${fields.length > 1 ? `"${next}"` : next}`,
    apply: { key, value: next },
  };
}

export function kernelChecks(files: SystemFiles, plan: Plan): Finding[] {
  const { backlog, config } = plan;
  const perSocket = plan.workers > 1 ? ' (each worker listens with its own queue)' : '';
  const findings: Finding[] = [
    atLeast(files, {
      area: 'accept queue', setting: 'net.core.somaxconn', key: 'net.core.somaxconn', value: backlog,
      needed: `≥ ${backlog} (--backlog)`,
      why: `listen(2) silently caps a backlog of ${backlog} to somaxconn${perSocket}; in a burst of new connections the ones beyond the queue are dropped and their clients retry after a second or more`,
      source: SOURCES.listen,
    }),
    atLeast(files, {
      area: 'accept queue', setting: 'net.ipv4.tcp_max_syn_backlog', key: 'net.ipv4.tcp_max_syn_backlog', value: backlog,
      needed: `≥ ${backlog} (--backlog)`,
      why: 'half-open connections (SYN received, handshake not finished) beyond it are dropped, or answered with syncookies when net.ipv4.tcp_syncookies is on',
      source: SOURCES.ipSysctl,
    }),
    // The kernel charges a socket's memory by buffer size including packet overhead
    // (skb truesize), about twice the payload for MTU-sized packets: to hold a whole
    // ring's worth of bytes for one read (or take one for one write) the ceiling
    // must be about twice the ring.
    atLeast(files, {
      area: 'socket buffers', setting: 'net.ipv4.tcp_rmem (max)', key: 'net.ipv4.tcp_rmem', field: 2, isBytes: true, value: 2 * config.rxSize,
      needed: `max ≥ ${bytes(2 * config.rxSize)} (2 × --rx-ring ${bytes(config.rxSize)})`,
      why: 'the ceiling of receive-buffer autotuning: below twice the rx ring (about half of a buffer is packet overhead), one read cannot fill the ring, so large frames take more reads; it also bounds the window on long-distance links',
      source: SOURCES.ipSysctl,
    }),
    atLeast(files, {
      area: 'socket buffers', setting: 'net.ipv4.tcp_wmem (max)', key: 'net.ipv4.tcp_wmem', field: 2, isBytes: true, value: 2 * config.txSize,
      needed: `max ≥ ${bytes(2 * config.txSize)} (2 × --tx-ring ${bytes(config.txSize)})`,
      why: 'the ceiling of send-buffer autotuning: when the kernel can take a full tx ring in one write, the ring is free again as soon as write() returns instead of after the write callback',
      source: SOURCES.ipSysctl,
    }),
  ];
  for (const [key, what] of [['net.core.rmem_max', 'SO_RCVBUF'], ['net.core.wmem_max', 'SO_SNDBUF']] as const) {
    const current = files.sysctlNumber(key);
    findings.push({
      area: 'socket buffers', setting: key, current: current === undefined ? 'unreadable' : bytes(current),
      needed: `only for an explicit ${what}: ≥ that size`,
      status: current === undefined ? 'unknown' : 'info',
      why: `caps buffer sizes a program sets with setsockopt(${what}); autotuned buffers (the default) follow tcp_${key.includes('rmem') ? 'r' : 'w'}mem instead`,
      command: `sysctl -w ${key}=<bytes>`,
      source: SOURCES.sysctlNet,
    });
  }
  findings.push(...congestionChecks(files), ...portChecks(files, plan));
  return findings;
}

/** Congestion control and the default qdisc: choices for the path, not the configuration. */
function congestionChecks(files: SystemFiles): Finding[] {
  const cc = files.sysctl('net.ipv4.tcp_congestion_control');
  const available = files.sysctl('net.ipv4.tcp_available_congestion_control');
  const qdisc = files.sysctl('net.core.default_qdisc');
  const hasBbr = available?.split(' ').includes('bbr') ?? false;
  return [
    {
      area: 'congestion', setting: 'net.ipv4.tcp_congestion_control',
      current: cc === undefined ? 'unreadable' : `${cc} (available: ${available ?? '?'})`,
      needed: 'cubic (default) is fine; bbr for long or lossy paths',
      status: cc === undefined ? 'unknown' : 'info',
      why: 'decides how fast a connection sends into the network; it never matters on loopback or a LAN without loss, and no ring size depends on it',
      command: cc === 'bbr' ? undefined : `${hasBbr ? '' : 'modprobe tcp_bbr && '}sysctl -w net.ipv4.tcp_congestion_control=bbr`,
      source: SOURCES.bbr,
    },
    {
      area: 'congestion', setting: 'net.core.default_qdisc', current: qdisc ?? 'unreadable',
      needed: cc === 'bbr' ? 'fq with bbr' : 'any (fq for pacing)',
      status: qdisc === undefined ? 'unknown' : cc === 'bbr' && qdisc !== 'fq' ? 'advice' : 'info',
      why: 'the queueing discipline of interfaces created from now on: fq paces each flow, which BBR\'s guide asks for; existing interfaces keep theirs (tc qdisc replace changes one)',
      command: qdisc === 'fq' ? undefined : 'sysctl -w net.core.default_qdisc=fq  (existing: tc qdisc replace dev <iface> root fq)',
      source: cc === 'bbr' ? SOURCES.bbr : SOURCES.tcFq,
    },
  ];
}

/** Ephemeral ports and TIME_WAIT reuse: only clients on this machine use them (bench, relays). */
function portChecks(files: SystemFiles, plan: Plan): Finding[] {
  const low = files.sysctlNumber('net.ipv4.ip_local_port_range', 0);
  const high = files.sysctlNumber('net.ipv4.ip_local_port_range', 1);
  const ports = low === undefined || high === undefined ? undefined : high - low + 1;
  const twReuse = files.sysctl('net.ipv4.tcp_tw_reuse');
  return [
    {
      area: 'outbound ports', setting: 'net.ipv4.ip_local_port_range',
      current: ports === undefined ? 'unreadable' : `${low} ${high} (${ports} ports)`,
      needed: `outbound only: ≥ ${plan.connections} for a client opening every connection to one address`,
      status: ports === undefined ? 'unknown' : ports < plan.connections ? 'advice' : 'info',
      why: 'a server accepts on one port and needs none; a load generator (ringwire bench) or a relay on this machine needs one local port per connection to the same address and port, else connect() fails with EADDRNOTAVAIL',
      command: ports !== undefined && ports < plan.connections ? 'sysctl -w net.ipv4.ip_local_port_range="1024 65535"' : undefined,
      source: SOURCES.ipSysctl,
    },
    {
      area: 'outbound ports', setting: 'net.ipv4.tcp_tw_reuse', current: twReuse ?? 'unreadable',
      needed: 'outbound only: 1 or 2 (2: loopback only)',
      status: twReuse === undefined ? 'unknown' : 'info',
      why: 'lets a client reuse a port still in TIME_WAIT for a new outbound connection: matters for benchmarks that reconnect in rounds, never for a server',
      command: twReuse === '1' ? undefined : 'sysctl -w net.ipv4.tcp_tw_reuse=1',
      source: SOURCES.ipSysctl,
    },
  ];
}
