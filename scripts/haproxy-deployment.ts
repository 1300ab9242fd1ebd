// Several ringwire hosts behind HAProxy on one machine, for the demo
// (scripts/demo-haproxy.ts) and its test (test/haproxy.test.ts): HAProxy in TCP
// mode on 127.0.0.1 sends a PROXY v2 header to `ringwire serve` processes on
// 127.0.0.2, 127.0.0.3, ..., checks their health, and a verified load runs
// through it. Everything binds loopback only, every wait is bounded, and stop()
// ends every process this file started (by its PID).
//
// Graceful drain, the mechanism: SIGTERM makes `ringwire serve` close its
// listener at once and drain its connections (answer what each has read, FIN,
// within --drain-timeout). HAProxy sees the listener gone two ways: its health
// check (a connect every `inter`) fails and the host goes DOWN, and, before that
// happens, a new connection it sends there is refused at connect time and
// retried on another host (retries + option redispatch 1), before a byte of the
// client's was forwarded. The client of a drained connection gets every answer
// to what the host read, then FIN, and sends what was not answered again on a new
// connection, which HAProxy gives to a live host: runLoad() does that and checks
// that every frame is answered exactly once, byte for byte.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuTime } from '../src/bench/process-meter.ts';

export const HAPROXY = '/usr/sbin/haproxy';
const ROOT = new URL('..', import.meta.url).pathname;
const CLI = join(ROOT, 'dist/cli.js');

/** Why this machine cannot run the deployment, or undefined if it can. */
export function missing(): string | undefined {
  if (!existsSync(HAPROXY)) return `${HAPROXY} not found: install Debian's haproxy (apt-get install -y haproxy; npm test does: scripts/test-peers.ts)`;
  if (!existsSync(CLI)) return `${CLI} not found: run npm run build first`;
  return undefined;
}

/** A free TCP port on host (bound and released; HAProxy cannot listen on port 0 and say which it got). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const s = net.createServer();
  s.listen(0, host);
  await once(s, 'listening');
  const { port } = s.address() as net.AddressInfo;
  await new Promise(r => s.close(r));
  return port;
}

/** Resolve when `text` appears in what the stream printed; reject after ms or when the process exits. */
function waitFor(child: ChildProcess, stream: NodeJS.ReadableStream, text: string | RegExp, ms: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => done(new Error(`${what}: nothing matching ${text} within ${ms} ms; it printed: ${seen.slice(-2000)}`)), ms);
    const onData = (d: Buffer) => {
      seen += d.toString();
      if (typeof text === 'string' ? seen.includes(text) : text.test(seen)) done(undefined);
    };
    const onExit = () => done(new Error(`${what} exited before printing ${text}: ${seen.slice(-2000)}`));
    const done = (err: Error | undefined) => {
      clearTimeout(timer);
      stream.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(seen);
    };
    stream.on('data', onData);
    child.once('exit', onExit);
  });
}

/** CPU seconds (user + system) a process of ours has used so far, from /proc; 0 where there is none. */
export function cpuSeconds(pid: number | undefined): number {
  const c = pid === undefined ? undefined : cpuTime(pid);
  return c && Number.isFinite(c.user) ? c.user + c.system : 0;
}

async function stopProcess(child: ChildProcess, ms = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await exitWithin(child, ms);
}

/** Wait for a child that was told to stop; SIGKILL it if it has not exited within ms (a second SIGTERM would cut a ringwire drain short). */
async function exitWithin(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(timer);
}

// ---- ringwire hosts ----

/** What a host said when it stopped ("closed after ..."). */
export interface HostTotals {
  accepted: number;
  framesIn: number;
  framesOut: number;
  errors: number;
  /** The errors by code, as printed ("ERR_SOCKET 2"), or ''. */
  codes: string;
}

export class RingwireHost {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly child: ChildProcess;
  stderr = '';
  /** Set once it stopped and printed its totals. */
  totals: HostTotals | undefined;

