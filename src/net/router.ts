// Connections as actors: one Router per endpoint (so one per thread that serves
// connections), reachable as endpoint.router and connection.router. It sends a
// frame to any connection by id (sendTo), keeps topics of local subscribers
// (join, leave, publish), and consumes this thread's mailbox.
//
//   sender thread                            owner thread (this Router, attached to place P)
//   sendTo(id) ─ check liveness ─▶ mailbox[P] ─(one wake per batch)─▶ pump(): take records,
//   publish(t) ─ one batch record per place and tick ─▶                  fanout() into each subscriber's tx ring
//
// Rules:
//   - Everything goes through the owner's mailbox, also from the owner's own
//     thread: delivery is always paced by the owner's event loop, the same
//     way for every sender, and a full mailbox ('full') is the one signal a
//     sender has to slow down. Frames from one sender to one connection arrive
//     in the order they were sent (one mailbox, one consumer, FIFO).
//   - A worker server's threads share its switchboard (serveInWorker attaches
//     it); an endpoint of its own (a single-thread server) gets a switchboard of
//     one place on first use, or at start() with a cluster (server.ts).
//   - Deliveries are a batch, like a read's: every connection they sent to is
//     written once at the end (the endpoint's [kEnter]/[kLeave]). A batch ends after BATCH
//     records or TURN_BYTES handed on, or as soon as a connection could not take
//     a frame into its tx ring (it queued): the batch is written out and the rest waits for the
//     next turn of the event loop (setImmediate), so the kernel can take bytes
//     first and one burst cannot fill every subscriber's queue at once.
//   - Publish records of one topic taken in a row are one fan-out batch
//     (fanout-batch.ts): their frames are encoded once, and a subscriber whose
//     writer has nothing of its own waiting gets a view of that one copy, written
//     as it is with the batch (queued, and charged, while a write of it waits on
//     the peer); the core copies
//     them into the other subscribers' tx rings that can take them in one call; a subscriber
//     with replies queued, or whose ring takes only part of the batch, has the
//     rest queued as one run of the batch's shared copy (tx-queue.ts), in order,
//     under the slow-consumer rule below (send() of each frame only when a
//     handler's window holds its replies, or a frame is over the batch's limit).
//   - A message whose connection closed in flight (its slot now empty or holding
//     another serial, or its thread gone) is dropped and counted, never sent to
//     another client.
//   - A subscriber that cannot keep up is handled as any slow reader: what does
//     not fit in its tx ring queues, up to maxQueued (and the endpoint's
//     maxQueuedTotal), past which it is closed with ERR_SLOW_CONSUMER. Until then
//     it slows the mailbox (a batch per turn); nothing buffers without a bound.
//   - An error thrown by user code during a delivery (a clientError listener
//     called when a frame made its connection a slow consumer) ends the batch
//     after its record, which is still delivered to every subscriber it names
//     and never taken again, and is thrown from the pump whole (several from one
//     record: an AggregateError of them): an uncaught exception, as from a
//     socket's own callbacks. The pump is re-armed first.
//   - Asks (asks.ts) go through the same mailboxes: an ask record is answered by
//     this thread's onAsk, an answer record settles one of this thread's asks;
//     both count as taken. An ask to this thread's own place never enters the
//     mailbox. publishAsync and sendToAsync wait for room in this thread's
//     PostQueue (post-queue.ts), in order.
//   - Subscriber counts: every join and leave is also counted in the switchboard's
//     shared table, so subscribers(topic) counts every thread's.
//   - Atomics.waitAsync does not keep Node's event loop alive (docs/node-facts.md):
//     while attached, a referenced timer that never fires does, so a mailbox
//     whose endpoint runs is always consumed; detach() (at the endpoint's close)
//     lets the thread end.

import { threadId } from 'node:worker_threads';
import type { Connection } from './connection.ts';
import { parseConnectionId } from './connection-id.ts';
import { Groups } from './groups.ts';
import { TopicIndex } from './topic-index.ts';
import type { RingwireError } from '../core/errors.ts';
import { Mailbox } from './mailbox.ts';
import { KIND_ANSWER, KIND_ASK, KIND_PUBLISH_BATCH, KIND_SEND, Switchboard, type PublishResult, type SendResult, type SwitchboardInit } from './switchboard.ts';
import { Asks, DEFAULT_ASK_TIMEOUT, type AskHandler, type AskOptions } from './asks.ts';
import { DEFAULT_POST_TIMEOUT, PostQueue } from './post-queue.ts';
import { kDelivering, kEnter, kFlushNow, kLeave, kReplyRefusal, kSlot } from './internals.ts';
import { FanoutBatch, type FanoutSink } from './fanout-batch.ts';
import { fanoutRecordLength, fanoutRecordSize, type Core } from '../core/core.ts';

