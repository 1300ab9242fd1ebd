#!/usr/bin/env node
// The ringwire command line: serve and relay (until a signal), bench, doctor and
// profile-report; it parses arguments and calls the library.
// Everything it does is available from the library (src/index.ts).

import {
  createServer, createWorkerServer, memoryBudget, WorkerServer, configError,
  type ConnectionInfo, type MemoryBudget, type RingwireError, type RingwireServer, type ServerStats, type StatsSnapshot, type StallInfo,
  TooManyConnectionsPerIpError, DEFAULTS, DEFAULT_LISTENERS, type Balance,
} from './index.ts';
import { parseServeArgs } from './serve-args.ts';
import { parseArgs } from 'node:util';
import { loadHandler } from './workers/handler-module.ts';
import { execWithProfiler } from './profile/profiler-exec.ts';
import { Logger, parseLogFormat, parseLogLevel } from './logger.ts';
import { MetricsRegistry } from './metrics/registry.ts';
import { metricsAddress, serveMetrics } from './metrics/metrics-listener.ts';

/** Every line goes through this; replaced once serve's --log and --log-level are known. */
let log = new Logger();

const HELP = `ringwire — framed TCP with ring buffers in WebAssembly shared memory

Usage:
  ringwire serve [options]      run an echo server (Ctrl-C drains and stops it)
  ringwire relay --upstream <host:port|unix:path> [options]
                                a framing-aware relay: each client gets its own connection to the
                                upstream, frames both ways (= serve --upstream)
  ringwire bench [options]      benchmark ringwire against plain Node (ringwire bench --help)
  ringwire doctor [options]     check this machine's limits against a configuration (ringwire doctor --help)
  ringwire profile-report <f>   where a --profile run's CPU time went, by part of the pipeline
  ringwire --help | --version

Options for serve:
  --host <addr>             address to bind (default 127.0.0.1)
  --port <n>                port (default 7000; 0 picks a free one)
  --unix <path>             listen on this Unix socket path instead of a TCP port (no --host, --port,
                            --listeners or --workers): a socket file left by a killed server is
                            replaced, one another server listens on is EADDRINUSE; removed on exit
  --core <wasm|js>          the WASM core (default) or its TypeScript twin
  --framing <spec>          how bytes split into frames (default raw):
                              raw                      stream echo, bytes as they arrive
                              length[:<1|2|3|4|8>][:<be|le>][:offset=N][:adjust=N][:strip=N]
                                                       length prefix (default length:4:be)
                              varint                   unsigned LEB128 length prefix
                              line | line:cr           \\n-terminated (line:cr drops a \\r before it)
                              delimiter:<bytes>[:cr]   any 1-16 delimiter bytes; escapes \\n \\r \\t \\0 \\xHH
                              fixed:<n>                frames of n bytes
                              websocket                RFC 6455: an HTTP upgrade, then whole messages
                                                       (text or binary) to the --handler, which it needs;
                                                       pings answered, the close handshake (docs/websocket.md)
  --max-connections <n>     connections at once, per thread (default ${DEFAULTS.maxConnections}); memory is --max-memory's;
                            those closed while their handler hangs (--handler-timeout) do not count,
                            up to as many again
  --max-frame <bytes>       largest frame payload (default ${DEFAULTS.maxFrame})
  --max-memory <bytes>      the ring pool per thread: connections' rings come from it as their
                            traffic needs, and go back when idle; a connection it cannot serve
                            closes with ERR_MEMORY_EXHAUSTED (default: every connection at its
                            largest rings, at most ${DEFAULTS.maxMemory / 2 ** 30} GiB)
  --ring-idle-timeout <time>
                            a connection idle this long gives its rings back to the pool (default
                            100ms; 0s: it keeps them while open)
  --rx-ring <bytes>         the largest receive ring of a connection, a power of two (default ${DEFAULTS.ring / 1024}k, or what --max-frame needs)
  --tx-ring <bytes>         the largest transmit ring of a connection, a power of two (default ${DEFAULTS.ring / 1024}k, or what --max-frame needs)
  --idle-timeout <time>     close connections idle this long (default 5m; 0s: never); times take a
                            unit: 500ms, 30s, 5m, 1h
  --frame-timeout <time>    a frame must complete this long after its first byte, else
                            ERR_FRAME_TIMEOUT (default 30s; 0s: never)
  --min-rate <bytes/s>[/<time>]
                            while a frame is incomplete, the peer must send this many bytes/s,
                            averaged over the window (default 500/10s), else ERR_TOO_SLOW; 0: off
  --max-connections-per-ip <n>
                            connections one address (IPv6: one /64) may hold, across all workers;
                            more are refused with ERR_TOO_MANY_CONNECTIONS (default: no cap)
  --evict-after <time>      at the connection limit, a new client takes the slot of the connection
                            whose incomplete frame arrives slowest, under --min-rate, once that
                            frame is this old (closed with ERR_EVICTED; a client at or above
                            --min-rate is never evicted; default 1s; 0s: never, the new client is refused)
  --stall-timeout <time>    report a thread whose event loop was blocked this long (default 1s)
  --stall-restart <time>    with --workers: replace a worker blocked this long (default 30s; 0s: never)
  --write-timeout <time>    close a connection whose replies make no progress this long with
                            ERR_SLOW_CONSUMER (default 30s; 0s: never)
  --handler-timeout <time>  close a connection whose handler has not settled this long with
                            ERR_HANDLER_TIMEOUT: its socket at once, its slot once the handler
                            settles (default 30s; 0s: never)
  --concurrency <n>         frames of one connection out with the handler's onFrame at once;
                            replies still leave in frame order (default 1: one at a time,
                            which a handler keeping per-connection state relies on)
  --max-queued <bytes>      replies one connection may queue beyond its tx ring before
                            ERR_SLOW_CONSUMER (default 4 x --tx-ring, or --max-reply if larger)
  --max-queued-total <bytes> replies all connections may queue beyond their tx rings (default 64m,
                            or one connection's --max-queued if larger)
  --max-reply <bytes>       the largest reply a handler may send; one larger than the tx ring is
                            streamed through it (default 4 x --tx-ring)
  --drain-timeout <time>    on SIGINT/SIGTERM, how long handlers in flight may take to settle and
                            every frame read to be answered before each connection gets its FIN;
                            past it, connections with frames unanswered are reset, counted as
                            ERR_DRAIN_TIMEOUT, and the exit code is 1 (default 10s)
  --proxy-protocol <v1|v2|any>
                            every connection starts with a PROXY protocol header from a load
                            balancer (HAProxy send-proxy / send-proxy-v2); handlers see the client
                            it names; bad, missing or late headers close with ERR_PROXY_HEADER
  --proxy-trusted <cidr,...> the balancers' addresses (IPv4/IPv6 CIDRs or addresses); connections
                            from anywhere else are refused (default with --proxy-protocol: loopback,
                            127.0.0.0/8,::1)
  --proxy-timeout <time>    the whole PROXY header must arrive this soon after the connection
                            (default 3s; 0s: never)
  --upgrade-timeout <time>  --framing websocket: the upgrade (the request and the handler's
                            onUpgrade answer) must be done this soon after it starts (after the PROXY
                            header and TLS), else a 408 and ERR_UPGRADE (default 10s; 0s: never)
  --max-upgrade-bytes <bytes>
                            --framing websocket: the longest upgrade request head; a longer one is
                            answered 431 with ERR_UPGRADE (default 8k)
  --close-timeout <time>    --framing websocket: how long a connection that sent its close frame
                            waits for the peer's before its FIN (default 5s)
  --backlog <n>             the kernel's queue of connections not yet accepted, per listening
                            socket (default 511)
  --listeners <n>           listening sockets per thread on the port (SO_REUSEPORT; default ${DEFAULT_LISTENERS}
                            on Linux): libuv accepts one connection per wake-up of each, so a busy
                            thread takes new clients sooner with more (1 where descriptors are short)
  --keepalive <time>        TCP keepalive: idle time before the first probe (default 60s; 0s: off)
  --no-nodelay              let the kernel coalesce small replies (Nagle); TCP_NODELAY is on by default
                            (socket buffer sizes: Node cannot set SO_RCVBUF/SO_SNDBUF on TCP sockets,
                            so the kernel's net.ipv4.tcp_rmem/tcp_wmem apply: see ringwire doctor)
  --copy                    copy reads into the rings instead of reading into them directly
  --write <direct|stream>   how replies reach the kernel: direct writes the tx ring through the
                            socket's handle, stream through socket.write (Node's Writable); default
                            direct on the Node majors ringwire is tested on, once a write probe at
                            start passes, else stream with a warning (direct by name skips the
                            version check, not the probe)
  --upstream <host:port|unix:path>
                            relay: forward each client's frames to its own connection to
                            host:port (or the Unix socket path) and back, validated at the edge, inside the core,
                            each frame's bytes as they arrive once its header is valid (cut-through: the rings stay
                            at 64 KiB whatever --max-frame is; each client takes two connection slots); a --handler
                            exporting onForward(frame, from, to) sees each whole frame on its way and may drop it
                            (return false) or replace it (return bytes)
  --upstream-tls            relay: connect to the upstream with TLS, verifying its certificate
                            against the system's CAs, or --upstream-ca
  --upstream-ca <file>      relay: the CA certificates (PEM) the upstream's certificate is checked
                            against (implies --upstream-tls)
  --upstream-connect-timeout <time>
                            relay: give up a connection to the upstream after this long; its
                            client is closed (default 10s)
  --tls-cert <file>         serve TLS with this certificate chain (PEM; needs --tls-key): every
                            connection is decrypted before framing, and opens after its handshake
  --tls-key <file>          the private key of --tls-cert (PEM)
  --tls-ca <file>           CA certificates (PEM) that client certificates are checked against
                            (with --tls-request-cert)
  --tls-request-cert        ask every client for a certificate and refuse, with ERR_TLS, one that
                            --tls-ca (or the system's CAs) did not sign
  --tls-handshake-timeout <time>
                            close a connection whose TLS handshake is not done this long after it
                            was accepted (after its PROXY header, with --proxy-protocol) with
                            ERR_TLS (default 10s; 0s: never)
  --handler <module>        a module exporting hooks (onFrame(frame, connection), onOpen, onClose,
                            onDrain, onConnection; onUpgrade with --framing websocket) or a default
                            onFrame, that answers frames instead of the echo; imported by every
                            worker. Its onStart(context) runs once per thread before it accepts (a
                            throw stops the start), its onStop(context) once per thread after the
                            drain (within --drain-timeout)
  --handler-options <json|@file.json>
                            configuration for the --handler module, as JSON or a JSON file: every
                            thread's onStart sees it as context.options
  --cluster <redis://host:port>
                            carry publish(topic, bytes) to every ringwire host serving the same
                            cluster, through Redis pub/sub (needs the optional dependency
                            @redis/client); what is published while Redis is down reaches this
                            host only
  --workers <n|auto>        worker threads, each with its own event loop and core (default 1: the
                            main thread; auto: one per available CPU)
  --balance <mode>          how workers share the port: transfer (the default on Node >= 24.20:
                            this thread only accepts, and hands each connection to the least busy
                            worker) or reuseport (the kernel spreads connections; the default on
                            older Node)
  --stats-interval <time>   print connections, frames/s, MB/s, errors (by code) and pauses this often
                            (100ms or more)
  --metrics [host:]<port>   serve Prometheus metrics at http://host:port/metrics (host default
                            127.0.0.1): connections, closes by reason, bytes, frames, errors by code,
                            backpressure, event-loop lag per worker, process CPU and memory; at most
                            16 scrape connections, closed after 5s without a request, counted in the
                            descriptor budget
  --log <format>            pretty (default: human lines, the listening and stats lines on stdout,
                            the rest on stderr), json (one pino-style JSON object per line, all on
                            stdout) or silent
  --log-level <level>       trace, debug, info (default), warn, error or fatal: lines below it are
                            not written (connection errors are warn, ERR_SOCKET debug)
  --profile <dir>           write a V8 CPU profile of every thread to <dir> when the server stops
                            (read them with ringwire profile-report <dir>)
  --perf-map                run Node with --perf-basic-prof, so perf names JS and WASM functions
  -h, --help                this text

Sizes take k and m suffixes (powers of 1024). Durations are at most 576h (24 days).
A value the server cannot honour is refused at start, naming the flag and what it takes.
Every connection echoes each whole
frame back exactly as it arrived; a frame over --max-frame or a length that
cannot be valid closes that connection only, after answering the frames before it.
`;

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

