// `ringwire doctor` as a user runs it (the built CLI in its own process), against
// fake /proc and /sys trees (--root): one where everything fits the configuration,
// one where several things do not. Nothing here reads or writes the real /proc/sys
// except to check, around --apply, that it did not change. ethtool comes from PATH:
// a stand-in that prints real ethtool output (test/fixtures/doctor/bin), or nothing.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryBudget, resolveConfig } from '../src/index.ts';

const FAKE_BIN = fileURLToPath(new URL('./fixtures/doctor/bin', import.meta.url));
const NO_BIN = mkdtempSync(join(tmpdir(), 'ringwire-no-bin-'));
const trees: string[] = [NO_BIN];
afterAll(() => {
  for (const t of trees) rmSync(t, { recursive: true, force: true });
});

interface Tree {
  sysctl: Record<string, string>;
  nofile: [string, string];
  memTotalKb: number;
  cgroupMax: string;
  meminfo?: string;
  affinity: [string, string];
}

const FINE: Tree = {
  sysctl: {
    'net.core.somaxconn': '4096',
    'net.ipv4.tcp_max_syn_backlog': '2048',
    'net.ipv4.tcp_rmem': '4096\t131072\t6291456',
    'net.ipv4.tcp_wmem': '4096\t16384\t4194304',
    'net.core.rmem_max': '212992',
    'net.core.wmem_max': '212992',
    'net.ipv4.tcp_congestion_control': 'cubic',
    'net.ipv4.tcp_available_congestion_control': 'reno cubic',
    'net.core.default_qdisc': 'fq_codel',
    'net.ipv4.ip_local_port_range': '32768\t60999',
    'net.ipv4.tcp_tw_reuse': '2',
    'fs.nr_open': '1048576',
    'fs.file-max': '9223372036854775807',
    'vm.overcommit_memory': '0',
  },
  nofile: ['1048576', '1048576'],
  memTotalKb: 8 * 1024 * 1024,
  cgroupMax: 'max',
  affinity: ['0-1', '0-1'],
};

const BAD: Tree = {
  ...FINE,
  sysctl: {
    ...FINE.sysctl,
    'net.core.somaxconn': '128',
    'net.ipv4.tcp_rmem': '4096\t87380\t65536',
    'fs.nr_open': '1024',
    'vm.overcommit_memory': '2',
  },
  nofile: ['256', '1024'],
  cgroupMax: String(64 * 1024 * 1024),
  meminfo: 'CommitLimit:     1000000 kB\nCommitted_AS:     990000 kB\n',
  affinity: ['0', '0'],
};

/** A directory with proc/ and sys/ as the doctor reads them. */
function fakeRoot(t: Tree): string {
  const root = mkdtempSync(join(tmpdir(), 'ringwire-doctor-'));
  chmodSync(root, 0o755); // readable by the unprivileged user of the --apply refusal test
  trees.push(root);
  const put = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  for (const [key, value] of Object.entries(t.sysctl)) put(`proc/sys/${key.replaceAll('.', '/')}`, `${value}\n`);
  put('proc/self/limits', [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max cpu time              unlimited            unlimited            seconds   ',
    `Max open files            ${t.nofile[0].padEnd(21)}${t.nofile[1].padEnd(21)}files     `,
  ].join('\n'));
  put('proc/meminfo', `MemTotal:       ${t.memTotalKb} kB\nMemFree:        1000 kB\n${t.meminfo ?? ''}`);
  put('proc/self/cgroup', '0::/app.slice\n');
  put('sys/fs/cgroup/app.slice/memory.max', `${t.cgroupMax}\n`);
  put('proc/interrupts', [
    '           CPU0       CPU1       ',
    ' 37:          0          0 PCI-MSIX-0000:00:03.0   0-edge      virtio2-config',
    ' 38:          0       9976 PCI-MSIX-0000:00:03.0   1-edge      virtio2-input.0',
    ' 39:       7952          0 PCI-MSIX-0000:00:03.0   2-edge      virtio2-output.0',
    ' 41:       1732          0 PCI-MSIX-0000:00:04.0   1-edge      virtio21-rx',
  ].join('\n'));
  put('proc/irq/38/smp_affinity_list', `${t.affinity[0]}\n`);
  put('proc/irq/39/smp_affinity_list', `${t.affinity[1]}\n`);
  put('sys/devices/pci0000:00/0000:00:03.0/virtio2/.keep', '');
  for (const i of ['eth0', 'lo', 'ifb0']) mkdirSync(join(root, 'sys/class/net', i), { recursive: true });
  symlinkSync('../../../devices/pci0000:00/0000:00:03.0/virtio2', join(root, 'sys/class/net/eth0/device'));
  return root;
}