/** Messages one wake-up takes (a publish batch counts each; the batch ends after the record that reaches it) before letting I/O run. */
const BATCH = 4096;
/**
 * Bytes one batch hands to connections (a publish counts once per subscriber)
 * before letting I/O run; the batch ends after the record that reaches it (a
 * publish record holds at most 32 KiB: mailbox.ts's BATCH_BODY). 64 MiB is what a
 * server that writes each 64 KiB read to 1,000 subscribers writes a turn (~20 ms
 * of CPU here); without a bound, one batch of 4,096 publishes to 1,000
 * subscribers wrote 280 MB and the thread read nothing else meanwhile.
 */
export const TURN_BYTES = 64 * 1024 * 1024;
const FOREVER = 2 ** 31 - 1;

/** What a Router needs from its endpoint (endpoint.ts). */
export interface RouterHost {
  /** The core's slots size a private switchboard's liveness table; its fanout() delivers publishes. */
  readonly core: Core;
  /** Its handler's onAsk answers the asks for the keys this thread owns. */
  readonly handler: { readonly onAsk?: AskHandler };
  readonly [kDelivering]: Connection | null;
  [kEnter](connection: Connection): void;
  [kLeave](): void;
  /** Write every connection sent to since the last flush, now. */
  [kFlushNow](): void;
  /** ERR_REPLY_TOO_LARGE or ERR_DELIMITER_IN_PAYLOAD for a frame this thread's framing cannot carry, else null (Connection.send's rule). */
  [kReplyRefusal](payload: Uint8Array): RingwireError | null;
}

export interface RouterStats {
  /** Frames handed to connections of this thread from its mailbox (sendTo and publish records). */
  delivered: number;
  /** sendTo messages whose connection had closed (or that it refused) and were dropped (a subscriber's refusal of a publish is not counted here). */
  dropped: number;
  /** sendTo() and publish() calls that found a mailbox full. */
  full: number;
  /** sendTo() calls for a connection that was gone. */
  closed: number;
}

export class Router {
  readonly groups = new Groups();
  private readonly host: RouterHost;
  /** This endpoint's connections by core slot, and the serial in each id. */
  private readonly bySlot: (Connection | undefined)[] = [];
  private readonly serials: number[] = [];
  private board: Switchboard | null = null;
  private place = -1;
  private mailbox: Mailbox | null = null;
  private asks: Asks | null = null;
  private readonly posts = new PostQueue();
  private keepAlive: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  /** A connection queued beyond its tx ring in this batch. */
  private backlog = false;
  private readonly counts: RouterStats = { delivered: 0, dropped: 0, full: 0, closed: 0 };
  /** What user code (a clientError listener) threw inside a delivery: pump() throws it once the batch is counted. */
  private readonly thrown: unknown[] = [];
  /** Records of the batch being taken, handed on and dropped: counted in the mailbox once per batch. */
  private taken = 0;
  private lost = 0;
  /** Bytes the batch being taken handed to connections (TURN_BYTES). */
  private handed = 0;
  /** This thread's topics with subscribers, found from a publish record's bytes (no string made per record). */
  private topicIndex = new TopicIndex();
  /** Who else hears of this thread's topics (a cluster), besides the switchboard's filter. */
  private topicWatcher: ((topic: string, active: boolean) => void) | undefined;
  private readonly visit = (kind: number, w0: number, w1: number, w2: number, body: Uint8Array): boolean => this.deliver(kind, w0, w1, w2, body);
  /** Publish records of one topic taken in a row, delivered together (made on first use: it needs the core). */
  private fan: FanoutBatch | null = null;
  /** Where a fan-out batch's frames go: send() (counted), into rings, queued beyond them (the batch ends after its record). */
  private readonly sink: FanoutSink = {
    send: (c, payload) => {
      this.send(c, payload);
    },
    took: frames => {
      this.counts.delivered += frames;
    },
    queued: frames => {
      this.counts.delivered += frames;
      this.backlog = true;
    },
  };

  constructor(host: RouterHost) {
    this.host = host;
  }

