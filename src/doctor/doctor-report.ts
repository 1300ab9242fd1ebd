// How `ringwire doctor` prints its findings: a table (status, setting, current
// value, what this configuration needs, the command that changes it, source
// number) with long cells wrapped, then the reason for every row that is not
// simply fine, then the numbered sources. --json prints the same as one object.

import { bytes, type Finding, type Status } from './finding.ts';
import type { Plan } from './plan.ts';
import type { Source } from './sources.ts';

const MARK: Record<Status, string> = { ok: 'ok', limit: 'LIMIT', advice: 'advice', info: 'info', unknown: '?' };

/** Split text into lines of at most width characters, at spaces where possible. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = '';
    }
    line = line ? `${line} ${word}` : word;
    while (line.length > width) {
      lines.push(line.slice(0, width));
      line = line.slice(width);
    }
  }
  return [...lines, line];
}

function table(headers: string[], rows: string[][], widths: number[]): string {
  const cols = headers.map((h, i) => Math.min(widths[i]!, Math.max(h.length, ...rows.map(r => r[i]!.length))));
  const render = (cells: string[]) => {
    const wrapped = cells.map((c, i) => wrap(c, cols[i]!));
    const height = Math.max(...wrapped.map(w => w.length));
    return Array.from({ length: height }, (_, l) => wrapped.map((w, i) => (w[l] ?? '').padEnd(cols[i]!)).join('  ').trimEnd()).join('\n');
  };
  return [render(headers), cols.map(w => '-'.repeat(w)).join('  '), ...rows.map(render)].join('\n');
}

export function describePlan(plan: Plan): string {
  const c = plan.config;
  return `framing ${c.framingText}, ${c.maxConnections} connections × ${plan.workers} thread${plan.workers > 1 ? 's' : ''}, `
    + `max frame ${bytes(c.maxFrame)}, rings ${bytes(c.rxSize)} rx + ${bytes(c.txSize)} tx, backlog ${plan.backlog}, `
    + `memory ${bytes(plan.memory)} at most`;
}

export function renderText(plan: Plan, findings: Finding[], root: string): string {
  const sources: Source[] = [];
  const ref = (s: Source) => {
    const at = sources.indexOf(s);
    return `[${(at < 0 ? sources.push(s) : at + 1)}]`;
  };
  const rows = findings.map(f => [MARK[f.status], f.setting, f.current, f.needed, f.command ?? '', ref(f.source)]);
  const out = [
    `ringwire doctor · Node ${process.versions.node} · ${root === '/' ? 'this machine' : `files under ${root}`}`,
    `configuration: ${describePlan(plan)}`,
    '',
    table(['', 'setting', 'current', 'needed by this configuration', 'command that changes it', 'src'], rows, [6, 31, 28, 30, 30, 4]),
    '',
  ];
  const notable = findings.filter(f => f.status !== 'ok' && f.status !== 'info');
  if (notable.length) {
    out.push('Why:');
    for (const f of notable) out.push(...wrap(`${MARK[f.status]} ${f.setting}: ${f.why}. ${ref(f.source)}`, 100).map((l, i) => (i ? `    ${l}` : `  ${l}`)));
    out.push('');
  }
  const limits = findings.filter(f => f.status === 'limit').length;
  out.push(limits
    ? `${limits} setting${limits > 1 ? 's limit' : ' limits'} this configuration (exit status 1); ringwire doctor --apply (as root) raises the sysctls among them.`
    : 'Nothing limits this configuration.');
  out.push('Every setting is explained in docs/tuning-and-profiling.md.', '', 'Sources:');
  sources.forEach((s, i) => out.push(`  [${i + 1}] ${s.title}: ${s.url}`));
  return `${out.join('\n')}\n`;
}

export function renderJson(plan: Plan, findings: Finding[], root: string): string {
  const c = plan.config;
  return `${JSON.stringify({
    node: process.versions.node,
    root,
    configuration: {
      framing: c.framingText, maxConnections: c.maxConnections, maxFrame: c.maxFrame, rxRing: c.rxSize, txRing: c.txSize,
      workers: plan.workers, backlog: plan.backlog, connections: plan.connections, descriptors: plan.descriptors,
      memoryPerThread: plan.budget, memory: plan.memory,
    },
    limits: findings.filter(f => f.status === 'limit').length,
    findings,
  }, null, 2)}\n`;
}
