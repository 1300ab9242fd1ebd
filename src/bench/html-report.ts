// The benchmark report as one self-contained HTML page: inline CSS and SVG, no
// script and nothing fetched, so it renders offline and can be mailed or archived.
// Sections: the machine and settings, whether every byte verified, overview
// charts (per socket suite, each contender against the suite's baseline, per
// scenario, when the suite has more than one scenario), one section per scenario
// (frames/s per contender, latency, the table as two: throughput and latency, the
// server's cost), and the core microbenchmarks. It reads at 768 px and up without
// scrolling sideways: charts scale down, tables sit side by side only where there is room.

import type { BenchReport } from './bench-report.ts';
import { frameSize, mib } from './format.ts';
import { barChart, escapeXml, PALETTE } from './svg-chart.ts';
import {
  BROADCAST_HEADERS, broadcastRows, FANOUT_HEADERS, fanoutRows, GC_HEADERS, gcRows, MICRO_HEADERS, microRows, SCENARIO_HEADERS, scenarioRows, THREAD_HEADERS, threadRows,
} from './text-table.ts';
import { scenarioLabel } from './runner.ts';
import { bySuite, type ScenarioSummary } from './results.ts';

const CSS = `
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1320px; color: #1a202c; padding: 0 1rem; }
svg { max-width: 100%; height: auto; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.5rem; border-bottom: 1px solid #e2e8f0; } h3 { font-size: 1.05rem; }
table { border-collapse: collapse; font-size: 0.8rem; margin: 0.5rem 0 1rem; }
td, th { padding: 0.2rem 0.5rem; border-bottom: 1px solid #edf2f7; text-align: right; white-space: nowrap; }
th { white-space: normal; width: 1px; vertical-align: bottom; } /* headers wrap (see table()): a column is as wide as its figures */
td:first-child, th:first-child { text-align: left; }
th { background: #f7fafc; }
.ok { color: #276749; font-weight: 600; } .failed { color: #c53030; font-weight: 600; }
.note { color: #4a5568; font-size: 0.9rem; max-width: 60rem; }
.scroll { overflow-x: auto; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
.tables { display: flex; flex-wrap: wrap; gap: 0 2rem; align-items: flex-end; } /* side by side, rows level */
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; font-size: 0.9rem; }
dt { color: #4a5568; } dd { margin: 0; }
code { background: #f7fafc; padding: 0.1rem 0.3rem; }
`;

/** A header wraps at its last space only: "CPU vs base" in two lines, not three. */
const wrapOnce = (header: string) => header.replace(/ (?=.* )/g, '\u00a0');

function table(headers: string[], rows: string[][], leftColumns = 1): string {
  const cell = (tag: string, c: string, i: number, attributes = '') =>
    `<${tag}${attributes}${i < leftColumns ? ' style="text-align:left"' : ''}>${escapeXml(c)}</${tag}>`;
  return `<div class="scroll"><table><thead><tr>${headers.map((h, i) => cell('th', wrapOnce(h), i)).join('')}</tr></thead><tbody>${rows
    .map(r => `<tr>${r.map((c, i) => cell('td', c, i, r[1] === 'FAILED' && i === 1 ? ' class="failed"' : '')).join('')}</tr>`)
    .join('')}</tbody></table></div>`;
}

const short = (s: ScenarioSummary) =>
  `${s.scenario.wait ? `${s.scenario.wait} ` : ''}${s.scenario.connections}c ${frameSize(s.scenario.frameBytes)} d${s.scenario.depth}`;

/** Per socket suite of two scenarios or more: each contender against the suite's baseline, scenario by scenario. */
function overview(report: BenchReport): string {
  return bySuite(report.summaries, report.settings.contenders).filter(g => g.summaries.length > 1).map(({ suite, baseline: base, contenders: names, summaries: sums }) => {
    const seriesOf = (f: (c: ScenarioSummary['contenders'][number]) => number) =>
      names.map(name => ({ name, values: sums.map(s => { const c = s.contenders.find(x => x.contender === name); return c ? f(c) : NaN; }) }));
    // As wide as its bars need, so that a few scenarios do not scale down a wide chart in a narrow window.
    const width = Math.min(1060, Math.max(640, 100 + sums.length * (names.length * 14 + 24)));
    return [
      `<h3>${escapeXml(`${suite} suite, against ${base}`)}</h3>`,
      barChart({ title: `Frames per second relative to ${base} (higher is better)`, categories: sums.map(short), series: seriesOf(c => c.throughputRatio), unit: `× ${base}`, reference: 1, width, height: 340 }),
      barChart({ title: `Server CPU per frame relative to ${base} (lower is better)`, categories: sums.map(short), series: seriesOf(c => c.cpuRatio), unit: `× ${base}`, reference: 1, width, height: 340 }),
    ].join('\n');
  }).join('\n');
}

