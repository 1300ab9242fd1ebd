// The serve and relay command lines, from argv to the options a server starts with:
// every flag parsed and checked (with the library's own checks, naming the flag and
// the values it takes) before anything binds, starts a thread or loads a handler.
// Invariant: parsing has no effect on the process. It reads what it must (PEM files,
// --handler-options @file, RLIMIT_NOFILE, a DNS answer for --upstream's host) and
// either returns a plan or throws a RingwireError (ERR_BAD_CONFIG with one line that
// names the flag); what the plan asks for (a raised descriptor limit, a warning, the
// server itself) is done by the caller, src/cli.ts. So the tests check parsing in
// their own process, and keep separate processes for what only a process shows.

import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { availableParallelism } from 'node:os';
import {
  configError, resolveConfig, descriptorBudget, descriptorLimit, slotsThatFit, DEFAULT_LISTENERS, portSharing,
  type Balance, type CoreKind, type TlsServerOptions, type WritePath,
} from './index.ts';
import { UNIX_WORKERS, checkWorkerServerOptions } from './workers/worker-server.ts';
import { joinNegativeValues, parseBytes, parseCount, parseDuration, parsePort } from './units.ts';
import { checkHost, checkServerOptions, checkUpstreamHost } from './net/server.ts';
import { queueBudget } from './net/endpoint-config.ts';
import { checkNumber, duration as durationRule, formatDuration, nearest, type OptionNames } from './net/option-rules.ts';
import { METRICS_DESCRIPTORS } from './metrics/metrics-listener.ts';
import { AddressRanges } from './net/address-ranges.ts';
import type { ProxyProtocol } from './net/proxy-header.ts';

/** Flags whose name is not the option's in kebab case. */
const FLAGS: Record<string, string> = {
  keepAlive: '--keepalive', writePath: '--write', zeroCopy: '--copy', noDelay: '--no-nodelay', minRateWindow: '--min-rate (its window)',
  'upstream.port': '--upstream (its port)', 'upstream.host': '--upstream (its host)', 'upstream.connectTimeout': '--upstream-connect-timeout',
  'tls.handshakeTimeout': '--tls-handshake-timeout',
};

/** The library's option checks (option-rules.ts), naming flags and showing durations with units. */
const CLI_NAMES: OptionNames = {
  name: option => FLAGS[option] ?? `--${option.replace(/[A-Z]/g, c => `-${c.toLowerCase()}`)}`,
  ms: formatDuration,
};

/** --stats-interval: a line more often than this is noise, and setInterval cannot hold more than MAX_DURATION. */
const STATS_INTERVAL = durationRule(100);

const size = (name: string, text: string | undefined) => (text === undefined ? undefined : parseBytes(name, text));
const duration = (name: string, text: string | undefined) => (text === undefined ? undefined : parseDuration(name, text));

/** --min-rate: bytes per second, optionally over a window ("500", "500/10s"); 0 turns it off. */
function rate(text: string | undefined): { bytes: number; window?: number } | undefined {
  if (text === undefined) return undefined;
  const [bytes = '', window] = text.split('/');
  if (!/^\d+$/.test(bytes)) throw configError(`--min-rate must be bytes per second like 500 or 500/10s, got "${text}"`);
  return { bytes: Number(bytes), window: window === undefined ? undefined : parseDuration('min-rate', window) };
}

/** --proxy-protocol, --proxy-trusted and --proxy-timeout, checked here so a bad value fails before anything starts (also with --workers). */
function proxyOptions(protocol: string | undefined, trusted: string | undefined, timeout: string | undefined) {
  if (protocol === undefined) {
    if (trusted !== undefined || timeout !== undefined) throw configError('--proxy-trusted and --proxy-timeout go with --proxy-protocol v1|v2|any');
    return {};
  }
  if (protocol !== 'v1' && protocol !== 'v2' && protocol !== 'any') throw configError(`--proxy-protocol must be v1, v2 or any, got "${protocol}"`);
  const proxyTrusted = trusted === undefined ? undefined : trusted.split(',').filter(t => t !== '');
  if (proxyTrusted?.length === 0) throw configError('--proxy-trusted needs at least one address or CIDR range (leave it out to trust loopback only)');
  new AddressRanges(proxyTrusted ?? [], '--proxy-trusted'); // throws on a bad range
  return { proxyProtocol: protocol as ProxyProtocol, proxyTrusted, proxyTimeout: duration('proxy-timeout', timeout) };
}

