// Renders a benchmark report in headless Chromium (Debian's `chromium`) and checks
// what the browser built, not just the text we wrote: every chart an SVG element
// with bars and more than one category, every table, no "NaN", the verification
// line, and at 1400, 1024 and 768 px nothing wider than the window (no sideways
// scrolling of the page or of a table). Also saves a screenshot at each width for
// a person to look at.
//   node scripts/check-report.ts [report.html]    (default: a fresh tiny bench run)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
const run = (extra: string[], page = url) => execFileSync(chromium, [...flags, ...extra, page], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });

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
// A chart of one category is one group of bars that only the legend explains.
const categories = [...dom.matchAll(/<svg [^>]*data-categories="(\d+)"/g)].map(m => Number(m[1]));
if (categories.length !== svgs) problems.push(`${svgs - categories.length} of ${svgs} charts do not say their categories`);
const single = categories.filter(n => n < 2).length;
if (single) problems.push(`${single} chart(s) with a single category`);

// The layout, measured by the browser: a copy of the report with a script that,
// once the page is laid out, writes into it what is wider than the window or
// scrolls sideways (the report itself has no script).
const PROBE = `<script>addEventListener('load', () => {
  const width = document.documentElement.clientWidth;
  const found = [];
  if (document.documentElement.scrollWidth > width) found.push('the page is ' + document.documentElement.scrollWidth + ' px wide');
  for (const el of document.querySelectorAll('body *')) {
    const what = el.tagName.toLowerCase() + (el.getAttribute('class') ? '.' + el.getAttribute('class') : '') + ' (' + (el.getAttribute('aria-label') || el.textContent.trim().slice(0, 40)) + ')';
    if (getComputedStyle(el).overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1) found.push(what + ' scrolls: ' + el.scrollWidth + ' px in ' + el.clientWidth);
    else if (el.getBoundingClientRect().right > width + 0.5) found.push(what + ' ends at ' + Math.round(el.getBoundingClientRect().right) + ' px');
  }
  const out = document.createElement('pre');
  out.id = 'layout';
  out.textContent = JSON.stringify(found);
  document.body.append(out);
});</script>`;
const probed = path.join(path.dirname(html), 'report-layout-probe.html');
writeFileSync(probed, readFileSync(html, 'utf8').replace('</body>', `${PROBE}</body>`));
const shots: string[] = [];
for (const width of [1400, 1024, 768]) {
  const probe = /<pre id="layout">(.*?)<\/pre>/.exec(run([`--window-size=${width},900`, '--dump-dom'], `file://${probed}`));
  if (!probe) problems.push(`${width} px: the layout probe did not run`);
  const found = probe ? (JSON.parse(probe[1]!.replaceAll('&amp;', '&')) as string[]) : [];
  if (found.length) problems.push(`${width} px: ${found.length} element(s) wider than the window: ${found.slice(0, 5).join('; ')}`);
  const shot = path.join(path.dirname(html), `report-${width}.png`);
  run([`--window-size=${width},2400`, `--screenshot=${shot}`]);
  shots.push(shot);
}
if (problems.length) {
  console.error(`check-report: ${url}\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`check-report: ${url} rendered in ${chromium}: ${svgs} charts (${Math.min(...categories)}+ categories each), ${bars} bars, ${tables} tables, nothing wider than 1400, 1024 or 768 px; screenshots ${shots.join(', ')}`);
