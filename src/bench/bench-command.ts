// `ringwire bench`: parses the matrix options, runs the socket scenarios and the
// core microbenchmarks, prints the tables, writes the JSON and HTML report.
// Exit status: 0 when every sample verified, 1 when any failed, 2 on bad options.

import os from 'node:os';
import { parseArgs } from 'node:util';
import { configError } from '../index.ts';
import { joinNegativeValues, parseBytes, parseCount, parseDuration } from '../units.ts';
import { writeReport, type BenchReport } from './bench-report.ts';
import {
  BASELINES, BUILTIN, external, HANDLER_FRAMING, variant, SOCKET_SUITES, WAITS, type Contender, type Scenario, type SocketSuite, type Wait,
} from './contenders.ts';
import { runCoreBench } from './core-bench.ts';
import { runRoutingBench, type RoutingOptions } from './routing-bench.ts';
import { runBroadcastBench, type BroadcastOptions } from './websocket-broadcast.ts';
import { frameTape } from './frame-tape.ts';
import { machine } from './machine.ts';
import { Progress } from './progress.ts';
import { bySuite, summarize } from './results.ts';
import { runMatrix } from './runner.ts';
import { broadcastTable, gcTable, microTable, overviewTable, routingTable, scenarioTable, type TableStyle } from './text-table.ts';