// The scenario table's 17 columns do not fit beside each other below about 1400
// px: throughput and latency in one table, the server's CPU in a second, its
// syscalls and memory in a third; each fits a 768 px window on its own.
const CPU = SCENARIO_HEADERS.indexOf('CPU/frame µs');
const SYSCALLS = SCENARIO_HEADERS.indexOf('writes/frame');
const GROUPS: [number, number][] = [[1, CPU], [CPU, SYSCALLS], [SYSCALLS, SCENARIO_HEADERS.length]];

function scenarioTables(s: ScenarioSummary): string {
  const rows = scenarioRows(s);
  const group = (r: string[], [from, to]: [number, number]) =>
    r[1] === 'FAILED' ? [r[0]!, 'FAILED', ...SCENARIO_HEADERS.slice(from + 1, to).map(() => '')] : [r[0]!, ...r.slice(from, to)];
  return `<div class="tables">${GROUPS.map(g => table(group(SCENARIO_HEADERS, g), rows.map(r => group(r, g)))).join('')}</div>`;
}

function scenarioSection(s: ScenarioSummary): string {
  const rows = s.contenders;
  // One bar per contender, in the colour its series has in the latency chart.
  const fps = barChart({
    title: 'Frames/s (median; whiskers: min–max)',
    categories: rows.map(c => c.contender),
    series: [{
      name: 'frames/s',
      values: rows.map(c => c.framesPerSecond.median),
      lows: rows.map(c => c.framesPerSecond.min),
      highs: rows.map(c => c.framesPerSecond.max),
      colors: rows.map((_, i) => PALETTE[i % PALETTE.length]!),
    }],
    unit: 'frames/s',
    width: 400,
    height: 260,
  });
  const latency = barChart({
    title: 'Round-trip latency per frame (median of rounds)',
    categories: ['p50', 'p99', 'p99.9', 'max'],
    series: rows.map(c => ({ name: c.contender, values: [c.p50.median, c.p99.median, c.p999.median, c.max.median] })),
    unit: 'µs',
    log: true,
    width: 540,
    height: 260,
  });
  const failures = rows.flatMap(c => c.failures.map(f => `<li class="failed">${escapeXml(`${c.contender} failed, ${f}`)}</li>`));
  const gc = gcRows([s]).map(r => r.slice(1)); // the scenario is this section's
  return `<h3>${escapeXml(`${scenarioLabel(s.scenario)} · framing ${s.scenario.framing}`)}</h3>
<div class="charts">${fps}${latency}</div>
${scenarioTables(s)}
${gc.length ? `<p class="note">JS heap allocated by the server per frame while measuring (--gc):</p>\n${table(GC_HEADERS.slice(1), gc)}` : ''}
${failures.length ? `<ul>${failures.join('')}</ul>` : ''}`;
}

function microSection(report: BenchReport): string {
  const m = report.micro;
  if (!m) return '';
  const keys = [...new Set(m.rows.map(r => `${r.framing} ${frameSize(r.frameBytes)}`))];
  const series = (['wasm', 'js', 'memcpy'] as const).map(subject => ({
    name: subject,
    values: keys.map(k => m.rows.find(r => r.subject === subject && `${r.framing} ${frameSize(r.frameBytes)}` === k)?.bytesPerSecond ?? NaN).map(v => v / 1e9),
  }));
  return `<h2>Core microbenchmarks (no sockets)</h2>
<p class="note">Decode and echo of a batch of whole frames (up to 32 KiB) already in the rx ring, one core call per batch, beside memcpy of the same bytes between two ordinary buffers. The echo has to copy every byte once, so memcpy is the physical limit.</p>
${barChart({ title: 'Decode + echo throughput', categories: keys, series, unit: 'GB/s', log: true, width: 1060, height: 360 })}
${table(MICRO_HEADERS, microRows(m), 2)}
<p>One empty call into the core: WASM ${m.boundary.wasm.toFixed(1)} ns, JS twin ${m.boundary.js.toFixed(1)} ns.</p>`;
}

