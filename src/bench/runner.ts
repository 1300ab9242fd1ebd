// Runs the socket benchmark matrix: for each scenario, `rounds` rounds, and in each
// round every contender of the scenario's suite once, in the same order
// (A B C A B C ...), so a drift in the machine's speed hits every contender alike.
// One sample = a fresh server process, fresh generator processes, a warm-up, then
// a measured interval during which the server's and the generators' CPU, and the
// server's read and write syscalls, are read from /proc (and with `gc`, its JS heap
// allocation, by the probe preloaded into it).

import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { entry, type Contender, type Scenario } from './contenders.ts';
import { frameSize } from './format.ts';
import { Histogram, type HistogramData } from './histogram.ts';
import type { LoadOptions, LoadResult } from './load-generator.ts';
import { GC_LINE, type GcCount } from './gc-count.ts';
import { benchCertificates } from './tls-certificates.ts';
import { cpuSince, cpuTime, peakRss, syscalls, syscallsSince, type CpuTime, type Syscalls } from './process-meter.ts';

export interface RunOptions {
  scenarios: Scenario[];
  contenders: Contender[];
  rounds: number;
  /** Measured interval per sample, ms. */
  duration: number;
  /** Load before measuring, ms. */
  warmup: number;
  /** Generator processes per sample; connections are split between them. */
  generators: number;
  /** Count what Node servers allocate on the JS heap while measuring (src/bench/gc-probe.ts). */
  gc?: boolean;
  onSample?: (done: number, total: number, sample: Sample) => void;
  onStart?: (done: number, total: number, what: string) => void;
}

export interface Sample {
  scenario: Scenario;
  contender: string;
  round: number;
  /** Why the sample does not count: a verification failure, a crash. Absent when it is good. */
  failure?: string;
  frames: number;
  bytes: number;
  seconds: number;
  framesPerSecond: number;
  megabytesPerSecond: number;
  /** Round-trip latency of each frame, nanoseconds. */
  latency: HistogramData;
  /** Server process CPU over the measured interval, seconds. */
  serverCpu: CpuTime;
  /** Server CPU per echoed frame, nanoseconds. */
  cpuPerFrame: { user: number; system: number; total: number };
  /** The server process's read and write syscalls over the measured interval (NaN where /proc has no io). */
  serverSyscalls: Syscalls;
  /** The same per echoed frame: how many frames' replies one write(2) carries, inverted. */
  syscallsPerFrame: Syscalls;
  /** The server process's peak resident memory (VmHWM), bytes. */
  serverPeakRss: number;
  /** All generator processes' CPU over the measured interval, seconds. */
  generatorCpu: CpuTime;
  /** Cores' worth of CPU the generators used (1.0 = one core flat out). */
  generatorCores: number;
  /** Cores' worth of CPU the server used. */
  serverCores: number;
  mismatches: number;
  shortReads: number;
  errors: number;
  /** With RunOptions.gc, for servers that run on this Node: JS heap allocation and GCs while measuring. */
  gc?: GcCount;
}

const SUITE_LABEL = { echo: '', handler: 'handler · ', async: 'async handler · ', pipelined: 'pipelined · ', tls: 'TLS · ', websocket: 'WebSocket · ' } as const;
const WAIT_LABEL = { immediate: 'setImmediate · ', timer: '1 ms timer · ' } as const;

export function scenarioLabel(s: Scenario): string {
  const wait = s.wait ? WAIT_LABEL[s.wait] : '';
  return `${SUITE_LABEL[s.suite]}${wait}${s.connections} conn · ${frameSize(s.frameBytes)} · depth ${s.depth}`;
}

// Every process the runner starts, until it has exited. If the runner itself
// exits (normally, on an uncaught error, or on Ctrl-C through process.exit), they
// are killed with it: a benchmark never leaves a server or generator behind.
const children = new Set<ChildProcess>();
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** A server started with `args` (tracked), once its first line names the port it listens on; killed and thrown when it does not. */
export async function listeningServer(name: string, args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = track(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] }));
  const [line] = await once(child.stdout!.setEncoding('utf8'), 'data') as [string];
  const port = /:(\d+) /.exec(line);
  if (!port) {
    child.kill('SIGKILL');
    throw new Error(`${name} did not start: ${line.trim()}`);
  }
  return { child, port: Number(port[1]) };
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>(resolve => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise(resolve => probe.close(resolve));
  return port;
}