  /** Serve place `place` of a worker server's switchboard: its mailbox is ours to consume. */
  attach(init: SwitchboardInit | Switchboard, place: number): void {
    if (this.board) throw new Error('this router is already attached to a switchboard');
    const board = init instanceof Switchboard ? init : new Switchboard(init);
    this.board = board;
    this.place = place;
    this.mailbox = board.mailboxes[place]!;
    this.asks = new Asks(board, place, () => this.host.handler.onAsk);
    board.attach(place, threadId);
    // publish() skips places without subscribers of the topic: count ours in the switchboard's filter, from now on.
    const index = (this.topicIndex = new TopicIndex());
    this.groups.watch((topic, active) => {
      if (active) index.add(topic);
      else index.delete(topic);
      this.topicWatcher?.(topic, active);
    }, (topic, delta) => this.board?.subscribed(this.place, topic, delta));
    for (let slot = 0; slot < this.bySlot.length; slot++) if (this.bySlot[slot]) board.opened(place, slot, this.serials[slot]!);
    this.keepAlive = setInterval(() => {}, FOREVER);
    this.pump();
  }

  /** Stop consuming; senders get 'closed' for this thread's connections from now on. */
  detach(): void {
    const board = this.board;
    if (!board) return;
    board.detach(this.place, threadId);
    this.mailbox!.wake();
    this.board = null;
    this.mailbox = null;
    this.asks?.close();
    this.asks = null;
    clearInterval(this.keepAlive);
    clearImmediate(this.immediate);
  }

  // ---- the endpoint tells us ----

  /** A connection of this endpoint opened (before onOpen: it can be sent to from then on). */
  opened(connection: Connection): void {
    const serial = parseConnectionId(connection.id)!.serial;
    this.bySlot[connection[kSlot]] = connection;
    this.serials[connection[kSlot]] = serial;
    this.board?.opened(this.place, connection[kSlot], serial);
  }

  /** It closed (before onClose): it leaves its topics, and senders get 'closed'. */
  closed(connection: Connection): void {
    if (this.bySlot[connection[kSlot]] !== connection) return; // never opened
    this.board?.closed(this.place, connection[kSlot]);
    this.bySlot[connection[kSlot]] = undefined;
    this.serials[connection[kSlot]] = 0;
    this.groups.leaveAll(connection);
  }

  // ---- the API ----

  /**
   * Send bytes as one frame to the connection `id`, on this thread or another.
   * 'sent': in its thread's mailbox (it is delivered unless the connection closes
   * first: then it is dropped and counted); 'full':
   * that mailbox has no room now (nothing was sent: try again later, or drop);
   * 'closed': no such connection (it closed, or its thread is gone).
   */
  sendTo(id: string, bytes: Uint8Array): SendResult {
    return this.result(this.switchboard().sendTo(id, bytes));
  }

  /**
   * Send bytes as one frame to every connection subscribed to topic, in every
   * thread: it joins this thread's batch record for each worker that has subscribers
   * of it (one record per worker for this tick's publishes of the topic: switchboard.ts).
   * All or nothing: 'full' means a worker's mailbox had no room and no one got it
   * (retry later without duplicates, or drop it).
   */
  publish(topic: string, bytes: Uint8Array): PublishResult {
    return this.result(this.switchboard().publish(topic, bytes));
  }

  /**
   * sendTo() that waits for room instead of answering 'full': 'sent' or 'closed',
   * or a rejection with ERR_MAILBOX_TIMEOUT after `timeout` ms (default 5000).
   * Waiting posts of this thread go out in the order they were made.
   */
  sendToAsync(id: string, bytes: Uint8Array, options: { timeout?: number } = {}): Promise<'sent' | 'closed'> {
    const board = this.switchboard();
    return this.posts.post(() => this.result(board.sendTo(id, bytes)), options.timeout ?? DEFAULT_POST_TIMEOUT);
  }

  /**
   * publish() that waits for room in every mailbox it needs instead of answering
   * 'full' (still all or nothing: no worker gets it before all can): resolves
   * 'sent', or rejects with ERR_MAILBOX_TIMEOUT after `timeout` ms (default 5000),
   * and then no one got it. Waiting posts of this thread go out in the order they were made.
   */
  publishAsync(topic: string, bytes: Uint8Array, options: { timeout?: number } = {}): Promise<'sent'> {
    const board = this.switchboard();
    return this.posts.post(() => this.result(board.publish(topic, bytes)), options.timeout ?? DEFAULT_POST_TIMEOUT);
  }