type AnyServer = RingwireServer | WorkerServer;

/** What changed since the last one, for --stats-interval: a line, and its figures for JSON. */
function statsLine(now: ServerStats, before: StatsSnapshot, seconds: number): { msg: string; fields: Record<string, unknown> } {
  const t = now.total;
  const rate = (n: number) => n / seconds;
  const fields = {
    connections: t.connections,
    workers: now.workers.map(w => w.connections),
    framesPerSecond: Math.round(rate(t.framesIn - before.framesIn)),
    bytesInPerSecond: Math.round(rate(t.bytesIn - before.bytesIn)),
    bytesOutPerSecond: Math.round(rate(t.bytesOut - before.bytesOut)),
    errors: t.errors - before.errors,
    errorsByCode: errorsSince(t, before),
    backpressurePauses: t.backpressurePauses - before.backpressurePauses,
  };
  const codes = Object.entries(fields.errorsByCode).map(([code, n]) => `${code} ${n}`);
  const msg = `${t.connections} connections${now.workers.length > 1 ? ` (${fields.workers.join('+')})` : ''}, `
    + `${fields.framesPerSecond.toLocaleString('en-US')} frames/s in, `
    + `${(fields.bytesInPerSecond / 1e6).toFixed(2)} MB/s in, ${(fields.bytesOutPerSecond / 1e6).toFixed(2)} MB/s out, `
    + `${fields.errors} errors${codes.length ? ` (${codes.join(', ')})` : ''}, ${fields.backpressurePauses} backpressure pauses`;
  return { msg, fields };
}

