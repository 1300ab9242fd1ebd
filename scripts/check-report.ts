// Renders a benchmark report in headless Chromium (Debian's `chromium`) and checks
// what the browser built, not just the text we wrote: every chart an SVG element
// with bars, every table, no "NaN", the verification line. Also saves a
// screenshot for a person to look at.
//   node scripts/check-report.ts [report.html]    (default: a fresh tiny bench run)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const chromium = ['chromium', 'chromium-browser', 'google-chrome'].find(c => spawnSync(c, ['--version']).status === 0);
if (!chromium) {
  console.error('check-report: no chromium on PATH (Debian: apt-get install chromium)');
  process.exit(1);
}

let html = process.argv[2];
if (!html) {
  const out = mkdtempSync(path.join(os.tmpdir(), 'ringwire-report-'));
  execFileSync(process.execPath, [
    'dist/cli.js', 'bench', '--connections', '2', '--frame-sizes', '64,1k', '--depth', '1,4', '--duration', '300ms',
    '--warmup', '100ms', '--rounds', '2', '--micro-duration', '5ms', '--out', out,
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  html = path.join(out, readdirSync(out).find(f => f.endsWith('.html'))!);
}
const url = `file://${path.resolve(html)}`;
const flags = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', `--user-data-dir=${mkdtempSync(path.join(os.tmpdir(), 'chromium-'))}`,
];
const run = (extra: string[]) => execFileSync(chromium, [...flags, ...extra, url], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });

const dom = run(['--dump-dom']);
const problems: string[] = [];
const count = (re: RegExp) => (dom.match(re) ?? []).length;
const svgs = count(/<svg /g);
const bars = count(/<rect [^>]*><title>/g);
const tables = count(/<table>/g);
if (svgs < 3) problems.push(`only ${svgs} charts rendered`);
if (bars < svgs) problems.push(`only ${bars} bars in ${svgs} charts`);
if (tables < 2) problems.push(`only ${tables} tables`);
if (/NaN|undefined/.test(dom)) problems.push('NaN or undefined in the page');
if (!/Every sample verified|Failed runs/.test(dom)) problems.push('no verification line');
const shot = path.join(path.dirname(html), 'report.png');
run(['--window-size=1320,2400', `--screenshot=${shot}`]);
if (problems.length) {
  console.error(`check-report: ${url}\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`check-report: ${url} rendered in ${chromium}: ${svgs} charts, ${bars} bars, ${tables} tables; screenshot ${shot}`);
