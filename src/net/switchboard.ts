// The shared memory that lets any thread of a worker server send to a connection
// it does not own, or publish to a topic: created once by the thread that starts
// the workers, handed to each (workerData), never resized.
//
//   threads   Int32 per place: 1 + the threadId of the thread serving that place
//             (the main thread's is 0), 0 when none. Written by that thread when it attaches (after clearing its
//             liveness table) and when it detaches, and by the parent when the
//             thread exits (a dead thread cannot; the parent also reports it to
//             every mailbox: writerDied). One more Int32 after them:
//             1 while a cluster (cluster.ts) consumes the outbox.
//   per place a mailbox (mailbox.ts: many producers, the place's thread consumes),
//             and a liveness table: Int32 per core slot, the serial of the
//             connection open in that slot, 0 when none. Written only by the
//             place's thread: on open, before any sender can know the id, and
//             on close, before onClose runs.
//   topics    per place, a topic filter (topic-filter.ts): the topics with
//             subscribers on that place's thread and how many, exact (64 bits of
//             hash), in a growable SharedArrayBuffer. Written only by that thread
//             (Router, on every join and leave), cleared on attach and detach (the
//             parent's detach when the thread exited), read by anyone: publish()
//             skips a place whose filter does not have the topic, and
//             subscribers(topic) adds every place's count. A publish that starts
//             after a join returned reaches the joined connection's place.
//   parent    a worker server only: one more mailbox, for the answers to the
//             asks the thread that made the switchboard (the main thread) makes.
//   outbox    with a cluster only: one more mailbox, consumed by the thread that
//             holds the connection to Redis, which takes every publish() made on
//             this host to the other hosts. publish() posts there too, best
//             effort (full: dropped for the other hosts only, counted); what
//             arrives from other hosts is posted to the places only
//             (publishHere), never back to the outbox.
//
// A sender checks synchronously, from the id alone (connection-id.ts): is a
// thread with that threadId serving a place, and does that place's table hold
// the id's serial in the id's slot? No: 'closed'. Yes: the message goes into the
// place's mailbox ('sent'), or not, if it is full ('full'). A connection can
// still close after the check: the owner checks again when it takes the message
// (threadId and serial), and drops and counts what no longer has a connection.
// A serial is never given to two connections of a thread, so a message meant
// for a closed connection can never reach another client.

import { threadId } from 'node:worker_threads';
import { parseConnectionId } from './connection-id.ts';
import { Mailbox, type MailboxCounters } from './mailbox.ts';
import { TopicFilter, TopicKey } from './topic-filter.ts';
import { fnv1a } from './topic-index.ts';

export const KIND_SEND = 2;
/** A publish to the cluster's outbox: w0 = topic length; body = topic, message. */
export const KIND_PUBLISH = 3;
/** Publishes to a place, batched (mailbox.ts: a batch record): key = the topic, w1 = messages, each an item. */
export const KIND_PUBLISH_BATCH = 6;
/** router.ask(): w0 = the asker's threadId, w1 = its ask id, w2 = its place (-1: the parent mailbox); body = the request. */
export const KIND_ASK = 4;
/** The answer, in the asker's mailbox: w0 = its threadId, w1 = the ask id, w2 = ANSWER_OK or ANSWER_FAILED (body: the message). */
export const KIND_ANSWER = 5;
export const ANSWER_OK = 0;
export const ANSWER_FAILED = 1;
/** An ask's place when the asker is the parent thread (the parent mailbox). */
export const PARENT = -1;

/** What sendTo() says: in the owner's mailbox, no room there now, or no such connection. */
export type SendResult = 'sent' | 'full' | 'closed';
/** What publish() says: every worker took it, or a mailbox was full and none did (nothing was sent: retry later, or drop). */
export type PublishResult = 'sent' | 'full';