/** The errors since the last line, by code (only those that happened). */
function errorsSince(now: StatsSnapshot, before: StatsSnapshot): Record<string, number> {
  const since: Record<string, number> = {};
  for (const [code, n] of Object.entries(now.errorsByCode)) {
    const d = n - (before.errorsByCode[code] ?? 0);
    if (d > 0) since[code] = d;
  }
  return since;
}

/** --log and --log-level, read before anything else so that every line, the first too, is in that format. */
function loggerFor(args: string[]): Logger {
  const { values } = parseArgs({ args, strict: false, options: { log: { type: 'string' }, 'log-level': { type: 'string' } } });
  const format = typeof values.log === 'string' ? parseLogFormat(values.log) : 'pretty';
  const level = typeof values['log-level'] === 'string' ? parseLogLevel(values['log-level']) : 'info';
  return new Logger({ format, level });
}

async function serve(args: string[], relay = false): Promise<void> {
  log = loggerFor(args);
  args = execWithProfiler(relay ? 'relay' : 'serve', args, text => log.info(text)); // --profile, --perf-map: restart Node with its profiler flags
  const plan = await parseServeArgs(args, relay);
  if (plan.help) {
    process.stdout.write(HELP);
    return;
  }
  const { values, workers, unix, port, config, common, upstreamTls, backlog, interval, stallRestart, metricsAt, descriptors } = plan;
  if (descriptors.raise) {
    // Node has no setrlimit: the same process (same PID) again under the raised soft limit, through a shell's ulimit.
    log.warn(descriptors.raise.text, descriptors.raise.fields);
    process.execve!('/bin/sh', ['sh', '-c', `ulimit -S -n ${descriptors.raise.needed} && exec "$0" "$@"`, process.execPath, ...process.execArgv, ...process.argv.slice(1)],
      { ...process.env, RINGWIRE_NOFILE_RAISED: '1' });
  }
  if (descriptors.warning) log.warn(descriptors.warning.text, descriptors.warning.fields);
  let server: AnyServer;
  let budget: MemoryBudget;
  if (workers === 1) {
    const single = createServer({ ...common, ...(values.handler ? await loadHandler(values.handler) : {}) });
    await single.start();
    budget = single.memoryBudget();
    server = single;
  } else {
    server = createWorkerServer({
      ...common, workers, balance: values.balance as Balance | undefined, handler: values.handler, stallRestart,
    });
    budget = memoryBudget(config, common.maxQueued, common.maxQueuedTotal, common.maxReply); // per worker: each builds its own core
  }
  // Per-connection lines are rate-limited per cause: a flood of bad clients costs a few lines.
  const onClientError = (err: RingwireError, c: ConnectionInfo) => {
    const cause = err instanceof TooManyConnectionsPerIpError ? 'ERR_TOO_MANY_CONNECTIONS (per IP)' : err.code;
    const peer = c.remoteAddress === undefined ? '' : `${c.remoteAddress}:${c.remotePort} `;
    // A peer that resets is ordinary on the internet: debug, not warn.
    log.log(err.code === 'ERR_SOCKET' ? 'debug' : 'warn', err.message, {
      code: err.code, connection: c.id, remoteAddress: c.remoteAddress, remotePort: c.remotePort, refused: c.id === null,
    }, { cause, text: `ringwire: ${peer}${err.code}: ${err.message}` });
  };
  // An onStop that threw or overran --drain-timeout (a worker is then terminated): the exit says so.
  const onStopError = (err: RingwireError, info: { thread: number; threads: number }) => {
    log.error(err.message, { code: err.code, ...info });
    process.exitCode = 1;
  };
  const onStall = (s: StallInfo) => {
    const where = s.worker === undefined ? `the main thread (thread ${s.threadId})` : `worker ${s.worker} (thread ${s.threadId})`;
    log.warn(`stall: ${where}: event loop blocked for ${s.ms} ms`, { worker: s.worker, threadId: s.threadId, ms: s.ms }, { cause: 'stall' });
  };
  if (server instanceof WorkerServer) {
    const pool = server;
    pool.on('clientError', onClientError);
    pool.on('stall', onStall);
    pool.on('stopError', onStopError);
    pool.on('workerExit', (err, info) => log.error(err.message, { code: err.code, ...info, error: info.error?.message }));
    pool.on('workerStart', ({ worker, threadId }) => {
      const restarts = pool.stats().workers[worker]?.restarts ?? 0;
      log.log(restarts > 0 ? 'info' : 'debug', `worker ${worker} (thread ${threadId}) started${restarts > 0 ? ` again (restart ${restarts})` : ''}`, { worker, threadId, restarts });
    });
  } else {
    server.on('clientError', onClientError);
    server.on('stall', onStall);
    server.on('stopError', onStopError);
  }
  server.cluster?.on('down', err => log.warn(`cluster: lost Redis (${err.message}): reconnecting; publishes reach this host only until then`, { error: err.message }, { cause: 'cluster' }));
  server.cluster?.on('up', () => log.info('cluster: Redis is back'));
  // Signals drain from the start: a supervisor may stop us as soon as it sees the listening line.
  let timer: NodeJS.Timeout | undefined;
  let metricsServer: import('node:http').Server | undefined;
  let signals = 0;
  const stop = (signal: string) => {
    if (++signals > 1) {
      log.warn(`${signal} again, exiting without draining`, { signal });
      process.exit(1);
    }
    clearInterval(timer);
    const connections = server.stats().total.connections;
    log.info(`${signal}: draining ${connections} connection(s)`, { signal, connections });
    void server.close().then(() => {
      // Metrics stay up while the server drains: the last scrape sees the drain.
      metricsServer?.close();
      metricsServer?.closeAllConnections();
      log.flush();
      const s = server.stats().total;
      const codes = Object.entries(s.errorsByCode).map(([code, n]) => `${code} ${n}`).join(', ');
      log.info(`closed after ${s.accepted} connections, ${s.framesIn} frames in, ${s.framesOut} frames out, ${s.errors} errors${codes ? ` (${codes})` : ''}`,
        { accepted: s.accepted, framesIn: s.framesIn, framesOut: s.framesOut, bytesIn: s.bytesIn, bytesOut: s.bytesOut, errors: s.errors, errorsByCode: s.errorsByCode, drainUnanswered: s.drainUnanswered });
      // Exit 1 when the drain ran out of time with something read and not answered (or not delivered): a supervisor sees it.
      const reset = s.errorsByCode.ERR_DRAIN_TIMEOUT ?? 0;
      if (reset > 0 || s.drainUnanswered > 0) {
        log.error(`drain timed out: ${s.drainUnanswered} frame(s) read and not answered; ${reset} connection(s) reset (ERR_DRAIN_TIMEOUT); raise --drain-timeout`,
          { code: 'ERR_DRAIN_TIMEOUT', drainUnanswered: s.drainUnanswered, connections: reset });
        process.exitCode = 1;
      }
      log.flush();
      // Drained: a handler that never settled (or a timer of its module) must not keep the process up.
      process.exit();
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  const addr = unix !== undefined && !(server instanceof WorkerServer)
    ? await server.listen({ path: unix, backlog })
    : await server.listen({ port, host: values.host ?? '127.0.0.1', backlog, listeners: descriptors.listeners });
  if (metricsAt) {
    try {
      metricsServer = await serveMetrics(new MetricsRegistry(server), metricsAt.port, metricsAt.host);
    } catch (err) {
      await server.close();
      throw Object.assign(new Error(`--metrics ${values.metrics}: ${(err as Error).message}`), { code: (err as NodeJS.ErrnoException).code });
    }
  }
  const rings = `${config.maxConnections} connections, rings of ${config.minRing / 1024}k to ${config.rxSize / 1024}k rx and ${config.txSize / 1024}k tx`;
  const memory = `${mib(budget.total)} at most (${budget.baseline > 0 ? `${mib(budget.baseline)} of process baseline + ` : ''}${mib(budget.rings)} of ring pool for ${rings} + ${mib(budget.connections)} of connection state + ${mib(budget.queued)} of queued replies)`;
  const threads = server instanceof WorkerServer ? ` workers=${server.size} balance=${server.balance} memory=${memory} per worker` : ` memory=${memory}`;
  const where = typeof addr === 'string' ? `unix:${addr}` : `${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  const metricsWhere = metricsServer ? ` metrics=http://${metricsAddress(metricsServer)}/metrics` : '';
  const { help, ...options } = values;
  log.info(`listening on ${where}`, {
    ...(typeof addr === 'string' ? { path: addr } : { address: addr.address, port: addr.port }), core: values.core, framing: config.framingText, handler: values.handler, upstream: values.upstream, cluster: values.cluster, tls: common.tls !== undefined, upstreamTls,
    workers: server instanceof WorkerServer ? server.size : 1, balance: server instanceof WorkerServer ? server.balance : undefined,
    metrics: metricsServer ? `http://${metricsAddress(metricsServer)}/metrics` : undefined,
    memory: { total: budget.total, baseline: budget.baseline, rings: budget.rings, connections: budget.connections, queued: budget.queued, maxConnections: config.maxConnections, slots: config.slots, maxMemory: config.regions.arenaSize, minRing: config.minRing, rxRing: config.rxSize, txRing: config.txSize, perWorker: server instanceof WorkerServer },
    options,
  }, {
    stdout: true,
    text: `ringwire listening on ${where} core=${values.core} framing=${config.framingText}${values.handler ? ` handler=${values.handler}` : ''}${values.upstream ? ` upstream=${values.upstream}${upstreamTls ? ' (tls)' : ''}` : ''}${common.tls ? ' tls' : ''}${values.cluster ? ` cluster=${values.cluster}` : ''}${common.proxyProtocol ? ` proxy=${common.proxyProtocol} trusted=${common.proxyTrusted?.join(',') ?? 'loopback'}` : ''}${threads}${values.copy ? ' copy' : ''}${values.write === 'stream' ? ' write=stream' : ''}${metricsWhere}`,
  });

  if (interval) {
    let before = server.stats().total;
    let at = performance.now();
    timer = setInterval(() => {
      const t = performance.now();
      const now = server.stats();
      const { msg, fields } = statsLine(now, before, (t - at) / 1000);
      log.info(msg, fields, { stdout: true });
      before = now.total;
      at = t;
    }, interval);
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP);
    return;
  }
  if (command === '--version') {
    const { createRequire } = await import('node:module');
    console.log(createRequire(import.meta.url)('../package.json').version);
    return;
  }
  if (command === 'serve') return serve(rest);
  if (command === 'relay') return serve(rest, true);
  if (command === 'bench') {
    const { benchCommand } = await import('./bench/bench-command.ts');
    process.exitCode = await benchCommand(rest);
    return;
  }
  if (command === 'profile-report') {
    const { profileReportCommand } = await import('./profile/profile-report.ts');
    process.exitCode = await profileReportCommand(rest);
    return;
  }
  if (command === 'doctor') {
    const { doctorCommand } = await import('./doctor/doctor-command.ts');
    process.exitCode = await doctorCommand(rest);
    return;
  }
  throw configError(`unknown command "${command}"; try ringwire --help`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const { message, code } = err as { message?: string; code?: string };
  log.fatal(message ?? String(err), { code }, { text: `ringwire: ${message ?? String(err)}${code ? ` (${code})` : ''}` });
  process.exit(2);
});