export const BENCH_HELP = `ringwire bench — ringwire (WASM core, JS core) against plain Node servers

Usage:
  ringwire bench [options]          the echo matrix and the core microbenchmarks (about 20
                                    minutes on 2 cores)
  ringwire bench --suite handler,async
                                    ringwire with a frame handler (sync, async) against the
                                    same handler in a plain Node server (about 10 minutes)
  ringwire bench --suite pipelined  handlers that await I/O-like work (setImmediate, a 1 ms
                                    timer), a connection's frames in flight at once, against
                                    a plain Node server that overlaps them (about 7 minutes)
  ringwire bench --suite websocket  WebSocket: echo against a ws server, and a broadcast to
                                    1,000 subscribers (about 10 minutes)
  ringwire bench --quick            a small matrix, about a minute

Each server runs in its own process and a load generator in another; every
echoed byte is compared with what was sent, and a run with any mismatch, short
read or error is reported as failed, not as a number. Rounds alternate between
contenders (A B C A B C ...); tables show medians with min–max.

Suites:
  --suite <list>            any of echo, handler, async, pipelined, tls, websocket, micro, routing (default
                            echo,micro):
                              echo     the echo inside each server; baseline node-data
                              handler  the echo as a JS frame handler, onFrame(frame, c) {
                                       c.send(frame) }, length:4:be; baseline node-handler
                              async    the same handler awaiting a resolved promise before it
                                       sends; baseline node-async
                              pipelined
                                       the same handler awaiting setImmediate or a 1 ms timer
                                       (--wait) before it sends, length:4:be, 64 B frames;
                                       baseline node-pipelined, a plain Node server that
                                       starts each frame's handler as soon as the frame is
                                       whole and writes the replies in frame order, those
                                       ready in one event-loop turn in one writev
                              tls      the echo behind TLS (throwaway certificates made with
                                       openssl); baseline node-tls, a tls.createServer echo
                              websocket
                                       ringwire serve --framing websocket with an echo handler
                                       (each message back as what it is) against a ws
                                       WebSocketServer doing the same (perMessageDeflate off,
                                       bufferutil loaded; and without it), baseline ws: 50
                                       connections, 64 B and 16 KiB messages, depth 1 and
                                       16; the load upgrades (101 and
                                       Sec-WebSocket-Accept checked), sends masked binary
                                       frames and checks every byte of the unmasked echo.
                                       Then a broadcast: 1 publisher, --broadcast-subscribers
                                       subscribers, 64 B messages, ringwire (publish() to a
                                       topic, 1 and 2 workers) against ws sending each to
                                       every client; every subscriber's bytes checked
                              micro    core microbenchmarks, no sockets
                              routing  fan-out (1 publisher, --subscribers subscribers, 64 B
                                       messages: ringwire serve with 1 and 2 workers against a
                                       plain Node server writing each message to each socket,
                                       and one batching by hand), cross-thread delivery (the
                                       mailbox sendTo posts into, against postMessage and
                                       BroadcastChannel) and request/response (router.ask
                                       against postMessage with a reply); every byte checked
                                       (about 3 minutes)
                            (sockets is the old name of echo)
Matrix (for every socket suite chosen):
  --connections <list>      concurrent connections (default 1,50,500; handler, async, tls, websocket: 50;
                            pipelined: 1,50)
  --frame-sizes <list>      bytes per frame on the wire, k and m suffixes allowed (default 64,1k,16k;
                            pipelined: 64; websocket: 64,16k, each message's payload)
  --depth <list>            frames in flight per connection: 1 = request/response (default 1,32;
                            handler, async and websocket: 1,16; pipelined: 16,256)
  --wait <list>             what the pipelined suite's handler awaits: immediate, timer (default
                            both)
  --framing <spec>          ringwire's framing in the echo suite, as for serve (default
                            length:4:be); plain and external servers echo raw bytes, which
                            returns the same frames. The handler suites (handler, async,
                            pipelined) use length:4:be only.
  --duration <time>         measured time per sample (default 3s)
  --warmup <time>           load before measuring (default 1s)
  --rounds <n>              rounds per scenario (default 3)
Contenders:
  --contenders <list>       default: every contender of the suites chosen:
                              echo     ringwire-wasm, ringwire-js, node-data, node-onread
                              handler  ringwire-wasm-handler, ringwire-js-handler, node-handler
                              async    ringwire-wasm-async, ringwire-js-async, node-async
                              pipelined ringwire-wasm-pipelined, ringwire-js-pipelined,
                                       node-pipelined
                              tls      ringwire-wasm-tls, ringwire-js-tls, node-tls
                              websocket ringwire-wasm-ws, ringwire-js-ws, ws (bufferutil
                                       loaded), ws-no-bufferutil
  --external <name=cmd>     also run this server in the echo suite; {port} in cmd is replaced
                            by its port, and it must echo every byte on 127.0.0.1 (repeatable),
                            e.g. the C epoll server that ships with ringwire, compiled from its
                            source:
                              cc -O2 -o epoll-echo node_modules/ringwire/bench/epoll-echo.c
                              (in a clone of ringwire: bench/epoll-echo.c)
                              --external "c-epoll=./epoll-echo {port}"
                            With {cert} and {key} in cmd too, it runs in the tls suite instead,
                            behind TLS with the suite's certificate and key files (PEM), e.g.
                            another build of ringwire, for an A/B in one run:
                              --external "main-tls=node <its dist>/cli.js serve --port {port}
                                --framing length:4:be --max-frame 16384 --tls-cert {cert}
                                --tls-key {key}"
                            CPU and memory are the started process's own: a server that
                            forks per connection is under-counted
  --variant <name=base:options>
                            also run a ringwire contender with more serve options, in base's suite
                            (repeatable), e.g. the stream write path, or every deadline off:
                              --variant "wasm-stream=ringwire-wasm:--write stream"
                              --variant "wasm-c64=ringwire-wasm-pipelined:--concurrency 64"
                            or the plain pipelined server with a window of n frames (default 1024):
                              --variant "node-w64=node-pipelined:--max-in-flight 64"
                              --variant "wasm-no-deadlines=ringwire-wasm:--idle-timeout 0s
                                --frame-timeout 0s --min-rate 0 --write-timeout 0s --stall-timeout 0s"
  --baseline <name>         ratios in this contender's suite are against it (default: node-data,
                            node-handler, node-async, node-pipelined, node-tls, ws)
  --generators <n>          load generator processes, connections split between them (default 1)
  --gc                      also count what each Node server allocates on its JS heap per frame,
                            and its GCs, while measuring (a v8.GCProfiler preloaded into the
                            server; it costs a little: compare throughput from runs without it)
Routing (for --suite routing):
  --subscribers <list>      fan-out subscriber counts (default 1000,10000; --quick 1000)
  --fanout-sizes <list>     fan-out message sizes, newline included (default 64,1k; --quick 64)
  --fanout-messages <n>     messages per fan-out run (default: 640 MB of deliveries, 200 to 10000
                            messages: 10000 to 1000 subscribers of 64 B; --quick 500)
  --thread-messages <n>     messages (and requests) per cross-thread throughput run (default
                            200000; --quick 50000)
  --pings <n>               cross-thread ping-pongs (and round trips) for the latency, over
                            all rounds (default 20000; --quick 3000)
WebSocket broadcast (for --suite websocket):
  --broadcast-subscribers <n>
                            subscribers (default 1000; 0: no broadcast)
  --broadcast-messages <n>  64 B messages the publisher sends per run (default 2000; --quick 500)
Output:
  --micro-duration <time>   time per core microbenchmark measurement (default 200ms)
  --quick                   50 connections, 64 B and 16 KiB, depth 1 and 32 (handler suites:
                            1 and 16; pipelined: 64 B, depth 16 and 256), 1s x 2 rounds, short
                            microbenchmarks; options given explicitly still apply
  --out <dir>               where the JSON and HTML reports go (default bench-results)
  --markdown                print the tables as Markdown (for a README)
  -h, --help                this text
`;