/** The switchboard's memory, as it crosses to worker threads (structured clone shares it). */
export interface SwitchboardInit {
  threads: SharedArrayBuffer;
  /** Per place: its mailbox, its liveness table, its topic filter (topic-filter.ts). */
  places: { mailbox: SharedArrayBuffer; live: SharedArrayBuffer; topics: SharedArrayBuffer }[];
  /** The answers to the parent thread's asks (a worker server's main thread). */
  parent?: SharedArrayBuffer;
  /** A cluster's mailbox: what this host publishes, for the other hosts. */
  outbox?: SharedArrayBuffer;
}

export interface SwitchboardOptions {
  /** Places: one per worker. */
  places: number;
  /** Connection slots per place (the core's maxConnections). */
  slots: number;
  /** Bytes of each place's mailbox, a power of two. Default 1 MiB. */
  mailbox?: number;
  /** An outbox for a cluster (cluster.ts), of the same size as a place's mailbox. */
  outbox?: boolean;
  /** A mailbox for the answers to the parent thread's asks (a worker server's). */
  parent?: boolean;
}

const DEFAULT_MAILBOX = 1 << 20;

const encoder = new TextEncoder();

export class Switchboard {
  readonly init: SwitchboardInit;
  readonly mailboxes: Mailbox[];
  /** The cluster's mailbox, if this host has a cluster. */
  readonly outbox: Mailbox | null;
  /** The answers to the parent thread's asks, if this switchboard has a parent. */
  readonly parent: Mailbox | null;
  private readonly threads: Int32Array;
  private readonly live: Int32Array[];
  private readonly filters: TopicFilter[];
  /** The hashes of the topic being published, and of the one being joined or counted: reused. */
  private readonly publishKey = new TopicKey();
  private readonly key = new TopicKey();
  /** threadId → place, as last seen (checked against `threads` on every use). */
  private readonly placeCache = new Map<number, number>();
  /** publish(): the places whose filter has the topic; reused. */
  private readonly wanted: number[] = [];
  /** A publish's topic as UTF-8 (ASCII copied here, no allocation), and a view of it per length, made once. */
  private scratch = new Uint8Array(64);
  private views: Uint8Array[] = [];

  static create(o: SwitchboardOptions): Switchboard {
    const capacity = o.mailbox ?? DEFAULT_MAILBOX;
    const places = Array.from({ length: o.places }, () => ({
      mailbox: Mailbox.create(capacity).buffer,
      live: new SharedArrayBuffer(4 * o.slots),
      topics: TopicFilter.create(),
    }));
    const outbox = o.outbox ? Mailbox.create(capacity).buffer : undefined;
    const parent = o.parent ? Mailbox.create(capacity).buffer : undefined;
    return new Switchboard({ threads: new SharedArrayBuffer(4 * (o.places + 1)), places, parent, outbox });
  }

  constructor(init: SwitchboardInit) {
    this.init = init;
    this.threads = new Int32Array(init.threads);
    this.mailboxes = init.places.map(p => new Mailbox(p.mailbox));
    this.live = init.places.map(p => new Int32Array(p.live));
    this.filters = init.places.map(p => new TopicFilter(p.topics));
    this.parent = init.parent ? new Mailbox(init.parent) : null;
    this.outbox = init.outbox ? new Mailbox(init.outbox) : null;
  }

  /** The place a thread serves, or -1. */
  placeOf(tid: number): number {
    const cached = this.placeCache.get(tid);
    if (cached !== undefined && Atomics.load(this.threads, cached) === tid + 1) return cached;
    for (let p = 0; p < this.mailboxes.length; p++) {
      if (Atomics.load(this.threads, p) === tid + 1) {
        this.placeCache.set(tid, p);
        return p;
      }
    }
    if (cached !== undefined) this.placeCache.delete(tid);
    return -1;
  }

  // ---- the owner of a place ----