function doctor(args: string[], opts: { path?: string; uid?: number; env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, ['dist/cli.js', 'doctor', ...args], {
    encoding: 'utf8',
    timeout: 15_000,
    env: { ...process.env, ...opts.env, PATH: opts.path ?? FAKE_BIN },
    ...(opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.uid }),
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface JsonFinding { setting: string; status: string; current: string; needed: string; command?: string; apply?: { key: string; value: string }; source: { title: string; url: string } }
function json(args: string[], path?: string) {
  const r = doctor([...args, '--json'], { path });
  const out = JSON.parse(r.stdout) as { limits: number; configuration: Record<string, number | string>; findings: JsonFinding[] };
  const find = (setting: string) => {
    const f = out.findings.find(x => x.setting === setting);
    expect(f, setting).toBeDefined();
    return f!;
  };
  return { ...out, status: r.status, find };
}

/** The table row of a setting: its status mark, then the setting in the second column. */
const rowOf = (text: string, setting: string) => text.split('\n').find(l => /^(ok|LIMIT|advice|info|\?) +(.*)$/.exec(l)?.[2]!.startsWith(`${setting} `)) ?? '';

describe('ringwire doctor', () => {
  it('prints a table where everything fits, and exits 0', () => {
    const r = doctor(['--root', fakeRoot(FINE)]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('setting');
    expect(r.stdout).toContain('needed by this configuration');
    expect(r.stdout).toContain('command that changes it');
    for (const s of ['net.core.somaxconn', 'net.ipv4.tcp_max_syn_backlog', 'net.ipv4.tcp_rmem (max)', 'net.ipv4.tcp_wmem (max)', 'fs.nr_open', 'memory at most']) {
      expect(rowOf(r.stdout, s), s).toMatch(/^ok /);
    }
    expect(rowOf(r.stdout, 'net.core.somaxconn')).toContain('≥ 511 (--backlog)');
    expect(r.stdout).toContain('Nothing limits this configuration.');
    // Every row cites a numbered source, and every number is listed with a URL.
    const refs = new Set([...r.stdout.matchAll(/\[(\d+)\]\s*$/gm)].map(m => m[1]));
    expect(refs.size).toBeGreaterThan(5);
    for (const n of refs) expect(r.stdout).toMatch(new RegExp(`^  \\[${n}\\] .+: (https://|docs/|README)`, 'm'));
  });

  it('flags what limits the configuration, with the command and the value --apply would write', () => {
    const out = json(['--root', fakeRoot(BAD)]);
    expect(out.status).toBe(1);
    const somaxconn = out.find('net.core.somaxconn');
    expect(somaxconn).toMatchObject({ status: 'limit', current: '128', command: 'sysctl -w net.core.somaxconn=511', apply: { key: 'net.core.somaxconn', value: '511' } });
    // Only the max field of tcp_rmem changes, to twice the 64 KiB ring; min and default stay.
    expect(out.find('net.ipv4.tcp_rmem (max)')).toMatchObject({ status: 'limit', apply: { key: 'net.ipv4.tcp_rmem', value: '4096 87380 131072' } });
    expect(out.find('net.ipv4.tcp_wmem (max)').status).toBe('ok');
    // Node raises its soft limit to the hard one: the hard limit is what is judged.
    const nofile = out.find('ulimit -n (RLIMIT_NOFILE)');
    expect(nofile).toMatchObject({ status: 'limit', current: 'soft 256, hard 1024' });
    expect(nofile.apply).toBeUndefined();
    expect(nofile.command).toContain('LimitNOFILE=');
    expect(out.find('fs.nr_open')).toMatchObject({ status: 'limit', apply: { value: String(out.configuration.descriptors) } });
    // 128 MiB of rings do not fit a 64 MiB cgroup, nor the 10 MB left of CommitLimit.
    expect(out.find('memory at most')).toMatchObject({ status: 'limit' });
    expect(out.find('memory at most').current).toContain('cgroup limit 64 MiB');
    expect(out.find('vm.overcommit_memory').status).toBe('limit');
    expect(out.find('eth0 IRQ affinity').status).toBe('advice'); // both queues pinned to CPU 0
    expect(out.limits).toBe(out.findings.filter(f => f.status === 'limit').length);
    for (const f of out.findings) expect(f.source.url, f.setting).toMatch(/^(https:\/\/|docs\/|README)/);
  });

  it('sizes every need from the same options as serve', () => {
    const root = fakeRoot(FINE);
    const options = ['--framing', 'length:4', '--max-connections', '400', '--max-frame', '1m', '--tx-ring', '4m', '--max-memory', '2g', '--workers', '6', '--backlog', '8192'];
    const out = json(['--root', root, ...options]);
    const config = resolveConfig({ framing: 'length:4', maxConnections: 400, maxFrame: 1 << 20, txRing: 4 << 20, maxMemory: 2 * 2 ** 30 });
    expect(out.configuration).toMatchObject({
      framing: 'length:4:be', maxConnections: 400, rxRing: 2 << 20, txRing: 4 << 20, workers: 6, backlog: 8192,
      connections: 2400, memory: 6 * memoryBudget(config).total,
    });
    expect(json(['--root', root, ...options, '--max-queued', '1m', '--max-queued-total', '100m']).configuration.memoryPerThread)
      .toEqual(memoryBudget(config, 1 << 20, 100 << 20));
    expect(out.status).toBe(1);
    expect(out.find('net.core.somaxconn')).toMatchObject({ status: 'limit', needed: '≥ 8192 (--backlog)' });
    expect(out.find('net.ipv4.tcp_max_syn_backlog').status).toBe('limit');
    expect(out.find('net.ipv4.tcp_rmem (max)').status).toBe('ok'); // 2 × 2 MiB ≤ 6 MiB
    expect(out.find('net.ipv4.tcp_wmem (max)')).toMatchObject({ status: 'limit', apply: { value: `4096 16384 ${8 << 20}` } });
    expect(out.find('memory at most').status).toBe('limit'); // 6 × 2 GiB of ring pool on 8 GiB
    expect(out.find('ulimit -n (RLIMIT_NOFILE)').status).toBe('ok');
    expect(out.find('net.ipv4.ip_local_port_range').status).toBe('info');
    // 30000 connections to one address would need more local ports than 32768-60999.
    const many = json(['--root', root, '--max-connections', '15000', '--workers', '2', '--rx-ring', '1k', '--tx-ring', '1k']);
    expect(many.find('net.ipv4.ip_local_port_range')).toMatchObject({ status: 'advice', current: '32768 60999 (28232 ports)' });
    expect(many.status).toBe(0);
    const bad = doctor(['--root', root, '--max-connections', '1', '--rx-ring', '1000']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/rx ring must be a power of two.*ERR_BAD_CONFIG/);
  });

  it('reads offloads and coalescing through ethtool, and IRQs from /proc', () => {
    const out = json(['--root', fakeRoot(FINE)]);
    expect(out.find('network interfaces').current).toBe('eth0 (NIC); lo (loopback); ifb0 (virtual, not checked)');
    expect(out.find('eth0 offloads (ethtool -k)')).toMatchObject({ status: 'ok', current: 'tso on, gso on, gro on, lro off (fixed)' });
    expect(out.find('eth0 interrupt coalescing (ethtool -c)').current).toBe('adaptive-rx off, rx-usecs 0, rx-frames 1, tx-usecs 0, tx-frames 1');
    // virtio2's traffic IRQs, not its config IRQ nor virtio21's.
    expect(out.find('eth0 IRQ affinity')).toMatchObject({
      status: 'info',
      current: '38 virtio2-input.0 → CPUs 0-1 (handled on 1); 39 virtio2-output.0 → CPUs 0-1 (handled on 0)',
    });
  });

  it('says when ethtool is not installed, and still checks IRQs', () => {
    const out = json(['--root', fakeRoot(FINE)], NO_BIN);
    expect(out.find('ethtool')).toMatchObject({ status: 'unknown', current: 'not installed', command: 'apt-get install ethtool' });
    expect(out.findings.some(f => f.setting.includes('offloads'))).toBe(false);
    expect(out.find('eth0 IRQ affinity').current).toContain('38 virtio2-input.0');
    expect(out.status).toBe(0); // not knowing is not a limit
  });

  it('refuses --apply without root and changes nothing', () => {
    const root = fakeRoot(BAD);
    const somaxconn = join(root, 'proc/sys/net/core/somaxconn');
    const refuses = (r: ReturnType<typeof doctor>) => {
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toContain('--apply writes kernel settings and needs root; nothing was changed');
      expect(r.stdout).toBe('');
      expect(readFileSync(somaxconn, 'utf8')).toBe('128\n');
    };
    const asRoot = process.getuid?.() === 0;
    // A real unprivileged process ("nobody") where it can read this checkout and its Node;
    // as root, also the seam that makes the doctor behave as unprivileged (src/doctor/apply.ts).
    const nobodyCanRun = asRoot && spawnSync(process.execPath, ['-e', `require('node:fs').accessSync(${JSON.stringify(join(process.cwd(), 'dist/cli.js'))})`], { uid: 65534, gid: 65534 }).status === 0;
    if (!asRoot || nobodyCanRun) refuses(doctor(['--apply', '--root', root], asRoot ? { uid: 65534 } : {}));
    if (asRoot) refuses(doctor(['--apply', '--root', root], { env: { RINGWIRE_DOCTOR_UNPRIVILEGED: '1' } }));
  });

  it.runIf(process.getuid?.() === 0)('as root, --apply raises the sysctls the configuration needs, only below --root', () => {
    const root = fakeRoot(BAD);
    const real = readFileSync('/proc/sys/net/core/somaxconn', 'utf8');
    const r = doctor(['--apply', '--root', root]);
    expect(readFileSync('/proc/sys/net/core/somaxconn', 'utf8')).toBe(real);
    expect(r.stdout).toContain('applied: net.core.somaxconn = 511  (was 128)');
    expect(r.stdout).toContain('applied: net.ipv4.tcp_rmem = 4096 87380 131072');
    expect(r.stdout).toMatch(/not applied: ulimit -n \(RLIMIT_NOFILE\): not a sysctl/);
    expect(r.stdout).toContain('/etc/sysctl.d/60-ringwire.conf');
    expect(readFileSync(join(root, 'proc/sys/net/core/somaxconn'), 'utf8')).toBe('511\n');
    expect(readFileSync(join(root, 'proc/sys/net/ipv4/tcp_wmem'), 'utf8')).toBe('4096\t16384\t4194304\n'); // fine: untouched
    expect(readFileSync(join(root, 'proc/sys/net/core/default_qdisc'), 'utf8')).toBe('fq_codel\n'); // never applied
    // The table after applying: the sysctls are fine now; the rlimit and memory still limit.
    expect(rowOf(r.stdout, 'net.core.somaxconn')).toMatch(/^ok /);
    expect(rowOf(r.stdout, 'ulimit -n (RLIMIT_NOFILE)')).toMatch(/^LIMIT /);
    expect(r.status).toBe(1);
  });
});