const list = (text: string) => text.split(',').map(s => s.trim()).filter(Boolean);

/** A fan-out message holds its number (8 digits, a space) and its newline. */
function fanoutSize(n: number): number {
  if (n < 16) throw configError(`--fanout-sizes: a message is at least 16 bytes (its number and newline), got ${n}`);
  return n;
}

export type Suite = SocketSuite | 'micro' | 'routing';

/**
 * Each socket suite's default matrix: the echo spans connection counts, the handler
 * suites the 50; the pipelined suite one connection and 50, each with many
 * frames in flight, of the one size whose cost is per frame, not per byte.
 */
const MATRIX: Record<SocketSuite, { connections: string; depth: string; frameSizes?: string }> = {
  echo: { connections: '1,50,500', depth: '1,32' },
  handler: { connections: '50', depth: '1,16' },
  async: { connections: '50', depth: '1,16' },
  pipelined: { connections: '1,50', depth: '16,256', frameSizes: '64' },
  tls: { connections: '50', depth: '1,32' },
  websocket: { connections: '50', depth: '1,16', frameSizes: '64,16k' },
};
const HANDLER_SUITES: readonly Suite[] = ['handler', 'async', 'pipelined'];

export interface BenchPlan {
  scenarios: Scenario[];
  contenders: Contender[];
  /** The baseline of each socket suite chosen. */
  baselines: Partial<Record<SocketSuite, string>>;
  rounds: number;
  duration: number;
  warmup: number;
  generators: number;
  gc: boolean;
  suites: Set<Suite>;
  micro: { framings: string[]; frameSizes: number[]; duration: number; repeats: number };
  routing: Omit<RoutingOptions, 'onProgress'>;
  /** With the websocket suite and subscribers: its broadcast. */
  broadcast: Omit<BroadcastOptions, 'onProgress'> | null;
  out: string;
  style: TableStyle;
}

