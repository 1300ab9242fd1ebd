// Past one machine: the ringwire hosts of a cluster carry publish(topic, bytes)
// to each other through Redis pub/sub, an existing broker, not a home-made one.
// One Cluster per host (per process), in the thread that started the server.
//
//   this host                                               Redis               another host
//   publish(t) ─▶ every place's mailbox (delivered here at once, as without a cluster)
//             └─▶ outbox ─▶ pump() ─▶ PUBLISH <prefix>t ─────▶ ─────▶ SUBSCRIBE <prefix>t ─▶ arrived()
//                                                                    ─▶ publishHere(t): its places only
//
// Rules:
//   - One Redis subscription per topic per host: subscribed when the first
//     subscriber on any thread of this host joins the topic, unsubscribed when the
//     last one leaves (each thread's Groups tells us: topic(place, topic, active)),
//     and a thread that exits takes its topics with it (dropPlace). A host
//     receives what is published once Redis has confirmed its subscription.
//   - A message is [16-byte host id][payload], binary-safe. A host skips its own
//     (Redis sends them back to a subscribed publisher): they were delivered on
//     this host when they were published.
//   - Order: one publishing connection per host, fed from the outbox in order, so
//     what one thread publishes reaches every other host in the order it published.
//   - Redis down: the client library reconnects (capped backoff) and subscribes
//     again. A publish made while it is down is delivered on this host as always
//     and dropped for the other hosts, counted (droppedDown): Redis pub/sub is
//     at-most-once anyway, and nothing here buffers without a bound. Publishes
//     waiting for Redis's reply are capped at maxInFlight bytes; past it they are
//     dropped and counted (droppedBacklog). A message from another host that
//     finds a mailbox here full is dropped and counted (droppedFull).
//   - The Redis client (@redis/client) is an optional peer dependency, imported
//     only when a cluster is asked for: a server without one installs and loads
//     nothing of it.

import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { configError } from '../core/errors.ts';
import type { Mailbox } from './mailbox.ts';
import { checkOptions, duration, OTHER, whole, type Rule } from './option-rules.ts';
import { KIND_PUBLISH, type Switchboard } from './switchboard.ts';

export interface ClusterOptions {
  /** redis://HOST:PORT (or rediss:// for TLS), as @redis/client takes it. */
  url: string;
  /** Prepended to each topic to name its Redis channel. Default 'ringwire:'. */
  prefix?: string;
  /** Bytes of publishes sent to Redis and not yet acknowledged; past it, publishes are dropped for the other hosts. Default 16 MiB. */
  maxInFlight?: number;
  /** ms to reach Redis at start before listen() fails. Default 5000. */
  connectTimeout?: number;
  /** ms between PINGs that check Redis answers (a stopped or wedged Redis keeps its connections open). Default 1000. */
  pingInterval?: number;
  /** ms a PING may take before Redis counts as down ('down', an error counted). Default 2000. */
  pingTimeout?: number;
}

const CLUSTER_RULES = {
  url: OTHER, prefix: OTHER, maxInFlight: whole(0, 2 ** 40, 'bytes'), connectTimeout: duration(1), pingInterval: duration(10), pingTimeout: duration(10),
} as const satisfies { readonly [K in keyof Required<ClusterOptions>]: Rule };

export interface ClusterStats {
  /** This host's id in the messages it publishes (hex). */
  hostId: string;
  /** Both connections to Redis are up. */
  connected: boolean;
  /** Topics this host is subscribed to in Redis (those with a subscriber on some thread here). */
  topics: number;
  /** Publishes Redis acknowledged. */
  published: number;
  /** Messages from other hosts handed to this host's threads. */
  received: number;
  /** This host's own messages coming back from Redis, skipped. */
  own: number;
  /** Publishes not carried to the other hosts because Redis was down (or the connection failed under them). */
  droppedDown: number;
  /** Publishes not carried because maxInFlight bytes already waited for Redis, or the outbox in shared memory was full. */
  droppedBacklog: number;
  /** Messages from other hosts dropped because a mailbox here was full. */
  droppedFull: number;
  /** Messages on our channels that are not ringwire's (shorter than a host id). */
  malformed: number;
  /** Connection errors the Redis client reported (each failed reconnect counts), and PINGs unanswered within pingTimeout. */
  errors: number;
}

export interface ClusterEvents {
  /** A connection to Redis failed or closed: the client library is reconnecting. */
  down: [error: Error];
  /** Both connections are up again. */
  up: [];
}

/** The few calls of @redis/client's client used here. */
interface RedisClient {
  readonly isReady: boolean;
  readonly isOpen: boolean;
  connect(): Promise<unknown>;
  ping(): Promise<unknown>;
  duplicate(overrides?: object): RedisClient;
  publish(channel: string, message: Buffer): Promise<number>;
  subscribe(channel: string, listener: (message: Buffer, channel: Buffer) => void, bufferMode: true): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  close(): Promise<void>;
  destroy(): void;
  on(event: string, listener: (...args: any[]) => void): unknown;
}

