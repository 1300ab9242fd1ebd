// The benchmark's tables as text: aligned columns for the terminal, or Markdown
// for a README. One table per scenario (every contender, medians over rounds with
// the frames/s range, and ratios to the baseline), one for the core microbenchmarks.

import { ASK_WINDOW, type RoutingResult } from './routing-bench.ts';
import type { MicroResult } from './core-bench.ts';
import { count, frameSize, mib, range, sig, times } from './format.ts';
import type { ScenarioSummary } from './results.ts';
import { scenarioLabel } from './runner.ts';
import type { BroadcastResult } from './websocket-broadcast.ts';

export type TableStyle = 'text' | 'markdown';

export function renderTable(headers: string[], rows: string[][], style: TableStyle, leftColumns = 1): string {
  if (style === 'markdown') {
    const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
    const rule = headers.map((_, i) => (i < leftColumns ? '---' : '---:'));
    return [line(headers), line(rule), ...rows.map(line)].join('\n');
  }
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map(r => r[i]!.length)));
  const pad = (cells: string[]) => cells.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [pad(headers), widths.map(w => '-'.repeat(w)).join('  '), ...rows.map(pad)].join('\n');
}

export const SCENARIO_HEADERS = [
  'contender', 'frames/s', 'min–max', 'vs base', 'MB/s', 'p50 µs', 'p99 µs', 'p99.9 µs', 'max µs',
  'CPU/frame µs', 'user+sys µs', 'CPU vs base', 'writes/frame', 'reads/frame', 'peak RSS', 'server cores', 'gen cores',
];

export function scenarioRows(s: ScenarioSummary): string[][] {
  return s.contenders.map(c => {
    const name = c.contender === s.baseline ? `${c.contender} (base)` : c.contender;
    if (c.failures.length) return [name, 'FAILED', ...SCENARIO_HEADERS.slice(2).map(() => '')];
    const us = (ns: number) => sig(ns / 1000);
    return [
      name,
      count(c.framesPerSecond.median),
      range(c.framesPerSecond.min, c.framesPerSecond.max, count),
      times(c.throughputRatio),
      sig(c.megabytesPerSecond.median),
      sig(c.p50.median),
      sig(c.p99.median),
      sig(c.p999.median),
      sig(c.max.median),
      us(c.cpuPerFrame.median),
      `${us(c.cpuUser.median)}+${us(c.cpuSystem.median)}`,
      times(c.cpuRatio),
      sig(c.writesPerFrame.median),
      sig(c.readsPerFrame.median),
      mib(c.serverPeakRss.median),
      sig(c.serverCores.median),
      sig(c.generatorCores.median),
    ];
  });
}

export function scenarioTable(s: ScenarioSummary, style: TableStyle = 'text'): string {
  const title = `${scenarioLabel(s.scenario)} · framing ${s.scenario.framing}`;
  const failures = s.contenders.flatMap(c => c.failures.map(f => `  ${c.contender} failed, ${f}`));
  const heading = style === 'markdown' ? `**${title}**` : title;
  return [heading, '', renderTable(SCENARIO_HEADERS, scenarioRows(s), style), ...failures].join('\n');
}

export const GC_HEADERS = ['scenario', 'contender', 'heap B/frame', 'min–max', 'GCs per 1M frames', 'GC ns/frame'];

/** With --gc: what each server allocated on its JS heap per frame, and the GCs that cost. */
export function gcRows(summaries: ScenarioSummary[]): string[][] {
  return summaries.flatMap(s => s.contenders.filter(c => c.heapPerFrame.n > 0).map(c => [
    scenarioLabel(s.scenario),
    c.contender,
    count(c.heapPerFrame.median),
    range(c.heapPerFrame.min, c.heapPerFrame.max, count),
    sig(c.gcsPerMillionFrames.median),
    sig(c.gcPausePerFrame.median),
  ]));
}

export function gcTable(summaries: ScenarioSummary[], style: TableStyle = 'text'): string {
  return renderTable(GC_HEADERS, gcRows(summaries), style, 2);
}

export const MICRO_HEADERS = ['framing', 'frame', 'wasm GB/s', 'js GB/s', 'memcpy GB/s', 'wasm / memcpy', 'js / memcpy', 'wasm / js'];

export function microRows(m: MicroResult): string[][] {
  const keys = [...new Set(m.rows.map(r => `${r.framing}\u0000${r.frameBytes}`))];
  return keys.map(k => {
    const rows = m.rows.filter(r => `${r.framing}\u0000${r.frameBytes}` === k);
    const of = (subject: string) => rows.find(r => r.subject === subject)!;
    const w = of('wasm'), j = of('js'), c = of('memcpy');
    return [
      w.framing, frameSize(w.frameBytes), sig(w.bytesPerSecond / 1e9), sig(j.bytesPerSecond / 1e9),
      sig(c.bytesPerSecond / 1e9), times(w.ofMemcpy), times(j.ofMemcpy), times(w.bytesPerSecond / j.bytesPerSecond),
    ];
  });
}

export const FANOUT_HEADERS = ['subscribers', 'message', 'messages a run', 'server', 'deliveries/s', 'min–max', 'vs plain-batched', 'server CPU ns/delivery', 'CPU vs plain-batched', 'client busy'];

export function fanoutRows(r: RoutingResult): string[][] {
  return r.fanout.map(row => [
    String(row.subscribers), `${row.messageBytes} B`, String(row.messages), row.contender, sig(row.deliveriesPerSecond.median),
    `${sig(row.deliveriesPerSecond.min)}–${sig(row.deliveriesPerSecond.max)}`, times(row.vsBatched),
    Number.isNaN(row.cpuPerDelivery.median) ? 'n/a' : sig(row.cpuPerDelivery.median), Number.isNaN(row.cpuVsBatched) ? 'n/a' : times(row.cpuVsBatched),
    `${Math.round(row.clientBusy * 100)}%`,
  ]);
}