  /** This thread serves `place` from now on: its liveness table starts empty. */
  attach(place: number, tid: number): void {
    this.live[place]!.fill(0);
    this.filters[place]!.clear();
    Atomics.store(this.threads, place, tid + 1);
  }

  /** The thread serving `place` is gone (it detached, or its parent saw it exit). */
  detach(place: number, tid: number): void {
    if (Atomics.compareExchange(this.threads, place, tid + 1, 0) === tid + 1) {
      this.live[place]!.fill(0);
      this.filters[place]!.clear();
    }
  }

  /** The places (a worker server's workers; 1 for a single-thread server). */
  get places(): number {
    return this.mailboxes.length;
  }

  /** 1 + the threadId serving `place` (0: none). */
  threadAt(place: number): number {
    return Atomics.load(this.threads, place);
  }

  /** The place that owns `key`: FNV-1a of its UTF-8 bytes, modulo the places (stable for a server's life). */
  owner(key: string): number {
    const places = this.mailboxes.length;
    return places === 1 ? 0 : (fnv1a(encoder.encode(key)) >>> 0) % places;
  }

  /** The owner of `place`: one of its connections joined topic (delta 1), left it (-1), or n were there already (n). */
  subscribed(place: number, topic: string, delta: number): void {
    this.filters[place]!.add(topic, this.key.of(topic), delta);
  }

  /**
   * Subscribers of topic on every place that has a thread, read now from shared memory
   * (a place whose table was being rewritten through every retry, or that holds more
   * topics than its table can, counts 0 for it: topic-filter.ts).
   */
  subscribers(topic: string): number {
    const key = this.key.of(topic);
    let n = 0;
    for (let p = 0; p < this.mailboxes.length; p++) {
      if (Atomics.load(this.threads, p) !== 0) n += Math.max(0, this.filters[p]!.count(key));
    }
    return n;
  }

  /**
   * An ask for the thread at `to` (the asker: this thread, at place `from`, or PARENT).
   * False when that mailbox has no room now.
   */
  postAsk(to: number, from: number, id: number, request: Uint8Array): boolean {
    return this.mailboxes[to]!.post(KIND_ASK, threadId, id, from, request);
  }

  /**
   * The answer to ask `id` of thread `tid` at place `at` (PARENT: the parent mailbox).
   * 'closed' when that thread no longer serves there (no one waits for it), 'full' when
   * its mailbox has no room now.
   */
  postAnswer(at: number, tid: number, id: number, status: number, body: Uint8Array): SendResult {
    const mailbox = at === PARENT ? this.parent : Atomics.load(this.threads, at) === tid + 1 ? this.mailboxes[at]! : null;
    if (!mailbox) return 'closed';
    return mailbox.post(KIND_ANSWER, tid, id, status, body) ? 'sent' : 'full';
  }

  /**
   * Thread `tid` has ended (its exit was seen): in every mailbox, a post it was in
   * the middle of (worker.terminate() stops a thread anywhere) is skipped by that
   * mailbox's reader, and counted there (mailbox.ts). Returns how many posts it
   * was in the middle of (what it left unpublished is at most that).
   */
  writerDied(tid: number): number {
    let left = 0;
    for (const m of this.mailboxes) left += m.writerDied(tid);
    if (this.outbox) left += this.outbox.writerDied(tid);
    return left;
  }

  /** The cluster consumes the outbox from now on (true), or no longer (false: publish() leaves it out). */
  clusterAttached(on: boolean): void {
    if (!this.outbox) throw new Error('this switchboard has no outbox');
    Atomics.store(this.threads, this.mailboxes.length, on ? 1 : 0);
  }

  opened(place: number, slot: number, serial: number): void {
    Atomics.store(this.live[place]!, slot, serial);
  }

  closed(place: number, slot: number): void {
    Atomics.store(this.live[place]!, slot, 0);
  }

  /** Does this place still hold the connection with this serial in this slot? */
  isLive(place: number, slot: number, serial: number): boolean {
    const live = this.live[place]!;
    return slot < live.length && Atomics.load(live, slot) === serial;
  }