function parseSuites(text: string): Set<Suite> {
  return new Set(list(text).map((s): Suite => {
    if (s === 'sockets') return 'echo';
    if (s !== 'micro' && s !== 'routing' && !(SOCKET_SUITES as readonly string[]).includes(s)) {
      throw configError(`--suite takes echo, handler, async, pipelined, tls, websocket, micro and/or routing, got "${s}"`);
    }
    return s as Suite;
  }));
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
      wait: { type: 'string', default: WAITS.join(',') },
      framing: { type: 'string', default: 'length:4:be' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      contenders: { type: 'string' },
      external: { type: 'string', multiple: true, default: [] },
      variant: { type: 'string', multiple: true, default: [] },
      baseline: { type: 'string' },
      generators: { type: 'string', default: '1' },
      gc: { type: 'boolean', default: false },
      suite: { type: 'string', default: 'echo,micro' },
      'micro-duration': { type: 'string' },
      subscribers: { type: 'string' },
      'fanout-sizes': { type: 'string' },
      'fanout-messages': { type: 'string' },
      'thread-messages': { type: 'string' },
      pings: { type: 'string' },
      'broadcast-subscribers': { type: 'string' },
      'broadcast-messages': { type: 'string' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string', default: 'bench-results' },
      markdown: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const q = values.quick;
  const suites = parseSuites(values.suite);
  const socketSuites = SOCKET_SUITES.filter(s => suites.has(s));
  const sizesOf = (text: string) => list(text).map(t => parseBytes('frame-sizes', t));
  const frameSizes = sizesOf(values['frame-sizes'] ?? (q ? '64,16k' : '64,1k,16k'));
  const framing = values.framing;
  for (const size of frameSizes) frameTape(framing, size, 1); // every size must make a frame of this framing
  if (framing !== HANDLER_FRAMING && HANDLER_SUITES.some(s => suites.has(s))) {
    throw configError(`--framing ${framing}: the handler suites run ${HANDLER_FRAMING} only (what the plain handler servers cut)`);
  }
  const waits = list(values.wait).map((w): Wait => {
    if (!(WAITS as readonly string[]).includes(w)) throw configError(`--wait takes ${WAITS.join(' and/or ')}, got "${w}"`);
    return w as Wait;
  });
  if (waits.length === 0) throw configError(`--wait takes ${WAITS.join(' and/or ')}, got nothing`);

  const known = new Map(BUILTIN.map(c => [c.name, c]));
  const contenders = values.contenders === undefined
    ? BUILTIN.filter(c => suites.has(c.suite))
    : list(values.contenders).map(name => {
      const c = known.get(name);
      if (!c) throw configError(`--contenders: unknown "${name}"; choose from ${[...known.keys()].join(', ')} or add --external`);
      if (!suites.has(c.suite)) throw configError(`--contenders: ${name} runs in the ${c.suite} suite; add ${c.suite} to --suite`);
      return c;
    });
  for (const spec of values.external) {
    const e = external(spec);
    if (!suites.has(e.suite)) throw configError(`--external ${e.name} runs in the ${e.suite} suite (a command with {cert} and {key}: the tls suite); add ${e.suite} to --suite`);
    contenders.push(e);
  }
  for (const spec of values.variant) {
    const v = variant(spec, known);
    if (!suites.has(v.suite)) throw configError(`--variant ${v.name} runs in the ${v.suite} suite; add ${v.suite} to --suite`);
    contenders.push(v);
  }
  if (new Set(contenders.map(c => c.name)).size !== contenders.length) throw configError('contender names must be different');

  const baselines: Partial<Record<SocketSuite, string>> = {};
  for (const suite of socketSuites) baselines[suite] = BASELINES[suite];
  if (values.baseline !== undefined) {
    const base = contenders.find(c => c.name === values.baseline);
    if (!base) throw configError(`--baseline ${values.baseline} is not among the contenders (${contenders.map(c => c.name).join(', ')})`);
    baselines[base.suite] = base.name;
  }
  for (const suite of socketSuites) {
    const names = contenders.filter(c => c.suite === suite).map(c => c.name);
    if (names.length === 0) throw configError(`--suite ${suite}: none of the contenders runs in it`);
    if (!names.includes(baselines[suite]!)) {
      throw configError(`the ${suite} suite's baseline ${baselines[suite]} is not among its contenders (${names.join(', ')}); add it or choose one with --baseline`);
    }
  }

  if (suites.has('websocket')) {
    const tooLarge = (values['frame-sizes'] === undefined ? sizesOf(MATRIX.websocket.frameSizes!) : frameSizes).find(n => n > 65535);
    if (tooLarge !== undefined) throw configError(`--frame-sizes: the websocket suite's messages are at most 65535 bytes, got ${tooLarge}`);
  }
  const scenarios: Scenario[] = [];
  for (const suite of socketSuites) {
    const connections = list(values.connections ?? (q ? '50' : MATRIX[suite].connections)).map(t => parseCount('connections', t));
    const depths = list(values.depth ?? MATRIX[suite].depth).map(t => parseCount('depth', t));
    const sizes = values['frame-sizes'] === undefined && MATRIX[suite].frameSizes ? sizesOf(MATRIX[suite].frameSizes) : frameSizes;
    for (const wait of suite === 'pipelined' ? waits : [undefined]) {
      for (const c of connections) for (const frameBytes of sizes) for (const depth of depths) {
        scenarios.push({ suite, connections: c, frameBytes, depth, framing: suite === 'websocket' ? 'websocket' : framing, ...(wait ? { wait } : {}) });
      }
    }
  }
  const rounds = parseCount('rounds', values.rounds ?? (q ? '2' : '3'));
  const broadcastSubscribers = values['broadcast-subscribers'] === '0' ? 0 : parseCount('broadcast-subscribers', values['broadcast-subscribers'] ?? '1000');
  return {
    scenarios,
    contenders,
    baselines,
    rounds,
    duration: parseDuration('duration', values.duration ?? (q ? '1s' : '3s')),
    warmup: parseDuration('warmup', values.warmup ?? (q ? '300ms' : '1s')),
    generators: parseCount('generators', values.generators),
    gc: values.gc,
    suites,
    micro: {
      framings: ['raw', 'length:4:be', 'varint', 'line', 'delimiter:\\r\\n', 'fixed'],
      frameSizes,
      duration: parseDuration('micro-duration', values['micro-duration'] ?? (q ? '100ms' : '200ms')),
      repeats: 3,
    },
    routing: {
      rounds,
      subscribers: list(values.subscribers ?? (q ? '1000' : '1000,10000')).map(v => parseCount('subscribers', v)),
      messageSizes: list(values['fanout-sizes'] ?? (q ? '64' : '64,1k')).map(v => fanoutSize(parseBytes('fanout-sizes', v))),
      fanoutMessages: values['fanout-messages'] !== undefined || q ? parseCount('fanout-messages', values['fanout-messages'] ?? '500') : undefined,
      threadMessages: parseCount('thread-messages', values['thread-messages'] ?? (q ? '50000' : '200000')),
      pings: parseCount('pings', values.pings ?? (q ? '3000' : '20000')),
    },
    broadcast: suites.has('websocket') && broadcastSubscribers > 0
      ? {
        rounds,
        subscribers: broadcastSubscribers,
        messageBytes: 64,
        messages: parseCount('broadcast-messages', values['broadcast-messages'] ?? (q ? '500' : '2000')),
      }
      : null,
    out: values.out,
    style: values.markdown ? 'markdown' : 'text',
  };
}

export async function runBench(plan: BenchPlan, command: string, progress = new Progress()): Promise<BenchReport> {
  const m = machine();
  const samples = plan.scenarios.length > 0
    ? await runMatrix({
      scenarios: plan.scenarios,
      contenders: plan.contenders,
      rounds: plan.rounds,
      duration: plan.duration,
      warmup: plan.warmup,
      generators: plan.generators,
      gc: plan.gc,
      onStart: (done, total, what) => progress.start(done, total, what),
      onSample: (done, total, s) => progress.sample(done, total, s),
    })
    : [];
  const micro = plan.suites.has('micro')
    ? await runCoreBench({ ...plan.micro, onProgress: what => progress.note(what) })
    : null;
  const routing = plan.suites.has('routing')
    ? await runRoutingBench({ ...plan.routing, onProgress: what => progress.note(what) })
    : null;
  const broadcast = plan.broadcast
    ? await runBroadcastBench({ ...plan.broadcast, onProgress: what => progress.note(what) })
    : null;
  progress.done();
  const names = plan.contenders.map(c => c.name);
  return {
    format: 'ringwire-bench/2',
    settings: {
      scenarios: plan.scenarios,
      contenders: names,
      baselines: plan.baselines,
      rounds: plan.rounds,
      duration: plan.duration,
      warmup: plan.warmup,
      generators: plan.generators,
      gc: plan.gc,
      command,
    },
    machine: m,
    summaries: summarize(samples, names, plan.baselines),
    samples,
    micro,
    routing,
    broadcast,
    ok: samples.every(s => !s.failure) && (routing?.failures.length ?? 0) === 0 && (broadcast?.failures.length ?? 0) === 0,
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
  print(`ringwire bench · Node ${m.node} · ${m.cpuModel} × ${m.cores} · ${m.platform} ${m.kernel} · load average ${m.loadAverage.toFixed(2)} at the start, ${os.loadavg()[0]!.toFixed(2)} at the end (1 min)`);
  const baselines = Object.entries(plan.baselines).map(([suite, name]) => `${name} (${suite})`).join(', ');
  if (plan.scenarios.length > 0) {
    print(`${plan.rounds} rounds × ${plan.duration / 1000} s per contender and scenario; medians, min–max over rounds; baseline ${baselines || 'none'}.`);
    print('Servers and the load generator share this machine: "gen cores" is how much CPU the generator used.\n');
  }
  for (const s of report.summaries) print(`${scenarioTable(s, plan.style)}\n`);
  for (const group of bySuite(report.summaries, report.settings.contenders)) {
    if (group.summaries.length < 2) continue;
    print(`Overview, ${group.suite} suite: each contender against ${group.baseline} (frames/s: higher is better; CPU per frame: lower is better)\n`);
    print(`${overviewTable(group.summaries, group.contenders, group.baseline, plan.style)}\n`);
  }
  if (plan.gc) {
    print('JS heap allocated by each server while measuring, per echoed frame (--gc; off-heap memory such as Buffer contents not counted)\n');
    print(`${gcTable(report.summaries, plan.style)}\n`);
  }
  if (report.routing) print(`${routingTable(report.routing, plan.style)}\n`);
  if (report.broadcast) print(`${broadcastTable(report.broadcast, plan.style)}\n`);
  if (report.micro) print(`Core microbenchmarks (decode + echo of whole frames in the rx ring, no sockets)\n\n${microTable(report.micro, plan.style)}\n`);
  const stamp = m.date.replace(/[:.]/g, '-');
  const files = writeReport(report, plan.out, `ringwire-bench-${stamp}`);
  print(`Report: ${files.html}\nData:   ${files.json}`);
  if (!report.ok) print('Some runs FAILED verification: their figures are left out (see above).');
  return report.ok ? 0 : 1;
}