  /** How many threads share this router's switchboard (its worker server's workers; 1 on its own). */
  get threads(): number {
    return this.switchboard().places;
  }

  /** This thread's index among them: the place it serves. */
  get thread(): number {
    this.switchboard();
    return this.place;
  }

  /** The thread that owns key: a stable hash of it over the threads (the same answer on every thread). */
  owner(key: string): number {
    return this.switchboard().owner(key);
  }

  /**
   * Send `request` to the onAsk hook of the thread that owns `to` (a key: owner(key);
   * or a thread index) and resolve with its answer's bytes. On the owner's own thread
   * onAsk is called directly. Rejects with ERR_ASK_TIMEOUT after `timeout` ms (default 5000),
   * ERR_OWNER_GONE when that thread is not serving or ends first, ERR_ASK_FAILED when
   * its onAsk threw, rejected or answered no bytes. Leave `request` unchanged until it settles.
   */
  ask(to: string | number, request: Uint8Array, options: AskOptions = {}): Promise<Uint8Array> {
    const board = this.switchboard();
    return this.asks!.ask(typeof to === 'number' ? to : board.owner(to), request, options.timeout ?? DEFAULT_ASK_TIMEOUT);
  }

  /** Subscribe a connection of this thread to topic (it leaves when it closes). */
  join(connection: Connection, topic: string): boolean {
    if (this.bySlot[connection[kSlot]] !== connection) throw new Error(`connection ${connection.id} is not open on this endpoint`);
    return this.groups.join(connection, topic);
  }

  leave(connection: Connection, topic: string): boolean {
    return this.groups.leave(connection, topic);
  }

  /**
   * Hear when a topic gets its first subscriber on this thread (active) and loses
   * its last: a cluster subscribes its host in Redis then (cluster.ts).
   */
  watchTopics(watcher: (topic: string, active: boolean) => void): void {
    this.topicWatcher = watcher;
    for (const topic of this.groups.topics()) watcher(topic, true);
  }

  /** The subscribers of topic on every thread of this router's switchboard, read now from shared memory. */
  subscribers(topic: string): number {
    return this.board ? this.board.subscribers(topic) : this.localSubscribers(topic);
  }

  /** The subscribers of topic on this thread only. */
  localSubscribers(topic: string): number {
    return this.groups.subscribers(topic)?.size ?? 0;
  }

  stats(): RouterStats {
    return { ...this.counts };
  }

  // ---- delivery ----

  /** The switchboard this router sends through: its worker server's, or one of its own. */
  private switchboard(): Switchboard {
    if (!this.board) this.attach(Switchboard.create({ places: 1, slots: this.host.core.config.slots }), 0);
    return this.board!;
  }

  private result<R extends SendResult>(r: R): R {
    if (r === 'closed') this.counts.closed++;
    else if (r === 'full') this.counts.full++;
    return r;
  }

  /**
   * Connection.send inside a batch (the pump leaves it): the write joins the
   * batch's flush. False when the connection took nothing (its FIN is out, it
   * was destroyed or closed). Notes when a frame had to queue beyond the tx
   * ring: the batch ends after this record. (deliver() refused, before, what the
   * framing cannot carry: not the receiver's fault, so not its close.)
   */
  private send(c: Connection, bytes: Uint8Array): boolean {
    if (!this.host[kDelivering]) this.host[kEnter](c);
    let ok: boolean;
    try {
      ok = c.send(bytes);
      if (!ok) {
        ok = c.queuedBytes > 0;
        if (ok) this.backlog = true;
      }
    } catch (err) {
      // send() throws nothing at run time: this was thrown by user code (a clientError listener), passed on once the record is done.
      ok = false;
      this.thrown.push(err);
    }
    if (ok) this.counts.delivered++;
    return ok;
  }