export const THREAD_HEADERS = ['transport', 'messages/s', 'min–max', 'one-way p50 µs', 'p99 µs'];

export function threadRows(r: RoutingResult): string[][] {
  return r.threads.map(row => [
    row.transport, sig(row.messagesPerSecond.median), `${sig(row.messagesPerSecond.min)}–${sig(row.messagesPerSecond.max)}`, sig(row.p50), sig(row.p99),
  ]);
}

export const ASK_HEADERS = ['transport', 'answers/s', 'min–max', 'round trip p50 µs', 'p99 µs'];

export function askRows(r: RoutingResult): string[][] {
  return r.asks.map(row => [
    row.transport, sig(row.answersPerSecond.median), `${sig(row.answersPerSecond.min)}–${sig(row.answersPerSecond.max)}`, sig(row.p50), sig(row.p99),
  ]);
}

const loads = (l: number[]) => l.map(v => v.toFixed(2)).join(', ');

/** What `ringwire bench --suite routing` measured, with the machine's load. */
export function routingTable(r: RoutingResult, style: TableStyle = 'text'): string {
  const s = r.settings;
  return [
    `Fan-out: 1 publisher, ${s.subscribers.join(' and ')} subscribers, messages of ${s.messageSizes.join(' and ')} B (line framing); deliveries/s until every subscriber has every byte (checked), the server's CPU per delivery, and the share of a core the client used (near 100%: the client set the pace), median of ${s.rounds}`,
    '',
    renderTable(FANOUT_HEADERS, fanoutRows(r), style),
    '',
    `Cross-thread delivery: ${s.messageBytes} B messages, this thread to a worker thread (every byte checked); ${s.threadMessages} per throughput run, ${s.pings} ping-pongs for latency`,
    '',
    renderTable(THREAD_HEADERS, threadRows(r), style),
    '',
    `Request/response: ${s.messageBytes} B requests from this thread to a worker thread, echoed (every answer checked); ${s.threadMessages} per rate run with ${ASK_WINDOW} in flight, ${s.pings} round trips one at a time`,
    '',
    renderTable(ASK_HEADERS, askRows(r), style),
    '',
    `Load average (1, 5, 15 min): ${loads(r.load.before)} before, ${loads(r.load.after)} after.`,
    ...r.failures.map(f => `FAILED: ${f}`),
  ].join('\n');
}

export const BROADCAST_HEADERS = ['server', 'deliveries/s', 'min–max', 'vs ws', 'CPU/delivery ns', 'CPU vs ws'];

export function broadcastRows(r: BroadcastResult): string[][] {
  return r.rows.map(row => [
    row.contender, sig(row.deliveriesPerSecond.median), `${sig(row.deliveriesPerSecond.min)}–${sig(row.deliveriesPerSecond.max)}`,
    times(row.vsWs), sig(row.cpuPerDelivery.median), times(row.cpuVsWs),
  ]);
}

/** What the websocket suite's broadcast measured, with the machine's load. */
export function broadcastTable(r: BroadcastResult, style: TableStyle = 'text'): string {
  const s = r.settings;
  return [
    `WebSocket broadcast: 1 publisher, ${s.subscribers} subscribers, ${s.messages} binary messages of ${s.messageBytes} B; deliveries/s until every subscriber has every byte (checked), server CPU per delivery, median of ${s.rounds}`,
    '',
    renderTable(BROADCAST_HEADERS, broadcastRows(r), style),
    '',
    `Load average (1, 5, 15 min): ${loads(r.load.before)} before, ${loads(r.load.after)} after.`,
    ...r.failures.map(f => `FAILED: ${f}`),
  ].join('\n');
}

export function microTable(m: MicroResult, style: TableStyle = 'text'): string {
  return [
    renderTable(MICRO_HEADERS, microRows(m), style, 2),
    '',
    `One empty call into the core: wasm ${sig(m.boundary.wasm)} ns, js ${sig(m.boundary.js)} ns.`,
  ].join('\n');
}

/**
 * One row per scenario: the baseline's frames/s and CPU per frame, then every
 * other contender's ratios to them (frames/s up is better, CPU down is better),
 * then every contender's write syscalls per frame, in one column.
 */
export function overviewTable(summaries: ScenarioSummary[], contenders: string[], baseline: string, style: TableStyle = 'text'): string {
  const others = contenders.filter(c => c !== baseline);
  const headers = [
    'scenario', `${baseline} frames/s`, ...others.map(c => `${c} ×`), `${baseline} CPU/frame µs`, ...others.map(c => `${c} CPU ×`),
    `writes/frame (${contenders.join(' / ')})`,
  ];
  const rows = summaries.map(s => {
    const of = (name: string) => s.contenders.find(c => c.contender === name);
    const cell = (name: string, f: (c: NonNullable<ReturnType<typeof of>>) => string) => {
      const c = of(name);
      return !c ? '' : c.failures.length ? 'FAILED' : f(c);
    };
    return [
      scenarioLabel(s.scenario),
      cell(baseline, c => count(c.framesPerSecond.median)),
      ...others.map(n => cell(n, c => times(c.throughputRatio))),
      cell(baseline, c => sig(c.cpuPerFrame.median / 1000)),
      ...others.map(n => cell(n, c => times(c.cpuRatio))),
      contenders.map(n => cell(n, c => sig(c.writesPerFrame.median)) || '–').join(' / '),
    ];
  });
  return renderTable(headers, rows, style);
}
