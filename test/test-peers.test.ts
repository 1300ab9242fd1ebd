// npm test's first step, scripts/test-peers.ts, where it cannot install what is
// missing: run with a PATH that holds no peer, as root without apt-get, and as a user
// who is not root with apt-get and dpkg-deb at hand. It must stop at once (exit 1,
// nothing tried), name every missing peer and why, and print the one command that
// would fix it. The install itself is what a fresh machine exercises (`npm install &&
// npm test`).
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixCommand, PEERS } from '../scripts/test-peers.ts';

/** A directory for PATH holding node, sh and these programs (symbolic links), nothing else. */
function pathWith(programs: string[]): string {
  const bin = mkdtempSync(join(tmpdir(), 'ringwire-peers-path-'));
  chmodSync(bin, 0o755); // nobody runs node through it too
  symlinkSync(process.execPath, join(bin, 'node'));
  for (const p of ['sh', ...programs]) symlinkSync(spawnSync('sh', ['-c', `command -v ${p}`], { encoding: 'utf8' }).stdout.trim(), join(bin, p));
  return bin;
}
const bare = pathWith([]);
const withApt = pathWith(['apt-get', 'dpkg-deb']);
afterAll(() => {
  for (const bin of [bare, withApt]) rmSync(bin, { recursive: true, force: true });
});

/** The script with only `bin` on PATH, as this user or (root only) as nobody. */
function runPeers(bin: string, asNobody: boolean) {
  const script = join(process.cwd(), 'scripts/test-peers.ts');
  const command = asNobody ? ['/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', join(bin, 'node'), script] : [join(bin, 'node'), script];
  return spawnSync(command[0]!, command.slice(1), { encoding: 'utf8', env: { PATH: bin }, timeout: 20_000 });
}

// Found without PATH: a peer the tests look for at a fixed path (haproxy in /usr/sbin), or
// one whose probe names its program's own path (Debian's /usr/bin/python3 and its module).
const foundWithout = (p: (typeof PEERS)[number]) => (p.path !== undefined && existsSync(p.path))
  || (p.probe !== undefined && spawnSync('/bin/sh', ['-c', p.probe], { env: { PATH: bare }, stdio: 'ignore' }).status === 0);
const missing = PEERS.filter(p => !foundWithout(p));
const root = process.getuid?.() === 0;

describe('npm test where its peers cannot be installed', () => {
  const cases: [string, string, boolean, string][] = root
    ? [['root', 'no apt-get', false, bare], ['nobody', 'apt-get at hand', true, withApt]]
    : [['this user', 'apt-get at hand', false, withApt]];
  it.each(cases)('as %s, %s: exits 1 at once, nothing tried, naming each missing peer and the one command that installs them', (_who, _path, asNobody, bin) => {
    const why = bin === bare ? 'no apt-get' : 'not root';
    const r = runPeers(bin, asNobody);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe(''); // nothing said about installing: nothing was tried
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toBe(`npm test needs these real peers, and cannot install them here (${why}):`);
    expect(lines.slice(1, 1 + missing.length)).toEqual(missing.map(p => `  ${p.name} (Debian's ${p.pkg}): ${p.why}`));
    expect(lines.slice(1 + missing.length)).toEqual(['Install them with:', `  ${fixCommand(missing)}`, 'then run npm test again.']);
  });

  it('the command installs the whole packages and extracts promtool alone', () => {
    const promtool = PEERS.find(p => p.name === 'promtool')!;
    const socat = PEERS.find(p => p.name === 'socat')!;
    expect(fixCommand([promtool, socat])).toBe("sudo sh -c 'apt-get update && apt-get install -y socat && (cd /tmp && apt-get download prometheus && "
      + "dpkg-deb --fsys-tarfile /tmp/prometheus_*.deb | tar -x -O ./usr/bin/promtool > /usr/local/bin/promtool && chmod 755 /usr/local/bin/promtool)'");
  });
});
