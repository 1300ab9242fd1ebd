// The servers a benchmark compares, each started as its own process so its CPU
// and memory can be read from the OS and nothing of the runner's shares its heap.
// Each belongs to one socket suite, and is compared with that suite's baseline:
//   echo      ringwire-wasm, ringwire-js   `ringwire serve` with the scenario's framing
//             node-data                     socket.on('data') echo: the baseline
//             node-onread                   onread into a static buffer, write a copy
//             external ones                 any command, given as name='cmd ... {port} ...'
//             variants                      a ringwire contender with more serve options,
//                                           name='ringwire-wasm:--write stream' (any suite),
//                                           or node-pipelined with --max-in-flight <n>
//   handler   ringwire-wasm-handler, ringwire-js-handler
//                                           `ringwire serve --handler` with the echo handler
//                                           (src/bench/echo-handler.ts), length:4:be
//             node-handler                  the same handler in a plain Node server written
//                                           with care (src/bench/plain-handler.ts): the baseline
//   async     ringwire-wasm-async, ringwire-js-async, node-async
//                                           the same with the async echo handler
//                                           (src/bench/echo-handler-async.ts)
//   pipelined ringwire-wasm-pipelined, ringwire-js-pipelined
//                                           the same with a handler that awaits I/O-like work:
//                                           setImmediate or a 1 ms timer, the scenario's `wait`
//                                           (echo-handler-immediate.ts, echo-handler-timer.ts)
//             node-pipelined                those handlers in a plain Node server that handles a
//                                           connection's frames concurrently and writes replies
//                                           in frame order (src/bench/plain-pipelined.ts)
//   tls       ringwire-wasm-tls, ringwire-js-tls
//                                           `ringwire serve --tls-cert --tls-key`, the echo
//                                           in the core behind TLS
//             node-tls                      tls.createServer with socket.on('data') echo:
//                                           the baseline
//             external ones                 a command with {cert} and {key} as well as {port}
//                                           (another build of ringwire, say: an A/B in one run)
//             (throwaway certificates made with openssl: tls-certificates.ts)
//   websocket ringwire-wasm-ws, ringwire-js-ws
//                                           `ringwire serve --framing websocket --handler` with
//                                           the echo handler (echo-handler-websocket.ts)
//             ws                            a `ws` WebSocketServer echoing each message
//                                           (plain-websocket.ts), bufferutil loaded: the baseline
//             ws-no-bufferutil              the same with ws's JS unmasking
//             (the load upgrades, sends masked frames, expects them back unmasked)
// Plain echo and external servers echo raw bytes; the load is the same frames for
// all, and each frame comes back exactly as sent whatever the server's framing.

import { fileURLToPath } from 'node:url';
import { configError } from '../index.ts';
import { benchCertificates } from './tls-certificates.ts';

/**
 * A family of socket scenarios: the echo inside the server, a frame handler in JS
 * (sync, async, or awaiting I/O-like work with a connection's frames pipelined), or
 * the echo behind TLS.
 */
export type SocketSuite = 'echo' | 'handler' | 'async' | 'pipelined' | 'tls' | 'websocket';
export const SOCKET_SUITES: readonly SocketSuite[] = ['echo', 'handler', 'async', 'pipelined', 'tls', 'websocket'];

/** What the pipelined suite's handler awaits before it replies. */
export type Wait = 'immediate' | 'timer';
export const WAITS: readonly Wait[] = ['immediate', 'timer'];

export interface Scenario {
  suite: SocketSuite;
  connections: number;
  frameBytes: number;
  depth: number;
  framing: string;
  /** The pipelined suite's: what each frame's handler awaits. */
  wait?: Wait;
}

export interface Contender {
  name: string;
  /** The suite whose scenarios it runs. */
  suite: SocketSuite;
  /** What to run: an executable and its arguments, for a server on 127.0.0.1:port. */
  command(port: number, scenario: Scenario): { file: string; args: string[] };
  /** The framing the server decodes ('raw' for plain and external echo servers). */
  framing(scenario: Scenario): string;
}

