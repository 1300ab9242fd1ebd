// `ringwire profile-report FILE.cpuprofile|DIR …`: for each V8 CPU profile (one
// per thread from `serve --profile`), where the busy time went by part of the
// pipeline (Node internals, ringwire host, WASM core, user handler, other) and
// the top functions by self time. Idle time is shown apart: it is not a cost.
// docs/tuning-and-profiling.md explains how to read it.

import { readdirSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { configError } from '../core/errors.ts';
import { parseCount } from '../units.ts';
import { readProfile, summarize, type ProfileSummary } from './cpu-profile.ts';
import { classifier, GROUP_TITLES, type Group } from './frame-groups.ts';

export const PROFILE_REPORT_HELP = `ringwire profile-report — where a server's CPU time went, by part of the pipeline

Usage:
  ringwire profile-report <file.cpuprofile | dir> ...   (dir: every .cpuprofile in it)

Options:
  --top <n>      functions to list by self time (default 15)
  --json         one JSON array, an entry per profile
  -h, --help     this text

Profiles come from ringwire serve --profile <dir> (one per thread) or node --cpu-prof.
Groups: Node internals, ringwire host code, WASM core, user handler (any code
outside ringwire), other (GC, V8); idle time is listed apart.
`;

const GROUPS: Group[] = ['node', 'ringwire', 'wasm', 'handler', 'other'];

/** --cpu-prof names its files CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile. */
export function threadOf(file: string): { pid: number; thread: number } | undefined {
  const m = /^CPU\.\d+\.\d+\.(\d+)\.(\d+)\.\d+\.cpuprofile$/.exec(basename(file));
  return m ? { pid: Number(m[1]), thread: Number(m[2]) } : undefined;
}

/**
 * In the order of their process and thread (main thread first), then by name: the names
 * begin with the time each thread ended and wrote its profile, which varies from run to run.
 */
export function byThread(files: string[]): string[] {
  const key = (f: string) => threadOf(f) ?? { pid: Infinity, thread: Infinity };
  return [...files].sort((a, b) => key(a).pid - key(b).pid || key(a).thread - key(b).thread || (a < b ? -1 : a > b ? 1 : 0));
}

function profileFiles(paths: string[]): string[] {
  return paths.flatMap(p => {
    if (!statSync(p, { throwIfNoEntry: false })) throw configError(`no such file or directory: ${p}`);
    if (!statSync(p).isDirectory()) return [p];
    const found = byThread(readdirSync(p).filter(f => f.endsWith('.cpuprofile'))).map(f => join(p, f));
    if (found.length === 0) throw configError(`no .cpuprofile files in ${p}`);
    return found;
  });
}

const ms = (us: number) => (us / 1000).toFixed(1);
const pct = (part: number, whole: number) => (whole > 0 ? `${((100 * part) / whole).toFixed(part * 10 >= whole ? 0 : 1)}%` : '-');

function where(url: string, line: number): string {
  if (url === '') return '(native)';
  if (url.startsWith('file:')) return `${relative(process.cwd(), fileURLToPath(url))}:${line}`;
  return url.startsWith('wasm://') ? url : `${url}:${line}`;
}

function columns(rows: string[][], right: number[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map(r => r[i]!.length)));
  return rows.map(r => r.map((c, i) => (right.includes(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

export function renderSummary(file: string, s: ProfileSummary, top: number): string {
  const busy = s.total - s.byGroup.idle;
  const t = threadOf(file);
  const who = t ? `pid ${t.pid}, thread ${t.thread}${t.thread === 0 ? ' (main)' : ' (a worker)'}, ` : '';
  const groups = columns([
    ['where the busy time went', 'self ms', '% busy'],
    ...GROUPS.map(g => [GROUP_TITLES[g], ms(s.byGroup[g]), pct(s.byGroup[g], busy)]),
    [GROUP_TITLES.idle, ms(s.byGroup.idle), '(not busy)'],
  ], [1, 2]);
  const functions = columns([
    [`top ${top} functions by self time`, 'self ms', '% busy', 'group', 'where'],
    ...s.functions.filter(f => f.group !== 'idle').slice(0, top).map(f => [f.name, ms(f.self), pct(f.self, busy), f.group, where(f.url, f.line)]),
  ], [1, 2]);
  return `${basename(file)}: ${who}${(s.total / 1e6).toFixed(2)} s profiled, ${(busy / 1e6).toFixed(2)} s busy, ${s.samples} samples\n\n${groups}\n\n${functions}\n`;
}

export async function profileReportCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      top: { type: 'string', default: '15' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(PROFILE_REPORT_HELP);
    return 0;
  }
  if (positionals.length === 0) throw configError('give a .cpuprofile file or a directory of them; try ringwire profile-report --help');
  const top = parseCount('top', values.top);
  const classify = classifier();
  const reports = profileFiles(positionals).map(file => {
    try {
      return { file, summary: summarize(readProfile(file), classify) };
    } catch (err) {
      throw configError(`cannot read ${file}: ${(err as Error).message}`);
    }
  });
  if (values.json) {
    const out = reports.map(({ file, summary: s }) => ({
      file, ...threadOf(file), total: s.total, busy: s.total - s.byGroup.idle, samples: s.samples, byGroup: s.byGroup,
      top: s.functions.filter(f => f.group !== 'idle').slice(0, top),
    }));
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    process.stdout.write(reports.map(r => renderSummary(r.file, r.summary, top)).join('\n'));
  }
  return 0;
}