function routingSection(report: BenchReport): string {
  const r = report.routing;
  if (!r) return '';
  const s = r.settings;
  return `<h2>Routing: fan-out and cross-thread delivery</h2>
<p class="note">${escapeXml(`Fan-out: 1 publisher, ${s.subscribers.join(' and ')} subscribers, messages of ${s.messageSizes.join(' and ')} B; every subscriber's bytes checked; client busy near 100%: the client set the pace. Median of ${s.rounds} rounds, contenders alternating; load average ${r.load.before.map(v => v.toFixed(2)).join(', ')} before.`)}</p>
${table(FANOUT_HEADERS, fanoutRows(r))}
<p class="note">${escapeXml(`Cross-thread delivery of ${s.messageBytes}-byte messages to a worker thread, every byte checked by the consumer.`)}</p>
${table(THREAD_HEADERS, threadRows(r))}
${r.failures.length ? `<ul>${r.failures.map(f => `<li class="failed">${escapeXml(f)}</li>`).join('')}</ul>` : ''}`;
}

function broadcastSection(report: BenchReport): string {
  const r = report.broadcast;
  if (!r) return '';
  const s = r.settings;
  return `<h2>WebSocket broadcast</h2>
<p class="note">${escapeXml(`1 publisher, ${s.subscribers} subscribers, ${s.messages} binary messages of ${s.messageBytes} B; every subscriber's bytes checked. Median of ${s.rounds} rounds, contenders alternating; load average ${r.load.before.map(v => v.toFixed(2)).join(', ')} before.`)}</p>
${table(BROADCAST_HEADERS, broadcastRows(r))}
${r.failures.length ? `<ul>${r.failures.map(f => `<li class="failed">${escapeXml(f)}</li>`).join('')}</ul>` : ''}`;
}

export function renderHtml(report: BenchReport): string {
  const overviews = overview(report);
  const m = report.machine;
  const st = report.settings;
  const failed = [
    ...report.summaries.flatMap(s => s.contenders.filter(c => c.failures.length).map(c => `${scenarioLabel(s.scenario)}: ${c.contender}`)),
    ...(report.routing?.failures ?? []),
    ...(report.broadcast?.failures ?? []),
  ];
  const facts: [string, string][] = [
    ['command', st.command],
    ['date', m.date],
    ['Node', `${m.node} (V8 ${m.v8})`],
    ['CPU', `${m.cpuModel}, ${m.cores} cores (${m.availableParallelism} available)`],
    ['memory', mib(m.memoryBytes)],
    ['kernel', `${m.platform} ${m.kernel} ${m.arch}`],
    ['load average at start', m.loadAverage.toFixed(2)],
    ['ringwire', `${m.ringwireVersion}${m.gitCommit ? `, commit ${m.gitCommit.slice(0, 12)}${m.gitDirty ? ' (modified)' : ''}` : ''}${m.wasmHash ? `, core.wasm ${m.wasmHash}` : ''}`],
    // The socket suites' settings: a run of other suites only (micro, routing) has none of theirs.
    ...(st.scenarios.length > 0 ? [
      ['rounds', `${st.rounds} × ${st.duration / 1000} s measured after ${st.warmup / 1000} s of warm-up, contenders alternating in each round`],
      ['load generator', `${st.generators} process(es), each echoed byte compared with what was sent`],
    ] as [string, string][] : []),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ringwire bench ${escapeXml(m.date)}</title><style>${CSS}</style></head>
<body>
<h1>ringwire benchmark</h1>
<p class="${report.ok ? 'ok' : 'failed'}">${report.ok
    ? `Every sample verified: every byte received equal to what was sent, no short read, no error.`
    : `Failed runs (reported without figures): ${escapeXml(failed.join('; ') || 'see the JSON')}`}</p>
<dl>${facts.map(([k, v]) => `<dt>${escapeXml(k)}</dt><dd>${escapeXml(v)}</dd>`).join('')}</dl>
<p class="note">Servers and load generators run in separate processes on the same machine. When they share few cores (the "gen cores" column says how much the generator used), a figure bounds the pair, not the server alone; the CPU per frame, read from the OS for the server process, is the figure that does not depend on the generator. Medians over rounds; ranges are min–max.</p>
${overviews ? `<h2>Overview</h2>\n${overviews}` : ''}
${report.summaries.length ? `<h2>Scenarios</h2>\n${report.summaries.map(scenarioSection).join('\n')}` : ''}
${microSection(report)}
${routingSection(report)}
${broadcastSection(report)}
</body></html>
`;
}