/** A file of ringwire's own: from dist/ when bundled, from src/ when run as TypeScript. */
export function entry(
  name: 'cli' | 'plain-echo' | 'generator-process' | 'echo-handler' | 'echo-handler-async' | 'echo-handler-immediate' | 'echo-handler-timer'
    | 'gc-probe' | 'plain-fanout' | 'fanout-handler' | 'thread-consumer' | 'echo-handler-websocket' | 'plain-websocket',
): string {
  const fromSource = import.meta.url.endsWith('.ts');
  if (!fromSource) return fileURLToPath(new URL(`./${name}.js`, import.meta.url));
  return fileURLToPath(new URL(name === 'cli' ? '../cli.ts' : `./${name}.ts`, import.meta.url));
}

const HANDLER_MODULE = { handler: 'echo-handler', async: 'echo-handler-async', websocket: 'echo-handler-websocket' } as const;
const WAIT_MODULE = { immediate: 'echo-handler-immediate', timer: 'echo-handler-timer' } as const;

/** The pipelined suite's scenarios each name their wait; any other scenario passed here is a bug. */
function waitOf(s: Scenario): Wait {
  if (!s.wait) throw new Error(`the ${s.suite} suite's scenario has no wait`);
  return s.wait;
}

function handlerModule(suite: 'handler' | 'async' | 'pipelined' | 'websocket', s: Scenario): string {
  return entry(suite === 'pipelined' ? WAIT_MODULE[waitOf(s)] : HANDLER_MODULE[suite]);
}

function ringwire(core: 'wasm' | 'js', suite: SocketSuite): Contender {
  return {
    name: suite === 'echo' ? `ringwire-${core}` : `ringwire-${core}-${suite === 'websocket' ? 'ws' : suite}`,
    suite,
    framing: s => s.framing,
    command: (port, s) => ({
      file: process.execPath,
      args: [
        entry('cli'), 'serve', '--host', '127.0.0.1', '--port', String(port), '--core', core,
        '--framing', s.framing,
        // Room for the connections plus the runner's readiness probe, and frames of this size.
        '--max-connections', String(s.connections + 8),
        '--max-frame', String(Math.max(s.frameBytes, 16384)),
        ...(suite === 'tls' ? ['--tls-cert', benchCertificates().files.cert, '--tls-key', benchCertificates().files.key]
          : suite === 'echo' ? [] : ['--handler', handlerModule(suite, s)]),
      ],
    }),
  };
}

function plain(mode: 'data' | 'onread' | 'handler' | 'async' | 'pipelined' | 'tls'): Contender {
  const echo = mode === 'data' || mode === 'onread' || mode === 'tls';
  return {
    name: `node-${mode}`,
    suite: mode === 'data' || mode === 'onread' ? 'echo' : mode,
    // The echo servers return raw bytes; the handler servers cut length:4:be frames.
    framing: s => (echo ? 'raw' : s.framing),
    command: (port, s) => ({
      file: process.execPath,
      args: [
        entry('plain-echo'), mode === 'pipelined' ? `pipelined-${waitOf(s)}` : mode, String(port), '127.0.0.1',
        ...(mode === 'tls' ? [benchCertificates().files.cert, benchCertificates().files.key] : []),
      ],
    }),
  };
}

/** The websocket suite's baseline: ws's WebSocketServer, echoing, with bufferutil or without. */
function ws(bufferutil: boolean): Contender {
  return {
    name: bufferutil ? 'ws' : 'ws-no-bufferutil',
    suite: 'websocket',
    framing: () => 'websocket',
    command: port => ({ file: process.execPath, args: [entry('plain-websocket'), 'echo', String(port), ...(bufferutil ? [] : ['--no-bufferutil'])] }),
  };
}

