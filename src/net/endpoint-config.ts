// An endpoint's configuration: its options (EndpointOptions, endpoint.ts) resolved
// once, when the endpoint is built, into an immutable, validated object with
// every default filled in. Nothing else reads the options.
// Invariants: every key of EndpointOptions has a rule here (the `satisfies` below
// makes a new option without one a compile error), so an unknown option is
// ERR_BAD_CONFIG naming it, never ignored; every number is inside the range it
// can be honoured in (option-rules.ts); what depends on the core's rings (the
// queue limits' defaults, and how they bound each other) is resolved by
// queueBudget() once the core's configuration is known. The command line checks
// its flags with these same functions, naming them as flags.

import type { CoreConfig, CoreOptions } from '../core/config.ts';
import type { Core, CoreKind } from '../core/core.ts';
import { configError } from '../core/errors.ts';
import { AddressRanges, LOOPBACK } from './address-ranges.ts';
import { WRITE_PATHS, type WritePath } from './direct-write.ts';
import type { EndpointOptions } from './endpoint.ts';
import { CONNECTION_HOOKS, type Handler } from './handler.ts';
import { HEARTBEAT_PERIOD } from './heartbeat.ts';
import { API_NAMES, checkOptions, checkTls, deadline, duration, OTHER, whole, type OptionNames, type Rule } from './option-rules.ts';
import type { ProxyProtocol } from './proxy-header.ts';
import type { TlsServerOptions } from './tls-context.ts';

export const DEFAULT_WRITE_TIMEOUT = 30_000;
/** Deadlines on by default; docs/limits-and-errors.md ("Hostile clients") says why these values. */
export const DEFAULT_IDLE_TIMEOUT = 300_000;
export const DEFAULT_FRAME_TIMEOUT = 30_000;
export const DEFAULT_MIN_RATE = 500;
export const DEFAULT_MIN_RATE_WINDOW = 10_000;
export const DEFAULT_KEEPALIVE = 60_000;
export const DEFAULT_STALL_TIMEOUT = 1000;
export const DEFAULT_EVICT_AFTER = 1000;
export const DEFAULT_MAX_QUEUED_TOTAL = 64 * 1024 * 1024;
export const DEFAULT_PROXY_TIMEOUT = 3000;
export const DEFAULT_DRAIN_TIMEOUT = 10_000;
/**
 * websocket framing: the whole upgrade (request, onUpgrade's answer, a client's 101)
 * within this many ms. Longer than proxyTimeout: a browser's request crosses the
 * internet (and TLS before it has its own deadline); a client that connects and says
 * nothing is cut off as soon as a PROXY header's would be, give or take a round trip.
 */
export const DEFAULT_UPGRADE_TIMEOUT = 10_000;
/** websocket framing: close()'s wait for the peer's close frame (closeTimeout). */
export const DEFAULT_CLOSE_TIMEOUT = 5000;
/** The longest upgrade head taken by default: 8 KiB, what nginx's and Node's http parsers allow per header line (browsers send well under 1 KiB, cookies aside). */
export const DEFAULT_MAX_UPGRADE_BYTES = 8192;
const MIN_UPGRADE_BYTES = 256;
const MAX_UPGRADE_BYTES = 65536;
/**
 * Short, because the ring pool's memory is never given back to the OS: what stays
 * resident is the most rings held at once, and connections arriving in a burst
 * (19,000 in 2 s, each echoing one frame, then idle) left 1.2-1.7 KiB each of it
 * resident at 1 s, 0.2 KiB at 100 ms. A busy connection keeps its rings; one idle
 * past it pays one copy of at most minRing bytes when it next reads.
 */
export const DEFAULT_RING_IDLE_TIMEOUT = 100;
/**
 * As long as the other deadlines that say a peer is stuck (writeTimeout,
 * frameTimeout): a handler gets no more patience than a client, and a database
 * call or an RPC that has not answered in 30 s is hung, not slow.
 */
export const DEFAULT_HANDLER_TIMEOUT = 30_000;
/**
 * One frame at a time unless asked: overlapping a connection's frames changes
 * what a handler can assume (a SET and the GET after it may then run at once),
 * so it is never switched on silently.
 */