  private constructor(name: string, host: string, port: number, child: ChildProcess) {
    this.name = name;
    this.host = host;
    this.port = port;
    this.child = child;
    child.stderr!.on('data', d => (this.stderr += d.toString()));
  }

  static async start(name: string, host: string, port: number, extra: string[] = []): Promise<RingwireHost> {
    const args = [CLI, 'serve', '--host', host, '--port', String(port), '--framing', 'length:4:be', '--proxy-protocol', 'v2', '--proxy-trusted', '127.0.0.1/32', '--drain-timeout', '5s', ...extra];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const h = new RingwireHost(name, host, port, child);
    await waitFor(child, child.stdout!, 'ringwire listening', 10_000, `ringwire serve on ${host}:${port}`);
    return h;
  }

  /** SIGTERM: the host drains (listener closed, connections answered and closed) and exits; resolves with its totals. */
  async drain(ms = 10_000): Promise<HostTotals> {
    if (this.totals) return this.totals;
    const stopped = waitFor(this.child, this.child.stderr!, /closed after .*errors/, ms, `${this.name} draining`).catch(() => this.stderr);
    this.child.kill('SIGTERM');
    await stopped;
    await exitWithin(this.child, ms);
    if (this.child.exitCode !== 0) throw new Error(`${this.name} exited with ${this.child.exitCode ?? this.child.signalCode} after draining: ${this.stderr.slice(-2000)}`);
    const m = /closed after (\d+) connections, (\d+) frames in, (\d+) frames out, (\d+) errors(?: \((.*)\))?/.exec(this.stderr);
    if (!m) throw new Error(`${this.name} did not print its totals: ${this.stderr.slice(-2000)}`);
    this.totals = { accepted: Number(m[1]), framesIn: Number(m[2]), framesOut: Number(m[3]), errors: Number(m[4]), codes: m[5] ?? '' };
    return this.totals;
  }
}

// ---- HAProxy ----

export interface HaproxyOptions {
  /** Where HAProxy listens for clients. */
  port: number;
  servers: { name: string; host: string; port: number }[];
  /** send-proxy (v1) or send-proxy-v2. Default v2. */
  proxy?: 'v1' | 'v2';
  /** Health checks (with a PROXY header: v2 sends LOCAL). Default true. */
  check?: boolean;
}

/** The configuration this file runs, as docs/load-balancers.md shows it. */
export function haproxyConfig(o: HaproxyOptions, statsSocket: string): string {
  const send = o.proxy === 'v1' ? 'send-proxy' : 'send-proxy-v2';
  const check = o.check === false ? '' : ' check check-send-proxy inter 250ms fall 1 rise 2';
  return `global
  maxconn 4096
  stats socket ${statsSocket} mode 600 level admin

defaults
  mode tcp
  timeout connect 1s
  timeout client 60s
  timeout server 60s
  timeout check 1s
  # A connection refused by a draining host is retried on another one.
  retries 3
  option redispatch 1

frontend ringwire
  bind 127.0.0.1:${o.port}
  default_backend ringwire

backend ringwire
  balance leastconn
  default-server ${send}${check} source 127.0.0.1
${o.servers.map(s => `  server ${s.name} ${s.host}:${s.port}`).join('\n')}
`;
}

/** One backend server's line of HAProxy's "show stat". */
export interface ServerRow {
  name: string;
  status: string;
  /** Sessions now and in all. */
  current: number;
  total: number;
}

export class Haproxy {
  readonly port: number;
  readonly child: ChildProcess;
  private readonly dir: string;
  private readonly socket: string;
  log = '';

  private constructor(port: number, child: ChildProcess, dir: string, socket: string) {
    this.port = port;
    this.child = child;
    this.dir = dir;
    this.socket = socket;
    child.stderr!.on('data', d => (this.log += d.toString()));
    child.stdout!.on('data', d => (this.log += d.toString()));
  }

