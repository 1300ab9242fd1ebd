// Connections as actors: one Router per endpoint (so one per thread that serves
// connections), reachable as endpoint.router and connection.router. It sends a
// frame to any connection by id (sendTo), keeps topics of local subscribers
// (join, leave, publish), and, in a worker server, consumes this thread's mailbox.
//
//   sender thread                          owner thread (this Router, attached to place P)
//   sendTo(id) ─ check liveness ─▶ mailbox[P] ─(one wake per batch)─▶ pump(): take records,
//   publish(t) ─ one record per place ─▶                               send() into each connection's tx ring
//
// Rules:
//   - Local first: a connection of this endpoint, or this thread's subscribers,
//     get the frame at once (Connection.send); other places get one mailbox
//     record each. For one sender and one target the path is always the same,
//     so frames arrive in the order they were sent.
//   - Deliveries from the mailbox are a batch, like a read's: every connection
//     they sent to is written once at the end (Endpoint.enter/leave), and a
//     batch takes at most BATCH records before letting I/O run (setImmediate).
//   - A message whose connection closed in flight (its slot now empty or holding
//     another serial, or its thread gone) is dropped and counted, never sent to
//     another client.
//   - A subscriber that cannot keep up is handled as any slow reader: what does
//     not fit in its tx ring queues, up to maxQueued (and the endpoint's
//     maxQueuedTotal), past which it is closed with ERR_SLOW_CONSUMER. Nothing
//     buffers without a bound, and the others never wait for it.
//   - Atomics.waitAsync does not keep Node's event loop alive (docs/node-facts.md):
//     while attached, a referenced timer that never fires does, so a mailbox
//     whose endpoint runs is always consumed; detach() (at the endpoint's close)
//     lets the thread end.

import { threadId } from 'node:worker_threads';
import type { Connection } from './connection.ts';
import { parseConnectionId } from './connection-id.ts';
import { Groups } from './groups.ts';
import type { Mailbox } from './mailbox.ts';
import { KIND_PUBLISH, KIND_SEND, Switchboard, type PublishResult, type SendResult, type SwitchboardInit } from './switchboard.ts';

/** Records one wake-up takes before letting I/O run. */
const BATCH = 4096;
const FOREVER = 2 ** 31 - 1;

/** What a Router needs from its endpoint (endpoint.ts). */
export interface RouterHost {
  readonly delivering: Connection | null;
  enter(connection: Connection): void;
  leave(): void;
}