/** What fitDescriptors decided: the slots and listeners per thread to use, and what the caller must do first. */
export interface DescriptorFit {
  slots: number;
  listeners: number;
  /** Over the soft limit and the hard limit allows: re-execute under this soft limit (src/cli.ts does, through process.execve). */
  raise?: { needed: number; text: string; fields: Record<string, number> };
  /** Fewer listeners or slots than asked for: the line to log. */
  warning?: { text: string; fields: Record<string, number> };
}

/**
 * Compare slots × threads + headroom with RLIMIT_NOFILE before anything starts.
 * Over the soft limit, and the hard limit allows: ask the caller to re-execute this
 * same process (same PID, through process.execve) under `sh -c 'ulimit -S -n N && exec …'`,
 * since Node has no setrlimit. Otherwise the extra listening sockets go first
 * (one per thread: they only make accepting faster), then, as HAProxy does for
 * maxconn, slots the user did not ask for are lowered to what fits (with a
 * message); slots they asked for explicitly make the start fail (exit 2) with a
 * message saying what would fit.
 */
function fitDescriptors(slots: number, threads: number, explicit: boolean, listeners: number, other: number): DescriptorFit {
  const limit = descriptorLimit();
  if (!limit) return { slots, listeners };
  const budget = descriptorBudget(slots, threads, listeners, other);
  if (budget.needed <= limit.soft) return { slots, listeners };
  const what = `${slots} connections x ${threads} thread(s) + ${budget.headroom} for the process = ${budget.needed} descriptors`;
  if (budget.needed <= limit.hard && !process.env.RINGWIRE_NOFILE_RAISED && typeof process.execve === 'function') {
    return {
      slots, listeners,
      raise: { needed: budget.needed, text: `${what}, over the soft limit of ${limit.soft}: raising it to ${budget.needed} (hard limit ${limit.hard}) and restarting`, fields: { needed: budget.needed, soft: limit.soft, hard: limit.hard } },
    };
  }
  if (listeners > 1 && descriptorBudget(slots, threads, 1, other).needed <= Math.min(limit.soft, limit.hard)) {
    return {
      slots, listeners: 1,
      warning: { text: `${what}, over the descriptor limit (soft ${limit.soft}, hard ${limit.hard}): one listening socket per thread instead of ${listeners} (ulimit -n ${budget.needed} for all)`, fields: { needed: budget.needed, soft: limit.soft, hard: limit.hard, listeners: 1 } },
    };
  }
  const cap = Math.min(limit.soft, limit.hard);
  const one = descriptorBudget(slots, threads, 1, other);
  const fits = slotsThatFit(cap, threads, one.headroom);
  if (explicit || fits < 1) {
    throw configError(`${what}, over the descriptor limit (soft ${limit.soft}, hard ${limit.hard}): give --max-connections ${Math.max(1, fits)} or less, or raise the limit (ulimit -n ${budget.needed})`);
  }
  return {
    slots: fits, listeners: 1,
    warning: { text: `${what}, over the descriptor limit (soft ${limit.soft}, hard ${limit.hard}): serving ${fits} connections per thread instead (--max-connections to choose; ulimit -n ${budget.needed} for all)`, fields: { needed: budget.needed, soft: limit.soft, hard: limit.hard, slots: fits } },
  };
}

/** --unix: the socket path, refused beside the options of a TCP listener (and worker threads, which serve TCP only). */
function unixListen(path: string | undefined, values: Record<string, unknown>, workers: number): string | undefined {
  if (path === undefined) return undefined;
  if (path === '') throw configError('--unix needs a socket path');
  const tcp = ['host', 'port', 'listeners'].filter(k => values[k] !== undefined);
  if (tcp.length > 0) throw configError(`--unix listens on a Unix socket instead of a TCP port: leave out --${tcp.join(' and --')}`);
  if (workers > 1) throw configError(`--unix with --workers ${workers}: ${UNIX_WORKERS}`);
  return path;
}