  // ---- any thread ----

  /** One frame's payload for the connection `id`, through its place's mailbox. */
  sendTo(id: string, bytes: Uint8Array): SendResult {
    const to = parseConnectionId(id);
    if (!to) return 'closed';
    const place = this.placeOf(to.threadId);
    if (place < 0 || !this.isLive(place, to.slot, to.serial)) return 'closed';
    return this.mailboxes[place]!.post(KIND_SEND, to.threadId, to.slot, to.serial, bytes) ? 'sent' : 'full';
  }

  /**
   * One message per place that has a thread and subscribers of the topic (its
   * topic filter says so), and one in the cluster's outbox while a cluster
   * consumes it. A place's messages of one topic made in one tick by this thread
   * cross as one record: each joins this thread's open batch in that place's
   * mailbox (mailbox.ts: open/add; sealed at the end of the tick, when the topic
   * changes, when it is full, or before this thread posts anything else there).
   * All or nothing for this host's places: room in every mailbox's batch is made
   * (reserved) first, and written only if every place has it ('full': no worker
   * gets it, so a retry cannot duplicate it; 'sent': it is delivered unless its
   * thread dies before the end of the tick). The outbox is best effort, one
   * record per publish: when it is full the publish is dropped for the other
   * hosts only.
   */
  publish(topic: string, bytes: Uint8Array): PublishResult {
    return this.post(topic, bytes, this.outbox !== null && Atomics.load(this.threads, this.mailboxes.length) === 1);
  }

  /** publish() to this host's places only: what a cluster received from another host. */
  publishHere(topic: string, bytes: Uint8Array): PublishResult {
    return this.post(topic, bytes, false);
  }

  private post(topic: string, bytes: Uint8Array, outbox: boolean): PublishResult {
    const key = this.publishKey.of(topic);
    const wanted = this.wanted;
    const places = this.mailboxes.length;
    let w = 0;
    for (let p = 0; p < places; p++) {
      if (Atomics.load(this.threads, p) !== 0 && this.filters[p]!.wants(key)) wanted[w++] = p;
    }
    if (w === 0 && !outbox) return 'sent'; // no worker has a subscriber: nothing to post, nor to encode
    const t = this.topicBytes(topic);
    // This host's places: all or nothing (a publish reaches every worker with subscribers, or 'full').
    // A batch opened here for nothing (a later place was full) is given up when it is sealed.
    for (let i = 0; i < w; i++) {
      if (!this.mailboxes[wanted[i]!]!.open(KIND_PUBLISH_BATCH, t, bytes.length)) return 'full';
    }
    for (let i = 0; i < w; i++) this.mailboxes[wanted[i]!]!.add(bytes);
    // The cluster's outbox: best effort. Full (its pump is behind), the publish still goes here and is
    // dropped for the other hosts, counted by the outbox (the cluster's droppedBacklog).
    if (outbox) this.outbox!.post(KIND_PUBLISH, t.length, 0, 0, t, bytes);
    return 'sent';
  }

  /** topic's UTF-8 bytes, valid until the next call (the mailboxes copy them): an ASCII topic is copied into a reused buffer. */
  private topicBytes(topic: string): Uint8Array {
    const n = topic.length;
    if (n > this.scratch.length) {
      this.scratch = new Uint8Array(Math.max(n, 2 * this.scratch.length));
      this.views = [];
    }
    const s = this.scratch;
    for (let i = 0; i < n; i++) {
      const c = topic.charCodeAt(i);
      if (c >= 0x80) return encoder.encode(topic);
      s[i] = c;
    }
    return (this.views[n] ??= s.subarray(0, n));
  }

  /** Each place's mailbox counters. */
  counters(): MailboxCounters[] {
    return this.mailboxes.map(m => m.counters());
  }
}