export const DEFAULT_CONCURRENCY = 1;
/** More frames than this out at once for one connection is a mistake, not a tuning (each holds its rx bytes and a context). */
export const MAX_CONCURRENCY = 65536;
/** Linux takes a TCP keepalive idle time of 1 to 32767 s (TCP_KEEPIDLE); Node sets it in whole seconds. */
export const KEEPALIVE_RANGE = { min: 1000, max: 32_767_000 } as const;

/** Every endpoint option and what it may be: the core's own are checked by resolveConfig (core/config.ts) when the core is built. */
export const ENDPOINT_RULES = {
  framing: OTHER, maxConnections: OTHER, quarantineSlots: OTHER, maxFrame: OTHER, rxRing: OTHER, txRing: OTHER, minRing: OTHER, maxMemory: OTHER, frameListCapacity: OTHER,
  onOpen: OTHER, onUpgrade: OTHER, onFrame: OTHER, onDrain: OTHER, onClose: OTHER, onConnection: OTHER, onForward: OTHER, onAsk: OTHER,
  core: OTHER,
  idleTimeout: deadline(),
  ringIdleTimeout: deadline(),
  frameTimeout: deadline(),
  minRate: { kind: 'int', min: 0, max: 2 ** 30, unit: 'bytes/s' },
  minRateWindow: duration(100),
  maxConnectionsPerIp: whole(0, 1 << 20),
  evictAfter: deadline(),
  addressTable: OTHER,
  // The heartbeat ticks every HEARTBEAT_PERIOD ms: a shorter stall cannot be told from a late tick.
  stallTimeout: deadline(HEARTBEAT_PERIOD),
  heartbeat: OTHER,
  writeTimeout: deadline(),
  handlerTimeout: deadline(),
  concurrency: whole(1, MAX_CONCURRENCY),
  maxQueued: whole(1, 2 ** 32, 'bytes'),
  maxReply: whole(1, 2 ** 32, 'bytes'),
  maxQueuedTotal: whole(1, 2 ** 40, 'bytes'),
  zeroCopy: OTHER,
  writePath: OTHER,
  noDelay: OTHER,
  keepAlive: OTHER,
  drainTimeout: duration(0),
  proxyProtocol: OTHER,
  proxyTrusted: OTHER,
  proxyTimeout: deadline(),
  upgradeTimeout: deadline(),
  closeTimeout: duration(1),
  maxUpgradeBytes: whole(MIN_UPGRADE_BYTES, MAX_UPGRADE_BYTES, 'bytes'),
  signal: OTHER,
  tls: OTHER,
} as const satisfies { readonly [K in keyof Required<EndpointOptions>]: Rule };

/** An endpoint's options, resolved: defaults filled in, checked, frozen. */
export interface EndpointConfig<Data = any> {
  readonly core: CoreKind | Core;
  /** What the core is built from (core/config.ts checks it). */
  readonly coreOptions: Readonly<Omit<CoreOptions, 'mode'>>;
  /** The hooks given, each a function. */
  readonly handler: Readonly<Handler<Data>>;
  readonly idleTimeout: number;
  readonly ringIdleTimeout: number;
  readonly frameTimeout: number;
  readonly minRate: number;
  readonly minRateWindow: number;
  readonly maxConnectionsPerIp: number;
  readonly evictAfter: number;
  readonly stallTimeout: number;
  readonly writeTimeout: number;
  readonly handlerTimeout: number;
  /** Frames of one connection out with onFrame at once (DEFAULT_CONCURRENCY: one). */
  readonly concurrency: number;
  /** Given, or undefined: then 4 tx rings (queueBudget, once the core is known). */
  readonly maxQueued: number | undefined;
  readonly maxReply: number | undefined;
  /** Unset: DEFAULT_MAX_QUEUED_TOTAL, or one connection's maxQueued if larger (queueBudget(), once the core is known). */
  readonly maxQueuedTotal: number | undefined;
  readonly zeroCopy: boolean;
  /** Given, or undefined: start() chooses (direct-write.ts, chooseWritePath). */
  readonly writePath: WritePath | undefined;
  readonly noDelay: boolean;
  /** TCP keepalive: false, or the idle ms before the first probe (0: the system's). */
  readonly keepAlive: number | false;
  readonly drainTimeout: number;
  /** Off (undefined), or the header versions accepted. */
  readonly proxyProtocol: ProxyProtocol | undefined;
  /** The balancers trusted to send a PROXY header; undefined when proxyProtocol is off. */
  readonly proxyTrusted: AddressRanges | undefined;
  /** proxyTimeout, or 0 without proxyProtocol. */
  readonly proxyTimeout: number;
  /** websocket framing: the upgrade's deadline and the longest head (defaults filled in; unused with other framings). */
  readonly upgradeTimeout: number;
  readonly maxUpgradeBytes: number;
  /** websocket framing: how long close() waits for the peer's close frame before our FIN. */
  readonly closeTimeout: number;
  readonly addressTable: SharedArrayBuffer | undefined;
  readonly heartbeat: SharedArrayBuffer | undefined;
  readonly signal: AbortSignal | undefined;
  readonly tls: TlsServerOptions | undefined;
}