/** Resolves once the server accepts a connection; rejects if it exits or takes over 15 s. */
async function ready(child: ChildProcess, port: number, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before listening: ${stderr().trim().slice(-300)}`);
    }
    const ok = await new Promise<boolean>(resolve => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`server did not listen on 127.0.0.1:${port} within 15 s`);
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/** A generator process: start → ready, measure, stop → result. */
class GeneratorProcess {
  readonly child: ChildProcess;
  private readonly messages: unknown[] = [];
  private waiting: ((m: unknown) => void) | undefined;
  private stderr = '';

  constructor() {
    this.child = track(fork(entry('generator-process'), [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: [] }));
    this.child.stderr!.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-2000); });
    this.child.on('message', m => {
      if (this.waiting) { const w = this.waiting; this.waiting = undefined; w(m); } else this.messages.push(m);
    });
    this.child.on('exit', code => {
      this.waiting?.({ type: 'error', message: `exited with ${code}: ${this.stderr.trim().split('\n').slice(-3).join(' ')}` });
    });
  }

  private next(): Promise<{ type: string; message?: string; result?: LoadResult }> {
    const m = this.messages.shift();
    if (m) return Promise.resolve(m as never);
    return new Promise(resolve => { this.waiting = resolve as never; });
  }

  private async expect(type: string): Promise<LoadResult | undefined> {
    const m = await this.next();
    if (m.type === 'error') throw new Error(`load generator: ${m.message}`);
    if (m.type !== type) throw new Error(`load generator: expected ${type}, got ${m.type}`);
    return m.result;
  }

  async start(options: LoadOptions): Promise<void> {
    this.child.send({ type: 'start', options });
    await this.expect('ready');
  }

  measure(): void {
    this.child.send({ type: 'measure' });
  }

  async stop(): Promise<LoadResult> {
    this.child.send({ type: 'stop' });
    return (await this.expect('result'))!;
  }
}

const sumCpu = (xs: CpuTime[]): CpuTime => ({
  user: xs.reduce((a, c) => a + c.user, 0),
  system: xs.reduce((a, c) => a + c.system, 0),
});

/** The probe's line on the server's stderr, once it has written it (up to 5 s: a loaded machine is slow). */
async function gcCount(stderr: () => string): Promise<GcCount> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const at = stderr().lastIndexOf(GC_LINE);
    const end = at < 0 ? -1 : stderr().indexOf('\n', at);
    if (end > 0) return JSON.parse(stderr().slice(at + GC_LINE.length, end)) as GcCount;
    if (Date.now() > deadline) throw new Error('the GC probe did not report');
    await sleep(20);
  }
}

/** One measured run of one contender on one scenario. Never throws: failures are in sample.failure. */
export async function runSample(contender: Contender, scenario: Scenario, round: number, opts: RunOptions): Promise<Sample> {
  const port = await freePort();
  const command = contender.command(port, scenario);
  // The GC probe goes into servers that run on this Node; SIGUSR2 starts and stops its count.
  const probe = !!opts.gc && command.file === process.execPath;
  const args = probe ? ['--import', pathToFileURL(entry('gc-probe')).href, ...command.args] : command.args;
  const server = track(spawn(command.file, args, { stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  server.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  server.on('error', err => { stderr += err.message; });
  const generators: GeneratorProcess[] = [];
  const blank: Sample = {
    scenario, contender: contender.name, round, frames: 0, bytes: 0, seconds: 0, framesPerSecond: NaN,
    megabytesPerSecond: NaN, latency: new Histogram().toJSON(), serverCpu: { user: NaN, system: NaN },
    cpuPerFrame: { user: NaN, system: NaN, total: NaN }, serverSyscalls: { reads: NaN, writes: NaN },
    syscallsPerFrame: { reads: NaN, writes: NaN }, serverPeakRss: NaN, generatorCpu: { user: NaN, system: NaN },
    generatorCores: NaN, serverCores: NaN, mismatches: 0, shortReads: 0, errors: 0,
  };
  try {
    await ready(server, port, () => stderr);
    const n = Math.max(1, Math.min(opts.generators, scenario.connections));
    for (let i = 0; i < n; i++) generators.push(new GeneratorProcess());
    await Promise.all(generators.map((g, i) => g.start({
      host: '127.0.0.1',
      port,
      // Connections split as evenly as they go: the first ones take the remainder.
      connections: Math.floor(scenario.connections / n) + (i < scenario.connections % n ? 1 : 0),
      frameBytes: scenario.frameBytes,
      depth: scenario.depth,
      framing: contender.framing(scenario),
      ...(scenario.suite === 'tls' ? { tls: { ca: benchCertificates().ca.toString() } } : {}),
    })));
    await sleep(opts.warmup);
    for (const g of generators) g.measure();
    if (probe) server.kill('SIGUSR2');
    const t0 = performance.now();
    const s0 = cpuTime(server.pid!);
    const io0 = syscalls(server.pid!);
    const g0 = generators.map(g => cpuTime(g.child.pid!));
    await sleep(opts.duration);
    const s1 = cpuTime(server.pid!);
    const io1 = syscalls(server.pid!);
    const g1 = generators.map(g => cpuTime(g.child.pid!));
    if (probe) server.kill('SIGUSR2');
    const wall = (performance.now() - t0) / 1000;
    const results = await Promise.all(generators.map(g => g.stop()));
    const rss = peakRss(server.pid!);

    const latency = new Histogram();
    for (const r of results) latency.merge(r.latency);
    const sum = (f: (r: LoadResult) => number) => results.reduce((a, r) => a + f(r), 0);
    const frames = sum(r => r.frames);
    const bytes = sum(r => r.bytes);
    const seconds = Math.max(...results.map(r => r.seconds));
    const serverCpu = cpuSince(s0, s1);
    const serverSyscalls = syscallsSince(io0, io1);
    const generatorCpu = sumCpu(g0.map((c, i) => cpuSince(c, g1[i]!)));
    const sample: Sample = {
      ...blank,
      frames,
      bytes,
      seconds,
      framesPerSecond: sum(r => r.frames / r.seconds),
      megabytesPerSecond: sum(r => r.bytes / r.seconds) / 1e6,
      latency: latency.toJSON(),
      serverCpu,
      cpuPerFrame: {
        user: (serverCpu.user / frames) * 1e9,
        system: (serverCpu.system / frames) * 1e9,
        total: ((serverCpu.user + serverCpu.system) / frames) * 1e9,
      },
      serverSyscalls,
      syscallsPerFrame: { reads: serverSyscalls.reads / frames, writes: serverSyscalls.writes / frames },
      serverPeakRss: rss,
      generatorCpu,
      generatorCores: (generatorCpu.user + generatorCpu.system) / wall,
      serverCores: (serverCpu.user + serverCpu.system) / wall,
      mismatches: sum(r => r.mismatches),
      shortReads: sum(r => r.shortReads),
      errors: sum(r => r.errors),
      ...(probe ? { gc: await gcCount(() => stderr) } : {}),
    };
    const why = [
      sample.mismatches && `${sample.mismatches} mismatched bytes`,
      sample.shortReads && `${sample.shortReads} frames never echoed`,
      sample.errors && `${sample.errors} connection errors (${results.flatMap(r => r.errorMessages).slice(0, 2).join('; ')})`,
      frames === 0 && 'no frame echoed while measuring',
    ].filter(Boolean);
    if (why.length) sample.failure = why.join(', ');
    return sample;
  } catch (err) {
    return { ...blank, failure: (err as Error).message };
  } finally {
    for (const g of generators) if (g.child.exitCode === null) g.child.kill('SIGKILL');
    await stopProcess(server);
  }
}

/** Every sample of the matrix, in the order run. A scenario runs the contenders of its suite. */
export async function runMatrix(opts: RunOptions): Promise<Sample[]> {
  const samples: Sample[] = [];
  const of = (s: Scenario) => opts.contenders.filter(c => c.suite === s.suite);
  const total = opts.scenarios.reduce((n, s) => n + opts.rounds * of(s).length, 0);
  for (const scenario of opts.scenarios) {
    for (let round = 1; round <= opts.rounds; round++) {
      for (const contender of of(scenario)) {
        opts.onStart?.(samples.length, total, `${scenarioLabel(scenario)} · ${contender.name} · round ${round}/${opts.rounds}`);
        const sample = await runSample(contender, scenario, round, opts);
        samples.push(sample);
        opts.onSample?.(samples.length, total, sample);
      }
    }
  }
  return samples;
}
