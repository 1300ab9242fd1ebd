// `ringwire bench`: parses the matrix options, runs the socket scenarios and the
// core microbenchmarks, prints the tables, writes the JSON and HTML report.
// Exit status: 0 when every sample verified, 1 when any failed, 2 on bad options.

import { parseArgs } from 'node:util';
import { configError } from '../index.ts';
import { joinNegativeValues, parseBytes, parseCount, parseDuration } from '../units.ts';
import { writeReport, type BenchReport } from './bench-report.ts';
import { BASELINE, BUILTIN, external, type Contender, type Scenario } from './contenders.ts';
import { runCoreBench } from './core-bench.ts';
import { frameTape } from './frame-tape.ts';
import { machine } from './machine.ts';
import { Progress } from './progress.ts';
import { summarize } from './results.ts';
import { runMatrix } from './runner.ts';
import { microTable, overviewTable, scenarioTable, type TableStyle } from './text-table.ts';

export const BENCH_HELP = `ringwire bench — ringwire (WASM core, JS core) against plain Node echo servers

Usage:
  ringwire bench [options]          the full matrix (about 20 minutes on 2 cores)
  ringwire bench --quick            a small matrix, about a minute

Each server runs in its own process and a load generator in another; every
echoed byte is compared with what was sent, and a run with any mismatch, short
read or error is reported as failed, not as a number. Rounds alternate between
contenders (A B C A B C ...); tables show medians with min–max.

Matrix:
  --connections <list>      concurrent connections (default 1,50,500)
  --frame-sizes <list>      bytes per frame on the wire, k suffix allowed (default 64,1k,16k)
  --depth <list>            frames in flight per connection: 1 = request/response (default 1,32)
  --framing <spec>          ringwire's framing, as for serve (default length:4:be); plain
                            and external servers echo raw bytes, which returns the same frames
  --duration <time>         measured time per sample (default 3s)
  --warmup <time>           load before measuring (default 1s)
  --rounds <n>              rounds per scenario (default 3)
Contenders:
  --contenders <list>       from ringwire-wasm, ringwire-js, node-data, node-onread (default: all)
  --external <name=cmd>     also run this server; {port} in cmd is replaced by its port, and it
                            must echo every byte on 127.0.0.1 (repeatable), e.g. the C
                            epoll server that ships with ringwire, compiled from its source:
                              cc -O2 -o epoll-echo node_modules/ringwire/bench/epoll-echo.c
                              (in a clone of ringwire: bench/epoll-echo.c)
                              --external "c-epoll=./epoll-echo {port}"
                            CPU and memory are the started process's own: a server that
                            forks per connection is under-counted
  --baseline <name>         ratios are against this contender (default node-data)
  --generators <n>          load generator processes, connections split between them (default 1)
Suites and output:
  --suite <list>            sockets, micro or both (default sockets,micro)
  --micro-duration <time>   time per core microbenchmark measurement (default 200ms)
  --quick                   50 connections, 64 B and 16 KiB, depth 1 and 32, 1s x 2 rounds,
                            short microbenchmarks; options given explicitly still apply
  --out <dir>               where the JSON and HTML reports go (default bench-results)
  --markdown                print the tables as Markdown (for a README)
  -h, --help                this text
`;

const list = (text: string) => text.split(',').map(s => s.trim()).filter(Boolean);

export interface BenchPlan {
  scenarios: Scenario[];
  contenders: Contender[];
  baseline: string;
  rounds: number;
  duration: number;
  warmup: number;
  generators: number;
  suites: Set<'sockets' | 'micro'>;
  micro: { framings: string[]; frameSizes: number[]; duration: number; repeats: number };
  out: string;
  style: TableStyle;
}