  /** One record: false ends the batch (a connection queued beyond its tx ring). */
  private deliver(kind: number, w0: number, w1: number, w2: number, body: Uint8Array): boolean {
    const fan = (this.fan ??= new FanoutBatch(this.host.core));
    if (kind === KIND_PUBLISH_BATCH) {
      // A publisher's messages of one topic (w1 of them: mailbox.ts's batch record). Publishes of one topic in a row
      // gather into one fan-out batch, delivered once the topic changes, another kind of record comes (what was
      // published before it goes first), the batch is full or the mailbox's batch ends. The topic index finds the
      // record's topic without a string per record; none: its subscribers here left meanwhile.
      const topic = this.topicIndex.find(body, w0);
      if (fan.count > 0 && fan.topic !== topic) this.deliverFanout();
      if (topic !== undefined) {
        for (let i = 0, at = (w0 + 3) & ~3; i < w1; i++) {
          const n = fanoutRecordLength(body, at);
          const payload = body.subarray(at + 4, at + 4 + n);
          if (fan.full(n)) this.deliverFanout();
          if (this.host[kReplyRefusal](payload) === null) fan.add(topic, payload);
          at += fanoutRecordSize(n);
        }
      }
      this.taken += w1;
      return this.goOn();
    }
    if (fan.count > 0) this.deliverFanout();
    if (kind === KIND_SEND) {
      const c = this.bySlot[w1];
      const ok = w0 === threadId && c !== undefined && this.serials[w1] === w2 && this.host[kReplyRefusal](body) === null && this.send(c, body);
      if (ok) {
        this.taken++;
        this.handed += body.length;
      } else {
        this.counts.dropped++;
        this.lost++;
      }
    } else if (kind === KIND_ASK) {
      this.asks!.serve(w0, w1, w2, body);
      this.taken++;
    } else if (kind === KIND_ANSWER) {
      if (w0 === threadId && this.asks!.answered(w1, w2, body)) this.taken++;
      else this.lost++; // its ask settled already (timed out)
    }
    return this.goOn();
  }

  /** Does the batch go on after this record? Not once a connection queued, user code threw, BATCH messages were taken or TURN_BYTES handed on. */
  private goOn(): boolean {
    return !this.backlog && this.thrown.length === 0 && this.taken + this.lost < BATCH && this.handed < TURN_BYTES;
  }

  /** The gathered publishes to this thread's subscribers of their topic: one core call for those that can take them in their rings (fanout-batch.ts). */
  private deliverFanout(): void {
    const fan = this.fan!;
    const subs = this.groups.subscribers(fan.topic);
    if (subs && subs.size > 0 && !this.host[kDelivering]) this.host[kEnter](subs.values().next().value!);
    this.handed += fan.bytes * (subs?.size ?? 0);
    fan.deliver(this.host.core, subs, this.sink);
  }

  /** Take what the mailbox holds, one batch at a time; sleep when it is empty. */
  private pump(): void {
    this.immediate = undefined;
    for (;;) {
      if (!this.mailbox) return;
      const n = this.batch();
      if (n >= BATCH || this.backlog || this.handed >= TURN_BYTES) {
        this.immediate = setImmediate(() => this.pump()); // more may be waiting: let I/O run first
        return;
      }
      const wake = this.mailbox.sleep();
      if (wake) {
        this.host.core.unstage(); // idle: the segment fan-outs are staged in goes back to the pool
        void wake.then(() => this.pump());
        return;
      }
    }
  }

  /**
   * The drain (drain.ts): hand every record waiting in this thread's mailbox to its
   * connections now, batch after batch without waiting for a turn of the event loop:
   * their FINs follow at once, after these frames. (A subscriber that cannot take
   * them all is a slow consumer, as always.)
   */
  deliverAll(): void {
    while (this.mailbox && this.batch() > 0);
  }

  /** One batch: up to BATCH messages taken, counted, and what they sent written. Returns how many it took (and lost). */
  private batch(): number {
    const mailbox = this.mailbox!;
    const outer = this.host[kDelivering]; // a mailbox wake-up never runs inside a handler's batch; kept safe anyway
    this.backlog = false;
    this.handed = 0;
    let n = 0;
    Mailbox.sealAll(); // what this thread published this tick, to its own mailbox too, is taken with the rest
    try {
      mailbox.take(BATCH, this.visit);
      if (this.fan && this.fan.count > 0) this.deliverFanout();
    } finally {
      n = this.taken + this.lost;
      mailbox.count(this.taken, this.lost);
      this.taken = this.lost = 0;
      if (!outer) {
        this.host[kLeave]();
        this.host[kFlushNow](); // the batch is written before the next one: the kernel takes bytes between batches
      }
    }
    if (this.thrown.length > 0) {
      // The record that threw was delivered to every connection it names and is not taken again;
      // the mailbox goes on being consumed if the process survives what we throw.
      const thrown = this.thrown.splice(0);
      this.immediate ??= setImmediate(() => this.pump());
      throw thrown.length === 1 ? thrown[0] : new AggregateError(thrown, `${thrown.length} errors thrown by user code while one mailbox record was delivered`);
    }
    return n;
  }
}
