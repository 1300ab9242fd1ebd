// The real peers `npm test` runs against, brought in before vitest starts, so that a
// fresh clone passes `npm install && npm test` with nothing installed by hand.
//
// Each peer is a program some suite starts or talks to: promtool (test/metrics.test.ts
// checks /metrics with Prometheus' own parser), haproxy (test/haproxy.test.ts), redis-server
// (test/cluster.test.ts), openssl (test/tls.test.ts), socat (test/unix-socket.test.ts:
// a client that is not Node) and Python's websockets (test/websocket-peers.test.ts: a
// WebSocket client nobody here wrote: a module of Debian's own /usr/bin/python3, found by
// importing it there, whatever python3 comes first on PATH). What is missing is installed from Debian's packages,
// saying so first; where that cannot be done here (not root, no apt-get) this exits at once with
// the one command that would fix it, instead of letting the suites fail one by one
// minutes later. Nothing is installed when everything is there (the usual case: no
// network, no apt, a second or so).
//
// promtool alone is taken out of Debian's prometheus package: installing the package
// would also set up (and on some machines start) a Prometheus server, which no test wants.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface Peer {
  /** The program, as the tests run it. */
  readonly name: string;
  /** Where the tests look for it, when not on PATH (haproxy lives in /usr/sbin). */
  readonly path?: string;
  /** The Debian package that holds it. */
  readonly pkg: string;
  /** Why the suite needs it: printed with what is installed. */
  readonly why: string;
  /** Install only this one binary out of the package (promtool), not the package. */
  readonly extract?: string;
  /** How to tell it is there when it is not a program on PATH (a Python module): a shell command that succeeds. */
  readonly probe?: string;
}

export const PEERS: readonly Peer[] = [
  { name: 'promtool', pkg: 'prometheus', extract: './usr/bin/promtool', why: 'checks /metrics (test/metrics.test.ts)' },
  { name: 'haproxy', path: '/usr/sbin/haproxy', pkg: 'haproxy', why: 'the PROXY protocol and load-balancer peer (test/haproxy.test.ts)' },
  { name: 'redis-server', pkg: 'redis-server', why: 'publish across hosts (test/cluster.test.ts)' },
  { name: 'openssl', pkg: 'openssl', why: 'a TLS peer that is not Node, and the test certificates (test/tls.test.ts)' },
  { name: 'socat', pkg: 'socat', why: 'a Unix-socket client that is not Node (test/unix-socket.test.ts)' },
  { name: 'python3 websockets', pkg: 'python3-websockets', probe: '/usr/bin/python3 -c "import websockets"', why: 'a WebSocket client that is not Node (test/websocket-peers.test.ts)' },
];

function present(p: Peer): boolean {
  if (p.path && existsSync(p.path)) return true;
  return spawnSync('sh', ['-c', p.probe ?? `command -v ${p.name}`], { stdio: 'ignore' }).status === 0;
}

/** Run a command quietly; its output is shown only when it fails. */
function run(cmd: string, args: string[], opts: { cwd?: string } = {}): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}${r.stderr}`);
}

/** The one command that installs what is missing, as a person would type it. */
export function fixCommand(missing: readonly Peer[]): string {
  const pkgs = missing.filter(p => !p.extract).map(p => p.pkg);
  const parts: string[] = ['apt-get update'];
  if (pkgs.length > 0) parts.push(`apt-get install -y ${pkgs.join(' ')}`);
  for (const p of missing.filter(m => m.extract)) {
    parts.push(`(cd /tmp && apt-get download ${p.pkg} && dpkg-deb --fsys-tarfile /tmp/${p.pkg}_*.deb | tar -x -O ${p.extract} > /usr/local/bin/${p.name} && chmod 755 /usr/local/bin/${p.name})`);
  }
  return `sudo sh -c '${parts.join(' && ')}'`;
}

function extract(p: Peer): void {
  const dir = mkdtempSync(join(tmpdir(), 'ringwire-peer-'));
  chmodSync(dir, 0o755); // apt-get downloads as its own user (_apt)
  try {
    run('apt-get', ['download', '-qq', p.pkg], { cwd: dir });
    const deb = readdirSync(dir).find(f => f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${p.pkg} left no .deb`);
    const tar = spawnSync('sh', ['-c', `dpkg-deb --fsys-tarfile '${join(dir, deb)}' | tar -x -O '${p.extract}'`], { maxBuffer: 512 << 20 });
    if (tar.status !== 0 || tar.stdout.length === 0) throw new Error(`could not extract ${p.extract} from ${deb}: ${tar.stderr}`);
    const to = `/usr/local/bin/${p.name}`;
    writeFileSync(to, tar.stdout);
    chmodSync(to, 0o755);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(): number {
  const missing = PEERS.filter(p => !present(p));
  if (missing.length === 0) return 0;
  const list = missing.map(p => `  ${p.name} (Debian's ${p.pkg}): ${p.why}`).join('\n');
  const canInstall = process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v apt-get && command -v dpkg-deb'], { stdio: 'ignore' }).status === 0;
  if (!canInstall) {
    console.error(`npm test needs these real peers, and cannot install them here (${process.getuid?.() === 0 ? 'no apt-get' : 'not root'}):\n${list}\n`
      + `Install them with:\n  ${fixCommand(missing)}\nthen run npm test again.`);
    return 1;
  }
  console.log(`npm test: installing the real peers its suites run against, from Debian's packages:\n${list}`);
  try {
    run('apt-get', ['update', '-qq']);
    const whole = missing.filter(p => !p.extract).map(p => p.pkg);
    if (whole.length > 0) run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...whole]);
    for (const p of missing.filter(m => m.extract)) extract(p);
  } catch (err) {
    console.error(`npm test: installing the peers failed: ${(err as Error).message}\nInstall them with:\n  ${fixCommand(missing)}`);
    return 1;
  }
  const still = PEERS.filter(p => !present(p));
  if (still.length > 0) {
    console.error(`npm test: still missing after the install: ${still.map(p => p.name).join(', ')}\nInstall them with:\n  ${fixCommand(still)}`);
    return 1;
  }
  console.log('npm test: peers installed.');
  return 0;
}

if (import.meta.main) process.exitCode = main();