/** Resolve and check an endpoint's options (ERR_BAD_CONFIG naming the first one that cannot be honoured). */
export function endpointConfig<Data>(options: EndpointOptions<Data>, names: OptionNames = API_NAMES): EndpointConfig<Data> {
  checkOptions(options, ENDPOINT_RULES, '', names);
  const o = options;
  const handler: Handler<Data> = {};
  for (const name of CONNECTION_HOOKS) {
    const hook = o[name];
    if (hook === undefined) continue;
    if (typeof hook !== 'function') throw configError(`${name} must be a function, got ${typeof hook}`);
    // onFrame is called detached, per frame (delivery.ts): bound here, once, so that its `this` is
    // the handler, as for the hooks called as its methods (bind keeps `length`: the `reply` rule).
    (handler as Record<string, unknown>)[name] = name === 'onFrame' ? hook.bind(handler) : hook;
  }
  if (handler.onFrame && handler.onConnection) throw configError('give onFrame or onConnection, not both: a connection\'s frames go to one of them');
  const writePath = o.writePath;
  if (writePath !== undefined && !WRITE_PATHS.includes(writePath)) throw configError(`${names.name('writePath')} must be 'direct' or 'stream', got ${String(writePath)}`);
  for (const name of ['zeroCopy', 'noDelay'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'boolean') throw configError(`${names.name(name)} must be true or false, got ${String(o[name])}`);
  }
  checkTls('tls', o.tls, names);
  const { framing, maxConnections, quarantineSlots, maxFrame, rxRing, txRing, minRing, maxMemory, frameListCapacity } = o;
  const proxyTrusted = proxyRanges(o);
  return Object.freeze({
    core: o.core ?? 'wasm',
    coreOptions: Object.freeze({ framing, maxConnections, quarantineSlots, maxFrame, rxRing, txRing, minRing, maxMemory, frameListCapacity }),
    handler: Object.freeze(handler),
    idleTimeout: o.idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
    ringIdleTimeout: o.ringIdleTimeout ?? DEFAULT_RING_IDLE_TIMEOUT,
    frameTimeout: o.frameTimeout ?? DEFAULT_FRAME_TIMEOUT,
    minRate: o.minRate ?? DEFAULT_MIN_RATE,
    minRateWindow: o.minRateWindow ?? DEFAULT_MIN_RATE_WINDOW,
    maxConnectionsPerIp: o.maxConnectionsPerIp ?? 0,
    evictAfter: o.evictAfter ?? DEFAULT_EVICT_AFTER,
    stallTimeout: o.stallTimeout ?? DEFAULT_STALL_TIMEOUT,
    writeTimeout: o.writeTimeout ?? DEFAULT_WRITE_TIMEOUT,
    handlerTimeout: o.handlerTimeout ?? DEFAULT_HANDLER_TIMEOUT,
    concurrency: o.concurrency ?? DEFAULT_CONCURRENCY,
    maxQueued: o.maxQueued,
    maxReply: o.maxReply,
    maxQueuedTotal: o.maxQueuedTotal,
    zeroCopy: o.zeroCopy ?? true,
    writePath,
    noDelay: o.noDelay ?? true,
    keepAlive: keepAlive(o.keepAlive, names),
    drainTimeout: o.drainTimeout ?? DEFAULT_DRAIN_TIMEOUT,
    proxyProtocol: o.proxyProtocol,
    proxyTrusted,
    proxyTimeout: proxyTrusted ? o.proxyTimeout ?? DEFAULT_PROXY_TIMEOUT : 0,
    upgradeTimeout: o.upgradeTimeout ?? DEFAULT_UPGRADE_TIMEOUT,
    maxUpgradeBytes: o.maxUpgradeBytes ?? DEFAULT_MAX_UPGRADE_BYTES,
    closeTimeout: o.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT,
    addressTable: o.addressTable,
    heartbeat: o.heartbeat,
    signal: o.signal,
    tls: o.tls,
  });
}