  static async start(o: HaproxyOptions): Promise<Haproxy> {
    const dir = mkdtempSync(join(tmpdir(), 'ringwire-haproxy-'));
    const socket = join(dir, 'haproxy.sock');
    writeFileSync(join(dir, 'haproxy.cfg'), haproxyConfig(o, socket));
    const child = spawn(HAPROXY, ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const h = new Haproxy(o.port, child, dir, socket);
    const end = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`haproxy exited (${child.exitCode}): ${h.log}`);
      try {
        if ((await h.command('show info')).includes('Name: HAProxy')) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > end) throw new Error(`haproxy did not start within 10 s: ${h.log}`);
      await new Promise(r => setTimeout(r, 50));
    }
    return h;
  }

  /** A command on HAProxy's stats socket (its runtime API); resolves with the answer. */
  command(text: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = net.connect(this.socket);
      let out = '';
      s.setTimeout(2000, () => s.destroy(new Error(`haproxy runtime API: no answer to ${text}`)));
      s.on('data', d => (out += d.toString()));
      s.on('error', reject);
      s.on('close', () => resolve(out));
      s.end(`${text}\n`);
    });
  }

  /** The backend's servers as HAProxy sees them: UP/DOWN/MAINT and sessions. */
  async servers(): Promise<ServerRow[]> {
    const csv = (await this.command('show stat')).split('\n');
    const fields = csv[0]!.replace(/^# /, '').split(',');
    const at = (name: string) => fields.indexOf(name);
    return csv.slice(1).map(l => l.split(',')).filter(r => r[0] === 'ringwire' && r[1] !== 'BACKEND' && r[1] !== 'FRONTEND' && r.length > 10)
      .map(r => ({ name: r[1]!, status: r[at('status')]!, current: Number(r[at('scur')]), total: Number(r[at('stot')]) }));
  }

  async stop(): Promise<void> {
    await stopProcess(this.child);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---- the deployment ----

export interface Deployment {
  haproxy: Haproxy;
  hosts: RingwireHost[];
  stop(): Promise<void>;
}

/** HAProxy on 127.0.0.1:port and `hosts` ringwire hosts on 127.0.0.2, 127.0.0.3, ... (one port for all). */
export async function startDeployment(o: { hosts: number; port?: number; hostPort?: number; extra?: string[] }): Promise<Deployment> {
  if (o.hosts < 1 || o.hosts > 8) throw new Error('1 to 8 hosts (127.0.0.2-127.0.0.9)');
  const hostPort = o.hostPort ?? await freePort('127.0.0.2');
  const hosts: RingwireHost[] = [];
  let haproxy: Haproxy | undefined;
  const stop = async () => {
    await Promise.all(hosts.map(h => h.drain().catch(() => stopProcess(h.child))));
    await haproxy?.stop();
  };
  try {
    for (let i = 0; i < o.hosts; i++) hosts.push(await RingwireHost.start(`host${i + 1}`, `127.0.0.${i + 2}`, hostPort, o.extra));
    haproxy = await Haproxy.start({ port: o.port ?? await freePort(), servers: hosts.map(h => ({ name: h.name, host: h.host, port: h.port })) });
  } catch (err) {
    await stop();
    throw err;
  }
  return { haproxy, hosts, stop };
}

// ---- a verified load ----

export interface LoadOptions {
  port: number;
  host?: string;
  connections: number;
  /** Frames each connection keeps in flight. */
  window: number;
  /** Payload bytes per frame (at least 8: the frame's id and its connection). */
  payload: number;
  /** Stop sending new frames after this many ms; then wait for every answer. */
  durationMs: number;
  /** Called about every 250 ms with the frames answered so far. */
  onTick?: (answered: number) => void;
  /** Give up on unanswered frames this long after durationMs. Default 20 s. */
  settleMs?: number;
  /** Bytes each connection writes before its frames: a PROXY header, to reach a host without HAProxy. */
  preamble?: Uint8Array;
}

export interface LoadResult {
  /** Distinct frames sent (a resent frame counts once). */
  sent: number;
  /** Frames whose answer came back byte for byte, each exactly once. */
  answered: number;
  /** Frames sent and never answered (should be 0). */
  lost: number;
  /** Answers that did not equal their frame, or came twice. */
  mismatched: number;
  /** Frames sent again after their connection ended unanswered (a drained host). */
  resent: number;
  /** Connections opened beyond the first one of each lane. */
  reconnects: number;
  /** From the first frame to the last answer. */
  seconds: number;
}

/**
 * Lanes of pipelined length-prefixed frames through `port`: every answer is
 * compared with its frame; a connection that ends with frames unanswered is
 * replaced and those frames are sent again on the new one (in order, first).
 */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const r: LoadResult = { sent: 0, answered: 0, lost: 0, mismatched: 0, resent: 0, reconnects: 0, seconds: 0 };
  const started = performance.now();
  const stopSending = started + o.durationMs;
  const giveUp = stopSending + (o.settleMs ?? 20_000);
  let nextId = 0;
  const fill = Buffer.alloc(o.payload);
  for (let i = 0; i < fill.length; i++) fill[i] = (i * 131) & 0xff;
  const frame = (lane: number): Buffer => {
    const f = Buffer.allocUnsafe(4 + o.payload);
    f.writeUInt32BE(o.payload, 0);
    fill.copy(f, 4);
    f.writeUInt32BE(nextId++, 4);
    f.writeUInt32BE(lane, 8);
    r.sent++;
    return f;
  };
  const ticker = setInterval(() => o.onTick?.(r.answered), 250);

  const lane = async (index: number) => {
    /** Sent on this lane and not answered yet, in order. */
    let pending: Buffer[] = [];
    let first = true;
    while (performance.now() < giveUp && (performance.now() < stopSending || pending.length > 0)) {
      if (!first) r.reconnects++;
      first = false;
      const s = net.connect({ port: o.port, host: o.host ?? '127.0.0.1', noDelay: true });
      s.on('error', () => {});
      try {
        await once(s, 'connect');
      } catch {
        await new Promise(res => setTimeout(res, 50));
        continue;
      }
      if (o.preamble) s.write(o.preamble);
      let head = 0; // pending[0..head) are answered on this connection
      let buffered: Buffer = Buffer.alloc(0);
      const send = () => {
        const batch: Buffer[] = [];
        while (pending.length - head < o.window && performance.now() < stopSending) {
          const f = frame(index);
          pending.push(f);
          batch.push(f);
        }
        if (batch.length > 0) s.write(Buffer.concat(batch));
      };
      if (pending.length > 0) {
        r.resent += pending.length;
        s.write(Buffer.concat(pending));
      }
      send();
      const done = new Promise<void>(resolve => {
        s.on('data', (d: Buffer) => {
          buffered = buffered.length === 0 ? d : Buffer.concat([buffered, d]);
          let at = 0;
          while (buffered.length - at >= 4) {
            const length = 4 + buffered.readUInt32BE(at);
            if (buffered.length - at < length) break;
            const expected = pending[head];
            if (!expected || !expected.equals(buffered.subarray(at, at + length))) {
              r.mismatched++;
              s.destroy();
              return;
            }
            head++;
            r.answered++;
            at += length;
          }
          buffered = buffered.subarray(at);
          if (head >= o.window / 2 || head === pending.length) {
            pending = pending.slice(head);
            head = 0;
            if (pending.length === 0 && performance.now() >= stopSending) s.end();
            else if (pending.length <= o.window / 2) send();
          }
        });
        s.once('close', () => resolve());
        s.once('end', () => s.end());
        if (pending.length === 0) s.end();
      });
      const timer = setTimeout(() => s.destroy(), Math.max(0, giveUp - performance.now()));
      await done;
      clearTimeout(timer);
      pending = pending.slice(head);
    }
  };
  await Promise.all(Array.from({ length: o.connections }, (_, i) => lane(i)));
  clearInterval(ticker);
  r.seconds = (performance.now() - started) / 1000;
  r.lost = r.sent - r.answered;
  return r;
}
