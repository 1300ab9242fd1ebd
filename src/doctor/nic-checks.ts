// Per network interface: offloads (TSO, GSO, GRO, LRO) and interrupt coalescing
// through `ethtool -k/-c` when it is installed (saying so when it is not), and
// which CPUs take each NIC interrupt (/proc/interrupts, /proc/irq/N). None of
// this has a value the configuration implies, so nothing here is ever applied;
// and none of it touches loopback traffic, which never reaches a NIC.

import { execFileSync } from 'node:child_process';
import { basename } from 'node:path';
import type { Finding } from './finding.ts';
import { SOURCES } from './sources.ts';
import type { SystemFiles } from './system-files.ts';

type Ethtool = (args: string[]) => { out: string } | { error: string };

/** Run ethtool from PATH; ENOENT means it is not installed. */
export const runEthtool: Ethtool = args => {
  try {
    return { out: execFileSync('ethtool', args, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message: string };
    return { error: e.code === 'ENOENT' ? 'ENOENT' : (e.stderr || e.message).trim().split('\n')[0]! };
  }
};

/** `ethtool -k` lines "generic-receive-offload: on [fixed]" as name -> { on, fixed }. */
export function parseFeatures(text: string): Map<string, { on: boolean; fixed: boolean }> {
  const out = new Map<string, { on: boolean; fixed: boolean }>();
  for (const m of text.matchAll(/^\s*([\w-]+): (on|off)( \[fixed\])?/gm)) out.set(m[1]!, { on: m[2] === 'on', fixed: !!m[3] });
  return out;
}

/** `ethtool -c` as key -> value ("rx-usecs" -> "0", "Adaptive RX" -> "off"). */
export function parseCoalescing(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const adaptive = /Adaptive RX: (\S+)\s+TX: (\S+)/.exec(text);
  if (adaptive) {
    out.set('adaptive-rx', adaptive[1]!);
    out.set('adaptive-tx', adaptive[2]!);
  }
  for (const m of text.matchAll(/^([\w-]+): (\S+)$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

interface Irq {
  number: string;
  name: string;
  /** CPUs that have handled it so far (non-zero counts in /proc/interrupts). */
  handledOn: number[];
}

/** The IRQs in /proc/interrupts whose name mentions one of `names` (interface or device). */
export function irqsFor(interrupts: string, names: string[]): Irq[] {
  const [header = '', ...rows] = interrupts.split('\n');
  const cpus = header.trim().split(/\s+/).length;
  const mentions = (name: string) => names.some(n => new RegExp(`(^|[^\\w])${n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([^\\w]|$)`).test(name));
  const irqs: Irq[] = [];
  for (const row of rows) {
    const m = /^\s*(\d+):\s+(.*)$/.exec(row);
    if (!m) continue;
    const fields = m[2]!.trim().split(/\s+/);
    const name = fields.at(-1)!;
    if (!mentions(name) || /-config$/.test(name)) continue; // config interrupts carry no traffic
    const handledOn = fields.slice(0, cpus).flatMap((count, cpu) => (Number(count) > 0 ? [cpu] : []));
    irqs.push({ number: m[1]!, name, handledOn });
  }
  return irqs;
}

const OFFLOADS = [
  ['tso', 'tcp-segmentation-offload'],
  ['gso', 'generic-segmentation-offload'],
  ['gro', 'generic-receive-offload'],
  ['lro', 'large-receive-offload'],
] as const;

export function nicChecks(files: SystemFiles, ethtool: Ethtool = runEthtool): Finding[] {
  const all = files.list('sys/class/net');
  const nics = all.filter(i => i !== 'lo' && files.link('sys/class/net', i, 'device') !== undefined);
  const virtual = all.filter(i => i !== 'lo' && !nics.includes(i));
  const findings: Finding[] = [{
    area: 'interfaces', setting: 'network interfaces',
    current: [
      ...nics.map(i => `${i} (NIC)`),
      ...(all.includes('lo') ? ['lo (loopback)'] : []),
      ...(virtual.length ? [`${virtual.join(', ')} (virtual, not checked)`] : []),
    ].join('; ') || 'none found',
    needed: 'checked below for each NIC',
    status: 'info',
    why: 'offloads, coalescing and IRQ affinity belong to a NIC: traffic over loopback (127.0.0.1, a benchmark on one machine) touches none of them, so tuning them changes nothing there',
    source: SOURCES.offloads,
  }];
  if (nics.length === 0) return findings;

  const missing = ethtool(['--version']);
  if ('error' in missing) {
    findings.push({
      area: 'interfaces', setting: 'ethtool', current: missing.error === 'ENOENT' ? 'not installed' : `fails: ${missing.error}`,
      needed: 'installed, to check offloads and coalescing', status: 'unknown',
      why: 'without it the offloads and interrupt coalescing of each NIC are not checked (IRQ affinity still is)',
      command: 'apt-get install ethtool', source: SOURCES.ethtool,
    });
  }
  for (const nic of nics) {
    if (!('error' in missing)) findings.push(offloadFinding(nic, ethtool), coalescingFinding(nic, ethtool));
    findings.push(irqFinding(files, nic));
  }
  return findings;
}

function offloadFinding(nic: string, ethtool: Ethtool): Finding {
  const base = {
    area: 'interfaces', setting: `${nic} offloads (ethtool -k)`,
    needed: 'tso, gso, gro on; lro off where packets are forwarded',
    why: 'segmentation (TSO/GSO) and receive (GRO) offloads pass fewer, larger packets through the kernel: fewer per-packet costs per byte, which is most of a server\'s CPU here',
    source: SOURCES.offloads,
  };
  const r = ethtool(['-k', nic]);
  if ('error' in r) return { ...base, current: `ethtool -k failed: ${r.error}`, status: 'unknown' };
  const features = parseFeatures(r.out);
  const state = OFFLOADS.map(([short, long]) => {
    const f = features.get(long);
    return { short, f, text: f ? `${short} ${f.on ? 'on' : 'off'}${f.fixed ? ' (fixed)' : ''}` : `${short} ?` };
  });
  // Off but changeable: worth turning on. Off and fixed: the driver cannot do it.
  const canEnable = state.filter(s => s.short !== 'lro' && s.f && !s.f.on && !s.f.fixed).map(s => s.short);
  return {
    ...base,
    current: state.map(s => s.text).join(', '),
    status: canEnable.length ? 'advice' : 'ok',
    command: canEnable.length ? `ethtool -K ${nic} ${canEnable.map(s => `${s} on`).join(' ')}` : undefined,
    source: SOURCES.offloads,
  };
}

function coalescingFinding(nic: string, ethtool: Ethtool): Finding {
  const base = {
    area: 'interfaces', setting: `${nic} interrupt coalescing (ethtool -c)`,
    needed: 'low rx-usecs for latency, adaptive-rx or higher rx-usecs for throughput',
    status: 'info' as const,
    why: 'how long the NIC waits to batch packets into one interrupt: a trade between latency and CPU per packet that depends on the traffic, not on the rings',
    source: SOURCES.ethtool,
  };
  const r = ethtool(['-c', nic]);
  if ('error' in r) return { ...base, current: `not reported by the driver (${r.error})` };
  const c = parseCoalescing(r.out);
  const shown = ['adaptive-rx', 'rx-usecs', 'rx-frames', 'tx-usecs', 'tx-frames'].filter(k => c.has(k) && c.get(k) !== 'n/a');
  return {
    ...base,
    current: shown.map(k => `${k} ${c.get(k)}`).join(', ') || 'nothing reported',
    command: c.get('adaptive-rx') === 'off' ? `ethtool -C ${nic} adaptive-rx on  (or rx-usecs <µs>)` : `ethtool -C ${nic} rx-usecs <µs>`,
  };
}

function irqFinding(files: SystemFiles, nic: string): Finding {
  const device = files.link('sys/class/net', nic, 'device');
  const irqs = irqsFor(files.read('proc/interrupts') ?? '', [nic, ...(device ? [basename(device)] : [])]);
  const base = {
    area: 'interfaces', setting: `${nic} IRQ affinity`,
    needed: 'NIC queues spread over the CPUs (irqbalance or RSS)',
    why: 'the CPU that takes a queue\'s interrupt does the kernel\'s receive work for its connections; with several queues pinned to one CPU that CPU saturates first',
    source: SOURCES.irqAffinity,
  };
  if (irqs.length === 0) return { ...base, current: 'no interrupts found for it', status: 'unknown' };
  const affinity = irqs.map(i => ({ ...i, cpus: files.read('proc/irq', i.number, 'smp_affinity_list') ?? '?' }));
  const pinnedTogether = affinity.length > 1 && new Set(affinity.map(a => a.cpus)).size === 1 && /^\d+$/.test(affinity[0]!.cpus);
  return {
    ...base,
    current: affinity.map(a => `${a.number} ${a.name} → CPUs ${a.cpus}${a.handledOn.length ? ` (handled on ${a.handledOn.join(',')})` : ''}`).join('; '),
    status: pinnedTogether ? 'advice' : 'info',
    command: `echo <cpus> > /proc/irq/<n>/smp_affinity_list  (or run irqbalance)`,
    source: pinnedTogether ? SOURCES.scaling : SOURCES.irqAffinity,
  };
}