/** What the queue limits are for these rings: each defaults to 4 tx rings, kept consistent with the other when only one is given. */
export function queueLimits(config: CoreConfig, maxQueued?: number, maxReply?: number): { maxQueued: number; maxReply: number } {
  const four = 4 * config.txSize;
  const queued = maxQueued ?? Math.max(four, maxReply ?? four);
  return { maxQueued: queued, maxReply: maxReply ?? Math.min(four, queued) };
}

/**
 * The queue limits for this core, checked against each other: a reply being
 * streamed waits in its connection's queue, so the queue must hold the largest
 * one (maxReply <= maxQueued), and one connection's queue must fit in the budget
 * of all (maxQueued <= maxQueuedTotal), or its largest reply could never be sent.
 */
export function queueBudget(config: CoreConfig, o: { maxQueued?: number; maxReply?: number; maxQueuedTotal?: number }, names: OptionNames = API_NAMES): { maxQueued: number; maxReply: number; maxQueuedTotal: number } {
  const { maxQueued, maxReply } = queueLimits(config, o.maxQueued, o.maxReply);
  // Left unset, the budget of all holds at least one connection's queue (with 64 MiB frames, 4 tx rings are 512 MiB).
  const maxQueuedTotal = o.maxQueuedTotal ?? Math.max(DEFAULT_MAX_QUEUED_TOTAL, maxQueued);
  const [queued, reply, total] = [names.name('maxQueued'), names.name('maxReply'), names.name('maxQueuedTotal')];
  if (maxReply > maxQueued) throw configError(`${reply} (${maxReply}) cannot exceed ${queued} (${maxQueued}): a reply larger than the tx ring is queued while it streams`);
  if (maxQueued > maxQueuedTotal) throw configError(`${total} (${maxQueuedTotal}) must be at least ${queued} (${maxQueued}${o.maxQueued === undefined ? `, 4 tx rings of ${config.txSize}` : ''}): one connection's queue must fit in the budget of all`);
  return { maxQueued, maxReply, maxQueuedTotal };
}

/** keepAlive as the delay before the first probe (0: the system's), or false. */
function keepAlive(k: boolean | number | undefined, names: OptionNames): number | false {
  if (k === undefined) return DEFAULT_KEEPALIVE;
  if (k === false || k === true) return k ? 0 : false;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < KEEPALIVE_RANGE.min || k > KEEPALIVE_RANGE.max) {
    const choices = names === API_NAMES ? 'true, false, or' : '0s (off) or';
    throw configError(`${names.name('keepAlive')} must be ${choices} the idle time before the first probe, ${names.ms(KEEPALIVE_RANGE.min)} to ${names.ms(KEEPALIVE_RANGE.max)} (whole seconds), got ${typeof k === 'number' ? names.ms(k) : String(k)}`);
  }
  return k;
}

/** The balancers trusted to send PROXY headers, or undefined when proxyProtocol is off. */
function proxyRanges(o: EndpointOptions): AddressRanges | undefined {
  const { proxyProtocol, proxyTrusted, proxyTimeout } = o;
  if (proxyProtocol === undefined) {
    if (proxyTrusted !== undefined) throw configError('proxyTrusted names the load balancers allowed to send a PROXY header: give proxyProtocol too');
    if (proxyTimeout !== undefined) throw configError('proxyTimeout is how long a PROXY header may take: give proxyProtocol too');
    return undefined;
  }
  if (proxyProtocol !== 'v1' && proxyProtocol !== 'v2' && proxyProtocol !== 'any') throw configError(`proxyProtocol must be 'v1', 'v2' or 'any', got ${String(proxyProtocol)}`);
  if (proxyTrusted !== undefined && (!Array.isArray(proxyTrusted) || proxyTrusted.length === 0)) {
    throw configError('proxyTrusted must list at least one address or CIDR range (leave it out to trust loopback only)');
  }
  return new AddressRanges(proxyTrusted ?? LOOPBACK);
}