export const BUILTIN: readonly Contender[] = [
  ringwire('wasm', 'echo'), ringwire('js', 'echo'), plain('data'), plain('onread'),
  ringwire('wasm', 'handler'), ringwire('js', 'handler'), plain('handler'),
  ringwire('wasm', 'async'), ringwire('js', 'async'), plain('async'),
  ringwire('wasm', 'pipelined'), ringwire('js', 'pipelined'), plain('pipelined'),
  ringwire('wasm', 'tls'), ringwire('js', 'tls'), plain('tls'),
  ringwire('wasm', 'websocket'), ringwire('js', 'websocket'), ws(true), ws(false),
];
/** Each suite's default baseline: what a Node developer would write without ringwire. */
export const BASELINES: Readonly<Record<SocketSuite, string>> = {
  echo: 'node-data', handler: 'node-handler', async: 'node-async', pipelined: 'node-pipelined', tls: 'node-tls', websocket: 'ws',
};
/** The only framing the plain handler servers cut. */
export const HANDLER_FRAMING = 'length:4:be';

/**
 * A ringwire contender run with more `serve` options (a write path, deadlines off…),
 * from `name=base:options`: it runs in base's suite, against the same baseline. Also
 * node-pipelined with `--max-in-flight <n>` (plain-echo.ts): the plain server with a
 * window of n frames, to compare with ringwire's `--concurrency n`.
 */
export function variant(spec: string, known: ReadonlyMap<string, Contender>): Contender {
  const m = /^([\w.-]+)=([\w.-]+):(.*)$/.exec(spec.trim());
  const base = m ? known.get(m[2]!) : undefined;
  const plainWindow = m?.[2] === 'node-pipelined' && /^\s*--max-in-flight\s+[1-9]\d*\s*$/.test(m[3]!);
  if (!m || !base || !(base.name.startsWith('ringwire-') || plainWindow)) {
    throw configError(`--variant takes name='ringwire-contender:serve options' (e.g. wasm-stream='ringwire-wasm:--write stream') or name='node-pipelined:--max-in-flight <n>', got "${spec}"`);
  }
  const extra = m[3]!.trim().split(/\s+/).filter(Boolean);
  return {
    name: m[1]!,
    suite: base.suite,
    framing: base.framing,
    command: (port, s) => {
      const c = base.command(port, s);
      return { file: c.file, args: [...c.args, ...extra] };
    },
  };
}

/**
 * An external echo server from `name=command`. The command runs under `sh -c 'exec …'`
 * (so the measured process is the server, not a shell) with {port} replaced by
 * the port to listen on; it must echo every byte it reads, on 127.0.0.1. With
 * {cert} and {key} in it, it runs in the tls suite, those replaced by the files of
 * the suite's certificate and key (PEM), and must echo behind TLS.
 */
export function external(spec: string): Contender {
  const eq = spec.indexOf('=');
  const name = spec.slice(0, eq).trim();
  const cmd = spec.slice(eq + 1).trim();
  if (eq <= 0 || !cmd || !/^[\w.-]+$/.test(name)) {
    throw configError(`--external takes name='command {port}', got "${spec}"`);
  }
  if (!cmd.includes('{port}')) throw configError(`--external ${name}: the command must listen on {port}, got "${cmd}"`);
  const tls = cmd.includes('{cert}') || cmd.includes('{key}');
  if (tls && !(cmd.includes('{cert}') && cmd.includes('{key}'))) throw configError(`--external ${name}: a TLS server's command takes both {cert} and {key}, got "${cmd}"`);
  return {
    name,
    suite: tls ? 'tls' : 'echo',
    framing: () => 'raw',
    command: port => {
      let line = cmd.replaceAll('{port}', String(port));
      if (tls) line = line.replaceAll('{cert}', benchCertificates().files.cert).replaceAll('{key}', benchCertificates().files.key);
      return { file: '/bin/sh', args: ['-c', `exec ${line}`] };
    },
  };
}