interface RedisModule {
  createClient(options: object): RedisClient;
}

const HOST_ID = 16;
const BATCH = 4096;
const DEFAULT_MAX_IN_FLIGHT = 16 << 20;
const MAX_RETRY_DELAY = 2000;
const CLOSE_WAIT = 2000;

/** Import the Redis client; a clear ERR_BAD_CONFIG when it is not installed. */
export async function loadRedisClient(specifier = '@redis/client'): Promise<RedisModule> {
  try {
    return (await import(specifier)) as RedisModule;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    throw configError(`a cluster needs the Redis client, an optional dependency that is not installed: npm install ${specifier}`);
  }
}

/** The options of `cluster` (a URL alone, or the whole object), checked. */
export function clusterOptions(o: string | ClusterOptions): Required<ClusterOptions> {
  const options = typeof o === 'string' ? { url: o } : o;
  checkOptions(options, CLUSTER_RULES, 'cluster.');
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw configError(`cluster must be a URL like redis://127.0.0.1:6379, got "${options.url}"`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw configError(`cluster must be a redis:// or rediss:// URL, got "${options.url}"`);
  return {
    url: options.url, prefix: options.prefix ?? 'ringwire:', maxInFlight: options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
    connectTimeout: options.connectTimeout ?? 5000, pingInterval: options.pingInterval ?? 1000, pingTimeout: options.pingTimeout ?? 2000,
  };
}

export class Cluster extends EventEmitter<ClusterEvents> {
  readonly hostId = randomBytes(HOST_ID);
  private readonly options: Required<ClusterOptions>;
  private readonly board: Switchboard;
  private readonly outbox: Mailbox;
  private pub: RedisClient | undefined;
  private sub: RedisClient | undefined;
  /** Which places (threads) of this host have subscribers of each topic. */
  private readonly topics = new Map<string, Set<number>>();
  private inFlight = 0;
  /** Both connections were up once: from then on a lost connection is retried, never fatal. */
  private started = false;
  private up = false;
  private closed = false;
  /** The PING that checks Redis answers (health()), and whether one is out. */
  private pinger: NodeJS.Timeout | undefined;
  private pinging = false;
  private readonly counts = { published: 0, received: 0, own: 0, droppedDown: 0, droppedBacklog: 0, droppedFull: 0, malformed: 0, errors: 0 };
  private readonly visit = (kind: number, w0: number, _w1: number, _w2: number, body: Uint8Array): boolean => this.send(kind, w0, body);

  /** A cluster for the host whose switchboard this is (it must have an outbox). Call start(). */
  constructor(options: string | ClusterOptions, board: Switchboard) {
    super();
    this.options = clusterOptions(options);
    if (!board.outbox) throw new Error('a cluster needs a switchboard with an outbox');
    this.board = board;
    this.outbox = board.outbox;
  }

  /** Connect to Redis (rejects with ERR_BAD_CONFIG if it cannot, within connectTimeout) and start carrying publishes. */
  async start(redis?: RedisModule): Promise<void> {
    const { createClient } = redis ?? await loadRedisClient();
    const o = this.options;
    const pub = createClient({
      url: o.url,
      // Publishes while Redis is down are dropped and counted here, not queued in the client without a bound.
      disableOfflineQueue: true,
      socket: {
        connectTimeout: o.connectTimeout,
        reconnectStrategy: (retries: number, cause: Error) => (this.started ? Math.min(MAX_RETRY_DELAY, 50 * 2 ** retries) * (0.5 + Math.random() / 2) : cause),
      },
    });
    // Subscriptions made while Redis is down wait for the reconnection (and the client subscribes to every channel again then).
    const sub = pub.duplicate({ disableOfflineQueue: false });
    this.pub = pub;
    this.sub = sub;
    for (const client of [pub, sub]) {
      client.on('error', (err: Error) => {
        this.counts.errors++;
        if (this.up && !this.closed) {
          this.up = false;
          this.emit('down', err);
        }
      });
      client.on('ready', () => {
        if (this.started && !this.up && pub.isReady && sub.isReady) {
          this.up = true;
          this.emit('up');
        }
      });
    }
    try {
      await Promise.all([pub.connect(), sub.connect()]);
    } catch (err) {
      for (const client of [pub, sub]) if (client.isOpen) client.destroy();
      throw configError(`cannot reach the cluster's Redis at ${o.url}: ${(err as Error).message || String(err)}`);
    }
    this.started = true;
    this.up = true;
    this.board.clusterAttached(true);
    this.pinger = setInterval(() => this.health(), o.pingInterval);
    this.pinger.unref();
    this.pump();
  }

  /**
   * A Redis that stops answering (SIGSTOP, a wedged host) without closing its
   * connections raises no error in the client: commands wait for ever. A PING
   * unanswered within pingTimeout counts an error and reports 'down' (publishes
   * are then dropped for the other hosts, counted, instead of piling up); the
   * answer, when it comes, reports 'up'.
   */
  private health(): void {
    const pub = this.pub!;
    if (this.pinging || this.closed || !pub.isReady) return;
    this.pinging = true;
    const late = setTimeout(() => {
      this.counts.errors++;
      if (this.up) {
        this.up = false;
        this.emit('down', new Error(`Redis at ${this.options.url} did not answer a PING within ${this.options.pingTimeout} ms`));
      }
    }, this.options.pingTimeout);
    pub.ping().then(() => {
      if (!this.up && !this.closed && pub.isReady && this.sub!.isReady) {
        this.up = true;
        this.emit('up');
      }
    }, () => {}).finally(() => { // a failed PING: the client reports the error itself ('error')
      clearTimeout(late);
      this.pinging = false;
    });
  }

  /** Place `place` (a thread of this host) has subscribers of topic (active) or no longer has any. */
  topic(place: number, topic: string, active: boolean): void {
    let places = this.topics.get(topic);
    if (active) {
      if (!places) {
        this.topics.set(topic, (places = new Set()));
        this.sub?.subscribe(this.options.prefix + topic, message => this.arrived(topic, message), true).catch(() => this.counts.errors++);
      }
      places.add(place);
    } else if (places?.delete(place) && places.size === 0) {
      this.topics.delete(topic);
      this.sub?.unsubscribe(this.options.prefix + topic).catch(() => this.counts.errors++);
    }
  }

  /** The thread in place `place` is gone: its subscribers with it. */
  dropPlace(place: number): void {
    for (const topic of [...this.topics.keys()]) this.topic(place, topic, false);
  }

  stats(): ClusterStats {
    // The outbox's refusals: publishes its pump was too far behind to take (switchboard.ts), dropped for the other hosts.
    const backlog = this.counts.droppedBacklog + this.outbox.counters().full;
    return { hostId: this.hostId.toString('hex'), connected: this.up, topics: this.topics.size, ...this.counts, droppedBacklog: backlog };
  }

  /** Stop carrying publishes and close both connections (what Redis has not acknowledged yet is waited for, up to 2 s). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.up = false;
    clearInterval(this.pinger);
    if (this.started) this.board.clusterAttached(false);
    this.outbox.wake();
    await Promise.all([this.pub, this.sub].map(async client => {
      if (!client?.isOpen) return;
      // What Redis has not answered yet is waited for, up to CLOSE_WAIT (it may be down, with commands queued).
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>(resolve => (timer = setTimeout(resolve, CLOSE_WAIT)));
      try {
        await Promise.race([client.close(), late]);
      } catch {
        // closed under us: destroyed below
      }
      clearTimeout(timer);
      if (client.isOpen) client.destroy();
    }));
  }

  // ---- carrying ----

  /** A message on one of our channels: another host's publish goes to this host's threads. */
  private arrived(topic: string, message: Buffer): void {
    if (message.length < HOST_ID) {
      this.counts.malformed++;
      return;
    }
    if (this.hostId.compare(message, 0, HOST_ID) === 0) {
      this.counts.own++;
      return;
    }
    if (this.board.publishHere(topic, message.subarray(HOST_ID)) === 'sent') this.counts.received++;
    else this.counts.droppedFull++;
  }

  /** One outbox record: PUBLISH it, unless Redis is down or too much already waits for it. */
  private send(kind: number, topicLength: number, body: Uint8Array): boolean {
    if (kind !== KIND_PUBLISH) return true;
    const pub = this.pub!;
    const size = HOST_ID + body.length - topicLength;
    if (!pub.isReady || !this.up) {
      this.counts.droppedDown++;
      return true;
    }
    if (this.inFlight + size > this.options.maxInFlight) {
      this.counts.droppedBacklog++;
      return true;
    }
    const topic = Buffer.from(body.buffer, body.byteOffset, topicLength).toString();
    const message = Buffer.allocUnsafe(size); // the record's view is valid only during this call
    this.hostId.copy(message, 0);
    message.set(body.subarray(topicLength), HOST_ID);
    this.inFlight += size;
    let sent: Promise<number>;
    try {
      sent = pub.publish(this.options.prefix + topic, message);
    } catch {
      sent = Promise.reject(); // take() must not see a throw (the record would be taken again)
    }
    sent.then(
      () => {
        this.inFlight -= size;
        this.counts.published++;
      },
      () => {
        this.inFlight -= size;
        this.counts.droppedDown++;
      },
    );
    return true;
  }

  /** Take what the outbox holds, a batch per turn of the event loop; sleep when it is empty. */
  private pump(): void {
    for (;;) {
      if (this.closed) return;
      const n = this.outbox.take(BATCH, this.visit);
      if (n >= BATCH) {
        setImmediate(() => this.pump()); // more may be waiting: let I/O (Redis's replies) run first
        return;
      }
      const wake = this.outbox.sleep();
      if (wake) {
        void wake.then(() => this.pump());
        return;
      }
    }
  }
}
