// Reading a Prometheus exposition in the tests: promtool (Prometheus' own Go
// parser and linter, from Debian's `prometheus` package: npm test installs it, scripts/test-peers.ts)
// decides whether the text is valid; read() then takes the values out of the
// text promtool accepted, to compare them with stats() and the load sent.
import { spawnSync } from 'node:child_process';
import http from 'node:http';

/** promtool on PATH, or a loud failure saying how to get it: never a silent skip. */
export function promtool(): string {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error('promtool (Prometheus\' parser and linter) is not installed, so /metrics cannot be checked. '
      + 'npm test installs it: scripts/test-peers.ts from Debian\'s prometheus package (apt-get download prometheus, then only usr/bin/promtool is extracted); '
      + 'see docs/tests.md.');
  }
  return 'promtool';
}

/** `promtool check metrics` on the text: its complaints (empty when it is valid and lint-clean) and its exit status. */
export function checkMetrics(text: string): { status: number | null; output: string } {
  const r = spawnSync(promtool(), ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const unescape = (v: string) => v.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));

/**
 * Samples by `name{label="value",...}` with labels sorted, values as numbers.
 * Throws on a sample seen twice (a duplicate series, which promtool 2.42 lets pass).
 */
export function read(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels = [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => `${k}=${JSON.stringify(unescape(v!))}`).sort();
    const key = labels.length ? `${m[1]}{${labels.join(',')}}` : m[1]!;
    if (samples.has(key)) throw new Error(`duplicate series ${key}`);
    samples.set(key, Number(m[3]));
  }
  return samples;
}

/** The key read() gives a sample: sample('x_total', { worker: '0' }) is 'x_total{worker="0"}'. */
export function sample(name: string, labels: Record<string, string> = {}): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).sort();
  return pairs.length ? `${name}{${pairs.join(',')}}` : name;
}

/** Sum of every sample of a family whose labels include `where`. */
export function sum(samples: Map<string, number>, name: string, where: Record<string, string> = {}): number {
  const wanted = Object.entries(where).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  let total = 0;
  for (const [key, v] of samples) {
    const at = key.indexOf('{');
    if ((at < 0 ? key : key.slice(0, at)) !== name) continue;
    if (wanted.every(w => key.includes(w))) total += v;
  }
  return total;
}

/** GET a URL on this machine: status, content type and body. */
export function scrape(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, res => {
      let body = '';
      res.setEncoding('utf8').on('data', d => (body += d)).on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject).setTimeout(10_000, () => req.destroy(new Error(`scrape ${url} timed out`)));
  });
}