export interface RouterStats {
  /** Frames handed to connections of this thread: local sendTo/publish and mailbox records. */
  delivered: number;
  /** Mailbox messages whose connection had closed (or that it refused) and were dropped. */
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
  private keepAlive: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private readonly counts: RouterStats = { delivered: 0, dropped: 0, full: 0, closed: 0 };
  private readonly visit = (kind: number, w0: number, w1: number, w2: number, body: Uint8Array) => this.deliver(kind, w0, w1, w2, body);

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
    board.attach(place, threadId);
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
    clearInterval(this.keepAlive);
    clearImmediate(this.immediate);
  }

  // ---- the endpoint tells us ----

  /** A connection of this endpoint opened (before onOpen: it can be sent to from then on). */
  opened(connection: Connection): void {
    const serial = parseConnectionId(connection.id)!.serial;
    this.bySlot[connection.slot] = connection;
    this.serials[connection.slot] = serial;
    this.board?.opened(this.place, connection.slot, serial);
  }

  /** It closed (before onClose): it leaves its topics, and senders get 'closed'. */
  closed(connection: Connection): void {
    if (this.bySlot[connection.slot] !== connection) return; // never opened
    this.board?.closed(this.place, connection.slot);
    this.bySlot[connection.slot] = undefined;
    this.serials[connection.slot] = 0;
    this.groups.leaveAll(connection);
  }

  // ---- the API ----

  /**
   * Send bytes as one frame to the connection `id`, on this thread or another.
   * 'sent': given to the connection (its queue) or to its thread's mailbox; 'full':
   * that mailbox has no room now (nothing was sent: try again later, or drop);
   * 'closed': no such connection (it closed, or its thread is gone).
   */
  sendTo(id: string, bytes: Uint8Array): SendResult {
    const to = parseConnectionId(id);
    if (!to) return this.result('closed');
    if (to.threadId === threadId) {
      const c = this.bySlot[to.slot];
      if (!c || this.serials[to.slot] !== to.serial) return this.result('closed');
      const outer = this.host.delivering;
      try {
        return this.send(c, bytes, outer) ? 'sent' : this.result('closed');
      } finally {
        if (!outer) this.host.leave();
      }
    }
    if (!this.board) return this.result('closed');
    return this.result(this.board.sendTo(id, bytes));
  }

  /**
   * Send bytes as one frame to every connection subscribed to topic, in every
   * thread: each other worker through one mailbox message, this thread's
   * subscribers at once. All or nothing: 'full' means a worker's mailbox had
   * no room and no one got it (retry later without duplicates, or drop it).
   */
  publish(topic: string, bytes: Uint8Array): PublishResult {
    if (this.board && this.board.publish(topic, bytes, this.place) === 'full') {
      this.counts.full++;
      return 'full';
    }
    this.fanOut(topic, bytes);
    return 'sent';
  }

  /** Subscribe a connection of this thread to topic (it leaves when it closes). */
  join(connection: Connection, topic: string): boolean {
    if (this.bySlot[connection.slot] !== connection) throw new Error(`connection ${connection.id} is not open on this endpoint`);
    return this.groups.join(connection, topic);
  }

  leave(connection: Connection, topic: string): boolean {
    return this.groups.leave(connection, topic);
  }

  /** The subscribers of topic on this thread. */
  subscribers(topic: string): number {
    return this.groups.subscribers(topic)?.size ?? 0;
  }

  stats(): RouterStats {
    return { ...this.counts };
  }

  // ---- delivery ----

  private result<R extends SendResult>(r: R): R {
    if (r === 'closed') this.counts.closed++;
    else if (r === 'full') this.counts.full++;
    return r;
  }

  /**
   * Connection.send inside a batch (the caller leaves it): the write joins the
   * batch's flush. False when the connection took nothing (its FIN is out, it
   * was destroyed, or the framing cannot carry the bytes).
   */
  private send(c: Connection, bytes: Uint8Array, outer: Connection | null): boolean {
    if (!outer) this.host.enter(c);
    let ok: boolean;
    try {
      ok = c.send(bytes) || c.queuedBytes > 0;
    } catch {
      ok = false; // ERR_REPLY_TOO_LARGE: a frame this framing cannot carry is not the receiver's fault
    }
    if (ok) this.counts.delivered++;
    return ok;
  }

  /** This thread's subscribers of topic, in one batch. */
  private fanOut(topic: string, bytes: Uint8Array): void {
    const subs = this.groups.subscribers(topic);
    if (!subs) return;
    const outer = this.host.delivering;
    try {
      for (const c of subs) this.send(c, bytes, outer);
    } finally {
      if (!outer) this.host.leave();
    }
  }

  private deliver(kind: number, w0: number, w1: number, w2: number, body: Uint8Array): void {
    if (kind === KIND_SEND) {
      const c = this.bySlot[w1];
      const ok = w0 === threadId && c !== undefined && this.serials[w1] === w2 && this.send(c, body, this.host.delivering);
      if (!ok) this.counts.dropped++;
      this.mailbox!.count(ok ? 1 : 0, ok ? 0 : 1);
    } else if (kind === KIND_PUBLISH) {
      const topic = Buffer.from(body.buffer, body.byteOffset, w0).toString();
      const subs = this.groups.subscribers(topic);
      if (subs) for (const c of subs) this.send(c, body.subarray(w0), this.host.delivering);
      this.mailbox!.count(1, 0);
    }
  }

  /** Take what the mailbox holds, one batch at a time; sleep when it is empty. */
  private pump(): void {
    this.immediate = undefined;
    for (;;) {
      const mailbox = this.mailbox;
      if (!mailbox) return;
      let n: number;
      const outer = this.host.delivering;
      try {
        n = mailbox.take(BATCH, this.visit);
      } finally {
        if (!outer) this.host.leave();
      }
      if (n >= BATCH) {
        this.immediate = setImmediate(() => this.pump()); // more may be waiting: let I/O run first
        return;
      }
      const wake = mailbox.sleep();
      if (wake) {
        void wake.then(() => this.pump());
        return;
      }
    }
  }
}