/** --upstream: host:port, or unix:<path> for a Unix socket. */
function upstreamAddress(text: string): { host: string; port: number } | { path: string } {
  if (!text.startsWith('unix:')) return parseHostPort('upstream', text);
  const path = text.slice('unix:'.length);
  if (path === '') throw configError('--upstream unix: needs a socket path, like unix:/run/app.sock');
  return { path };
}

/** host:port (an IPv6 host in brackets: [::1]:7000); the host may be left out where a default is given. */
function parseHostPort(name: string, text: string, defaultHost?: string): { host: string; port: number } {
  const m = /^(?:(?:\[([^\]]+)\]|([^:]+)):)?(\d+)$/.exec(text);
  const host = m?.[1] ?? m?.[2] ?? defaultHost;
  if (!m || host === undefined) throw configError(`--${name} must be host:port (an IPv6 host in brackets)${defaultHost ? ' or a port' : ''}, got "${text}"`);
  return { host, port: parsePort(name, m[3]!) };
}

/** --handler-options: JSON, or @file with JSON in it, parsed before anything starts. */
function handlerOptions(text: string | undefined, handler: string | undefined): unknown {
  if (text === undefined) return undefined;
  if (handler === undefined) throw configError('--handler-options configures a handler module: give --handler <module> too');
  let json = text;
  if (text.startsWith('@')) {
    try {
      json = readFileSync(text.slice(1), 'utf8');
    } catch (err) {
      throw configError(`--handler-options: cannot read ${text.slice(1)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  try {
    return JSON.parse(json);
  } catch (err) {
    throw configError(`--handler-options must be JSON or @file.json with JSON in it: ${(err as Error).message}`);
  }
}

/** A PEM file's contents, read at start so a bad path fails before anything binds. */
function pemFile(option: string, file: string | undefined): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw configError(`--${option}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** --tls-*: the server's TLS options, or undefined without --tls-cert and --tls-key. */
function serverTls(values: Record<string, string | boolean | undefined>): TlsServerOptions | undefined {
  const given = ['tls-cert', 'tls-key', 'tls-ca', 'tls-request-cert', 'tls-handshake-timeout'].filter(k => values[k] !== undefined && values[k] !== false);
  if (given.length === 0) return undefined;
  if (values['tls-cert'] === undefined || values['tls-key'] === undefined) throw configError(`--${given[0]} is for a TLS server: give --tls-cert <file> and --tls-key <file>`);
  if (values['tls-ca'] !== undefined && !values['tls-request-cert']) throw configError('--tls-ca checks client certificates: give --tls-request-cert too');
  return {
    cert: pemFile('tls-cert', values['tls-cert'] as string),
    key: pemFile('tls-key', values['tls-key'] as string),
    ca: pemFile('tls-ca', values['tls-ca'] as string | undefined),
    requestCert: values['tls-request-cert'] === true,
    handshakeTimeout: duration('tls-handshake-timeout', values['tls-handshake-timeout'] as string | undefined),
  };
}

/** parseArgs, strict; an unknown flag is refused naming the nearest known one. */
function parseFlags<T extends ParseArgsOptionsConfig>(args: string[], options: T) {
  try {
    return parseArgs({ args: joinNegativeValues(args), strict: true, allowNegative: true, options });
  } catch (err) {
    const flag = (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'(--?[^'=]+)/.exec((err as Error).message)?.[1] : undefined;
    if (!flag) throw err;
    const near = nearest(flag, Object.keys(options).map(name => `--${name}`));
    throw configError(`unknown option ${flag}${near ? `: did you mean ${near}?` : ''} (ringwire serve --help lists them)`);
  }
}

/**
 * `ringwire serve` (or `relay`) arguments, after --profile and --perf-map were taken
 * (profiler-exec.ts): the plan a server starts from, `{ help: true }` for --help, or a
 * RingwireError (ERR_BAD_CONFIG) naming the flag and the values it takes.
 */
export async function parseServeArgs(args: string[], relay = false) {
  const { values } = parseFlags(args, {      host: { type: 'string' },
      port: { type: 'string' },
      unix: { type: 'string' },
      core: { type: 'string', default: 'wasm' },
      framing: { type: 'string', default: 'raw' },
      'max-connections': { type: 'string' },
      'max-frame': { type: 'string' },
      'max-memory': { type: 'string' },
      'rx-ring': { type: 'string' },
      'tx-ring': { type: 'string' },
      'idle-timeout': { type: 'string' },
      'ring-idle-timeout': { type: 'string' },
      'frame-timeout': { type: 'string' },
      'min-rate': { type: 'string' },
      'max-connections-per-ip': { type: 'string' },
      'evict-after': { type: 'string' },
      'stall-timeout': { type: 'string' },
      'stall-restart': { type: 'string' },
      'write-timeout': { type: 'string' },
      'handler-timeout': { type: 'string' },
      concurrency: { type: 'string' },
      'max-queued': { type: 'string' },
      'max-queued-total': { type: 'string' },
      'max-reply': { type: 'string' },
      'drain-timeout': { type: 'string' },
      backlog: { type: 'string' },
      'proxy-protocol': { type: 'string' },
      'proxy-trusted': { type: 'string' },
      'proxy-timeout': { type: 'string' },
      'upgrade-timeout': { type: 'string' },
      'max-upgrade-bytes': { type: 'string' },
      'close-timeout': { type: 'string' },
      listeners: { type: 'string' },
      keepalive: { type: 'string' },
      nodelay: { type: 'boolean', default: true },
      copy: { type: 'boolean', default: false },
      write: { type: 'string' },
      handler: { type: 'string' },
      'handler-options': { type: 'string' },
      upstream: { type: 'string' },
      cluster: { type: 'string' },
      'upstream-tls': { type: 'boolean', default: false },
      'upstream-ca': { type: 'string' },
      'upstream-connect-timeout': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      'tls-request-cert': { type: 'boolean', default: false },
      'tls-handshake-timeout': { type: 'string' },
      workers: { type: 'string', default: '1' },
      balance: { type: 'string' },
      'stats-interval': { type: 'string' },
      metrics: { type: 'string' },
      log: { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return { help: true } as const;
  if (values.core !== 'wasm' && values.core !== 'js') throw configError(`--core must be wasm or js, got "${values.core}"`);
  if (values.write !== undefined && values.write !== 'direct' && values.write !== 'stream') throw configError(`--write must be direct or stream, got "${values.write}"`);
  const port = parsePort('port', values.port ?? '7000');
  const workers = values.workers === 'auto' ? availableParallelism() : parseCount('workers', values.workers);
  const unix = unixListen(values.unix, values, workers);
  if (values.balance !== undefined && workers === 1) throw configError('--balance shares the port between worker threads: give --workers 2 or more (or auto)');
  const coreOptions = {
    framing: values.framing,
    maxConnections: values['max-connections'] === undefined ? undefined : parseCount('max-connections', values['max-connections']),
    maxFrame: size('max-frame', values['max-frame']),
    maxMemory: size('max-memory', values['max-memory']),
    rxRing: size('rx-ring', values['rx-ring']),
    txRing: size('tx-ring', values['tx-ring']),
  };
  // Fail on bad options before binding, in the mode the threads' endpoints will choose (a --handler takes frames: websocket framing needs one).
  const mode = values.handler === undefined ? 'echo' : 'handler';
  let config = resolveConfig({ ...coreOptions, mode });
  const wanted = unix !== undefined ? 1 : values.listeners === undefined ? (portSharing() ? DEFAULT_LISTENERS : 1) : parseCount('listeners', values.listeners);
  const metricsAt = values.metrics === undefined ? undefined : parseHostPort('metrics', values.metrics, '127.0.0.1');
  // Live connections hold descriptors; a quarantined slot (config.slots beyond them) has none.
  const fit = fitDescriptors(config.maxConnections, workers, values['max-connections'] !== undefined, wanted, metricsAt ? METRICS_DESCRIPTORS : 0);
  if (fit.slots !== config.maxConnections) {
    coreOptions.maxConnections = fit.slots;
    config = resolveConfig({ ...coreOptions, mode });
  }
  const keepalive = duration('keepalive', values.keepalive);
  const minRate = rate(values['min-rate']);
  if (relay && values.upstream === undefined) throw configError('ringwire relay needs --upstream <host:port> (or unix:<path>), the server each client is relayed to');
  if (values.upstream !== undefined && values.cluster !== undefined) throw configError('--cluster carries what handlers publish: a relay (--upstream) has no handler');
  const upstreamTls = values['upstream-tls'] || values['upstream-ca'] !== undefined;
  if ((upstreamTls || values['upstream-connect-timeout'] !== undefined) && values.upstream === undefined) {
    throw configError('--upstream-tls, --upstream-ca and --upstream-connect-timeout are for a relay: give --upstream <host:port> or unix:<path>');
  }
  const common = {
    ...coreOptions,
    upstream: values.upstream === undefined ? undefined : {
      ...upstreamAddress(values.upstream),
      connectTimeout: duration('upstream-connect-timeout', values['upstream-connect-timeout']),
      ...(upstreamTls ? { tls: { ca: pemFile('upstream-ca', values['upstream-ca']) } } : {}),
    },
    cluster: values.cluster,
    tls: serverTls(values),
    core: values.core as CoreKind,
    idleTimeout: duration('idle-timeout', values['idle-timeout']),
    ringIdleTimeout: duration('ring-idle-timeout', values['ring-idle-timeout']),
    writeTimeout: duration('write-timeout', values['write-timeout']),
    handlerTimeout: duration('handler-timeout', values['handler-timeout']),
    concurrency: values.concurrency === undefined ? undefined : parseCount('concurrency', values.concurrency),
    maxQueued: size('max-queued', values['max-queued']),
    maxQueuedTotal: size('max-queued-total', values['max-queued-total']),
    maxReply: size('max-reply', values['max-reply']),
    drainTimeout: duration('drain-timeout', values['drain-timeout']),
    keepAlive: keepalive === 0 ? false : keepalive,
    frameTimeout: duration('frame-timeout', values['frame-timeout']),
    minRate: minRate?.bytes,
    minRateWindow: minRate?.window,
    maxConnectionsPerIp: values['max-connections-per-ip'] === undefined ? undefined : parseCount('max-connections-per-ip', values['max-connections-per-ip']),
    stallTimeout: duration('stall-timeout', values['stall-timeout']),
    evictAfter: duration('evict-after', values['evict-after']),
    noDelay: values.nodelay,
    zeroCopy: !values.copy,
    ...proxyOptions(values['proxy-protocol'], values['proxy-trusted'], values['proxy-timeout']),
    upgradeTimeout: duration('upgrade-timeout', values['upgrade-timeout']),
    maxUpgradeBytes: size('max-upgrade-bytes', values['max-upgrade-bytes']),
    closeTimeout: duration('close-timeout', values['close-timeout']),
    writePath: values.write as WritePath | undefined,
    handlerOptions: handlerOptions(values['handler-options'], values.handler),
  };
  const backlog = values.backlog === undefined ? undefined : parseCount('backlog', values.backlog);
  const interval = duration('stats-interval', values['stats-interval']);
  // The library's own checks, before anything starts, each naming its flag and the values it takes.
  if (values.host !== undefined) checkHost('host', values.host, CLI_NAMES);
  checkNumber('statsInterval', interval, STATS_INTERVAL, CLI_NAMES);
  const stallRestart = duration('stall-restart', values['stall-restart']);
  if (workers === 1) {
    if (stallRestart !== undefined) throw configError('--stall-restart replaces a stalled worker: give --workers 2 or more (or auto)');
    checkServerOptions(common, CLI_NAMES);
  } else {
    checkWorkerServerOptions({ ...common, workers, stallRestart, balance: values.balance as Balance | undefined }, CLI_NAMES);
  }
  queueBudget(config, common, CLI_NAMES);
  if (common.upstream && 'host' in common.upstream) await checkUpstreamHost(common.upstream.host, CLI_NAMES);
  return {
    help: false, values, workers, unix, port, config, common, upstreamTls, backlog, interval, stallRestart, metricsAt,
    /** What fitting the descriptor limit decided: listeners per thread, and a raise or a warning for the caller. */
    descriptors: fit,
  } as const;
}

/** A plan to start a server from (not --help). */
export type ServePlan = Exclude<Awaited<ReturnType<typeof parseServeArgs>>, { help: true }>;