/** The plan a command line asks for; throws ERR_BAD_CONFIG on anything invalid. */
export function benchPlan(args: string[]): BenchPlan | 'help' {
  const { values } = parseArgs({
    args: joinNegativeValues(args),
    strict: true,
    options: {
      connections: { type: 'string' },
      'frame-sizes': { type: 'string' },
      depth: { type: 'string' },
      framing: { type: 'string', default: 'length:4:be' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      contenders: { type: 'string' },
      external: { type: 'string', multiple: true, default: [] },
      baseline: { type: 'string', default: BASELINE },
      generators: { type: 'string', default: '1' },
      suite: { type: 'string', default: 'sockets,micro' },
      'micro-duration': { type: 'string' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string', default: 'bench-results' },
      markdown: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const q = values.quick;
  const connections = list(values.connections ?? (q ? '50' : '1,50,500')).map(t => parseCount('connections', t));
  const frameSizes = list(values['frame-sizes'] ?? (q ? '64,16k' : '64,1k,16k')).map(t => parseBytes('frame-sizes', t));
  const depths = list(values.depth ?? '1,32').map(t => parseCount('depth', t));
  const framing = values.framing;
  for (const size of frameSizes) frameTape(framing, size, 1); // every size must make a frame of this framing
  const known = new Map(BUILTIN.map(c => [c.name, c]));
  const contenders = list(values.contenders ?? BUILTIN.map(c => c.name).join(',')).map(name => {
    const c = known.get(name);
    if (!c) throw configError(`--contenders: unknown "${name}"; choose from ${[...known.keys()].join(', ')} or add --external`);
    return c;
  });
  contenders.push(...values.external.map(external));
  if (new Set(contenders.map(c => c.name)).size !== contenders.length) throw configError('contender names must be different');
  if (!contenders.some(c => c.name === values.baseline)) {
    throw configError(`--baseline ${values.baseline} is not among the contenders (${contenders.map(c => c.name).join(', ')})`);
  }
  const suites = new Set(list(values.suite).map(s => {
    if (s !== 'sockets' && s !== 'micro') throw configError(`--suite takes sockets and/or micro, got "${s}"`);
    return s;
  }));
  const scenarios: Scenario[] = [];
  for (const c of connections) for (const frameBytes of frameSizes) for (const depth of depths) {
    scenarios.push({ connections: c, frameBytes, depth, framing });
  }
  return {
    scenarios,
    contenders,
    baseline: values.baseline,
    rounds: parseCount('rounds', values.rounds ?? (q ? '2' : '3')),
    duration: parseDuration('duration', values.duration ?? (q ? '1s' : '3s')),
    warmup: parseDuration('warmup', values.warmup ?? (q ? '300ms' : '1s')),
    generators: parseCount('generators', values.generators),
    suites,
    micro: {
      framings: ['raw', 'length:4:be', 'varint', 'line', 'delimiter:\\r\\n', 'fixed'],
      frameSizes,
      duration: parseDuration('micro-duration', values['micro-duration'] ?? (q ? '100ms' : '200ms')),
      repeats: 3,
    },
    out: values.out,
    style: values.markdown ? 'markdown' : 'text',
  };
}

export async function runBench(plan: BenchPlan, command: string, progress = new Progress()): Promise<BenchReport> {
  const m = machine();
  const samples = plan.suites.has('sockets')
    ? await runMatrix({
      scenarios: plan.scenarios,
      contenders: plan.contenders,
      rounds: plan.rounds,
      duration: plan.duration,
      warmup: plan.warmup,
      generators: plan.generators,
      onStart: (done, total, what) => progress.start(done, total, what),
      onSample: (done, total, s) => progress.sample(done, total, s),
    })
    : [];
  const micro = plan.suites.has('micro')
    ? await runCoreBench({ ...plan.micro, onProgress: what => progress.note(what) })
    : null;
  progress.done();
  const names = plan.contenders.map(c => c.name);
  return {
    format: 'ringwire-bench/1',
    settings: {
      scenarios: plan.scenarios,
      contenders: names,
      baseline: plan.baseline,
      rounds: plan.rounds,
      duration: plan.duration,
      warmup: plan.warmup,
      generators: plan.generators,
      command,
    },
    machine: m,
    summaries: summarize(samples, names, plan.baseline),
    samples,
    micro,
    ok: samples.every(s => !s.failure),
  };
}

export async function benchCommand(args: string[]): Promise<number> {
  const plan = benchPlan(args);
  if (plan === 'help') {
    process.stdout.write(BENCH_HELP);
    return 0;
  }
  // Ctrl-C stops the run; process.exit runs the runner's exit hook, which kills
  // the servers and generators it started.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nringwire bench: ${signal}, stopping\n`);
      process.exit(130);
    });
  }
  const command = ['ringwire', 'bench', ...args].map(a => (/^[\w.,:=/-]+$/.test(a) ? a : `'${a}'`)).join(' ');
  const report = await runBench(plan, command);
  const m = report.machine;
  const print = (s: string) => process.stdout.write(`${s}\n`);
  print(`ringwire bench · Node ${m.node} · ${m.cpuModel} × ${m.cores} · ${m.platform} ${m.kernel}`);
  print(`${plan.rounds} rounds × ${plan.duration / 1000} s per contender and scenario; medians, min–max over rounds; baseline ${plan.baseline}.`);
  print('Servers and the load generator share this machine: "gen cores" is how much CPU the generator used.\n');
  for (const s of report.summaries) print(`${scenarioTable(s, plan.style)}\n`);
  if (report.summaries.length > 1) {
    print(`Overview: each contender against ${plan.baseline} (frames/s: higher is better; CPU per frame: lower is better)\n`);
    print(`${overviewTable(report.summaries, report.settings.contenders, plan.baseline, plan.style)}\n`);
  }
  if (report.micro) print(`Core microbenchmarks (decode + echo of whole frames in the rx ring, no sockets)\n\n${microTable(report.micro, plan.style)}\n`);
  const stamp = m.date.replace(/[:.]/g, '-');
  const files = writeReport(report, plan.out, `ringwire-bench-${stamp}`);
  print(`Report: ${files.html}\nData:   ${files.json}`);
  if (!report.ok) print('Some runs FAILED verification: their figures are left out (see above).');
  return report.ok ? 0 : 1;
}
