// A mailbox in shared memory: many producer threads, one consumer thread,
// variable-size records, never a lock and never a wait on the producer side,
// and no record lost for good to a thread that dies in the middle of one.
//
//   SharedArrayBuffer
//   ┌────────────┬────────────┬─────────────┬────────────┬──────────────┬────────────┬───────────────────┬──────────────────┐
//   │ reserve @0 │ consume @64│ sleeping@128│ full  @192 │ delivered@256│ dead @320  │ writers @384      │ data: capacity   │
//   │ producers  │ consumer   │ consumer    │ producers  │ dropped @260 │ add: who   │ 512 × 32 bytes:   │ bytes (a power   │
//   │ (CAS)      │ (store)    │ sets, CAS   │ (add)      │ repaired@264 │ saw a death│ owner, at, size   │ of two)          │
//   └────────────┴────────────┴─────────────┴────────────┴──────────────┴────────────┴───────────────────┴──────────────────┘
//   Indexes written by different threads sit 64 bytes apart (no false sharing; a
//   writer's entry is 32 bytes, its own).
//
// Cursors are 32-bit byte counts that only grow (modulo 2^32): a record lives at
// `cursor & mask`. Invariants:
//   - consume <= reserve, and reserve - consume <= capacity (computed modulo 2^32);
//   - producers move `reserve` (compareExchange: each reserves [head, head + size));
//     only the consumer moves `consume`, and only past records it has read and zeroed
//     (a quarter of the ring at a time, and at the end of each take());
//   - every byte in [reserve, consume + capacity) is zero: a record's first word
//     becomes positive (its size) only when its producer publishes it (Atomics.store
//     after writing the rest), so the consumer never reads a half-written record;
//   - a record never wraps: a producer whose record does not fit before the end
//     reserves the rest of the ring too and fills it with a SKIP record;
//   - a record is at most capacity / 2 bytes, so an empty mailbox always takes one;
//   - post() is reserve() then commit(); a reservation given up (cancel()) is
//     published as a SKIP record, so nothing reserved is ever left unpublished
//     by a thread that lives.
//
// Record (8-byte aligned):  size:i32 (published last) | kind:i32 | w0 w1 w2:i32 | body length:i32 | body
//
// Writers, and a thread that dies inside post() (worker.terminate() can stop a
// thread anywhere; an exception cannot, neither path calls user code):
//   - each thread that posts owns one writer entry (owner = its threadId + 1),
//     taken on its first post and given back when it is reported dead; a thread
//     holds at most one reservation of a mailbox at a time;
//   - before its compareExchange on `reserve`, a producer announces in its entry the
//     head it reserves from and the size (size != 0: announcing); right after winning,
//     its first write is the record's first word: -(entry + 1), "being written by
//     that entry"; its last, after publishing, is size = 0 in its entry. So a
//     reservation is always in one of three states: unmarked (all zero, its writer
//     still announcing its head), marked (-(entry + 1)), or published (> 0);
//   - whoever sees a thread exit (the worker server) calls writerDied(threadId):
//     its entry's owner becomes -(threadId + 1) (dead), `dead` counts it, the
//     consumer is woken (and, while `dead` > 0, never sleeps more than 1 ms);
//   - the consumer, stopped at a record that is not published while `dead` > 0
//     (or on its first take(): its predecessor may have died between zeroing what
//     it took and moving `consume`), repairs it, and counts it in `repaired`: a
//     record marked by a dead entry becomes a SKIP up to that entry's announced end;
//     an unmarked one that no living writer announces (its writer died before
//     its first write, or it was zeroed by a consumer that died) becomes a SKIP up
//     to the next word that is not zero, or is announced, or `reserve`. A record a
//     living writer announces or marks is never touched: it is published soon.
//     Dead entries are given back once `consume` has passed what they announced.
//
// Batches (open/add/seal): a thread may keep one record of a mailbox open and
// append items to it (each a u32 length, its bytes, padding to 4), so that what it
// posts within one tick crosses as one record. The record is reserved when the
// batch opens (so open() can answer 'no room' at once, and add() never fails) at
// twice the size of this mailbox's last batch (up to BATCH_BODY), and published
// when it is sealed: at the end of the tick (a microtask), before this thread
// reserves anything else in the same mailbox (post, reserve: order per producer
// is kept), when the next item does not fit or has another key, and before this
// thread takes from a mailbox (Mailbox.sealAll). Until then the consumer stops at
// it, as at any reservation; a thread that dies with a batch open leaves a marked
// record, repaired (skipped, the batch lost) as above. A sealed batch that holds
// no item is cancelled (a SKIP).
//   Batch record: kind | w0 = key length | w1 = items | w2 = 0 | body: key, padding to 4, items.
//
// Waking: the consumer sets `sleeping` to 1, checks once more for a record, and
// waits (Atomics.waitAsync). A producer, after publishing, notifies only if it
// flips `sleeping` from 1 to 0 itself: one notify per sleep, however many records
// a batch holds; a mailbox whose consumer is busy costs its producers no notify.

import { threadId } from 'node:worker_threads';
import { fanoutRecordSize, putFanoutRecord } from '../core/core.ts';

const KIND_SKIP = 1;

const RESERVE = 0;
const CONSUME = 16;
const SLEEPING = 32;
const FULL = 48;
const DELIVERED = 64;
const DROPPED = 65;
const REPAIRED = 66;
const DEAD = 80;
/** Writer entries: Int32 index of the first, 8 Int32 each (owner, at, size, then padding). */
const WRITERS = 96;
const WRITER_WORDS = 8;
const OWNER = 0;
const AT = 1;
const SIZE = 2;
const MAX_WRITERS = 512;
const DATA = 4 * (WRITERS + MAX_WRITERS * WRITER_WORDS);
const HEAD = 24; // record header bytes
/** The most body bytes a batch reserves (more only for one larger item). */
const BATCH_BODY = 32 * 1024;

/** A batch record this thread holds open in a mailbox (see the header). */
interface OpenBatch {
  at: number;
  kind: number;
  keyLength: number;
  /** Body bytes reserved, and written so far (the key, its padding, the items). */
  room: number;
  len: number;
  items: number;
}

/** This thread's mailboxes with an open batch, by their memory (two Mailbox objects on one memory share one). */
const holding = new Map<SharedArrayBuffer, Mailbox>();
let sealScheduled = false;
function sealHeld(): void {
  sealScheduled = false;
  for (const m of holding.values()) m.seal();
}

/** Bytes of shared memory a mailbox of this capacity needs. */
function mailboxBytes(capacity: number): number {
  return DATA + capacity;
}

export interface MailboxCounters {
  /** Records the consumer handed on (a batch counts its items: a publish batch, its messages). */
  delivered: number;
  /** Records the consumer could not hand on (their connection closed in flight…). */
  dropped: number;
  /** post() calls refused because the mailbox was full. */
  full: number;
  /** Records left unpublished by a thread that died (or zeroed by a consumer that died), skipped by the consumer. */
  repaired: number;
  /** Bytes waiting right now. */
  waiting: number;
  /** The threads (threadId) holding a writer entry: each that has posted here and was not reported dead (writerDied). */
  writers: number[];
}

export class Mailbox {
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  /** The largest body post() takes. */
  readonly maxBody: number;
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  private readonly mask: number;
  /** This thread's writer entry (its owner word's index), once it has posted. */
  private writer = -1;
  /** The consumer has not taken yet: its predecessor may have died in the middle of a take. */
  private firstTake = true;
  /** This thread's open batch here, and the size of the last one sealed (the next reserves twice that). */
  private batch: OpenBatch | null = null;
  private lastBatch = 0;

  /** A new, empty mailbox of `capacity` bytes (a power of two, 4 KiB to 1 GiB). */
  static create(capacity: number): Mailbox {
    if (!Number.isInteger(capacity) || capacity < 4096 || capacity > 2 ** 30 || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError(`a mailbox's capacity is a power of two from 4 KiB to 1 GiB, got ${capacity}`);
    }
    return new Mailbox(new SharedArrayBuffer(mailboxBytes(capacity)));
  }

  /** The same mailbox, in another thread (the buffer came through workerData or postMessage). */
  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.capacity = buffer.byteLength - DATA;
    this.mask = this.capacity - 1;
    this.maxBody = this.capacity / 2 - HEAD;
    this.i32 = new Int32Array(buffer);
    this.u8 = new Uint8Array(buffer);
  }

  // ---- producers (any thread) ----

  /**
   * Append one record: kind (> 1), three words, and a body (a, then b). Returns
   * false, writing nothing, when the mailbox has no room for it now. Throws a
   * RangeError for a body over maxBody.
   */
  post(kind: number, w0: number, w1: number, w2: number, a: Uint8Array, b?: Uint8Array): boolean {
    const at = this.reserve(a.length + (b ? b.length : 0));
    if (at < 0) return false;
    this.commit(at, kind, w0, w1, w2, a, b);
    return true;
  }

  /**
   * Reserve room for a record with a body of `body` bytes: its place (give it to
   * commit() or cancel(), soon: the consumer stops at it until then), or -1 when
   * the mailbox has no room now. Two steps let a caller post to several
   * mailboxes all or nothing (switchboard.ts: publish).
   */
  reserve(body: number): number {
    const i32 = this.i32;
    if (holding.size > 0) holding.get(this.buffer)?.seal(); // this thread's open batch goes first: order per producer
    if (body > this.maxBody) throw new RangeError(`a ${body}-byte message is over this mailbox's limit of ${this.maxBody} bytes`);
    const w = this.writerEntry();
    if (Atomics.load(i32, w + SIZE) !== 0) throw new Error('this thread already holds a reservation in this mailbox: commit() or cancel() it first');
    const size = (HEAD + body + 7) & ~7;
    let head: number;
    let pos: number;
    let total: number;
    for (;;) {
      head = Atomics.load(i32, RESERVE);
      const used = (head - Atomics.load(i32, CONSUME)) | 0;
      pos = head & this.mask;
      const toEnd = this.capacity - pos;
      total = size <= toEnd ? size : toEnd + size;
      if (used + total > this.capacity) {
        Atomics.store(i32, w + SIZE, 0); // an announcement from a lost race: withdrawn
        Atomics.add(i32, FULL, 1);
        return -1;
      }
      // Announced before the reservation exists, so a reservation is never without its writer's name.
      Atomics.store(i32, w + AT, head);
      Atomics.store(i32, w + SIZE, total);
      if (Atomics.compareExchange(i32, RESERVE, head, (head + total) | 0) === head) break;
    }
    const mark = -((w - WRITERS) / WRITER_WORDS + 1);
    if (total === size) {
      Atomics.store(i32, (DATA + pos) >> 2, mark);
      return DATA + pos;
    }
    // The rest of the ring is ours too: our record at 0 (marked first), a SKIP record up to the end.
    Atomics.store(i32, DATA >> 2, mark);
    const at = (DATA + pos) >> 2;
    i32[at + 1] = KIND_SKIP;
    Atomics.store(i32, at, total - size);
    return DATA;
  }

  /** This thread's writer entry: the one it holds (from another Mailbox object on this memory), else a free one. */
  private writerEntry(): number {
    if (this.writer >= 0) return this.writer;
    const i32 = this.i32;
    const me = threadId + 1;
    for (let w = WRITERS; w < DATA >> 2; w += WRITER_WORDS) {
      if (Atomics.load(i32, w + OWNER) === me) return (this.writer = w);
    }
    for (let w = WRITERS; w < DATA >> 2; w += WRITER_WORDS) {
      if (Atomics.compareExchange(i32, w + OWNER, 0, me) === 0) return (this.writer = w);
    }
    throw new RangeError(`more than ${MAX_WRITERS} threads post to this mailbox (a thread's writer entry comes back when writerDied() reports it)`);
  }

  /** Write a reserved record and publish it (body: a then b, as long as reserved). */
  commit(at: number, kind: number, w0: number, w1: number, w2: number, a: Uint8Array, b?: Uint8Array): void {
    const i32 = this.i32;
    const w = at >> 2;
    const body = a.length + (b ? b.length : 0);
    i32[w + 1] = kind;
    i32[w + 2] = w0;
    i32[w + 3] = w1;
    i32[w + 4] = w2;
    i32[w + 5] = body;
    this.u8.set(a, at + HEAD);
    if (b) this.u8.set(b, at + HEAD + a.length);
    this.publish(w, (HEAD + body + 7) & ~7);
  }

  /** Give a reservation up: it becomes a SKIP record (its room comes back once the consumer passes it). */
  cancel(at: number, body: number): void {
    this.i32[(at >> 2) + 1] = KIND_SKIP;
    this.publish(at >> 2, (HEAD + body + 7) & ~7);
  }

  /**
   * Make sure this thread's open batch here is of `kind` and `key` and has room for
   * an item of `item` bytes: it is, or it is sealed and another reserved (see the
   * header). False, writing nothing, when the mailbox has no room for one now.
   * Throws a RangeError when key and item exceed maxBody.
   */
  open(kind: number, key: Uint8Array, item: number): boolean {
    const need = fanoutRecordSize(item);
    const b = this.batch;
    if (b !== null) {
      if (b.kind === kind && b.room - b.len >= need && this.holdsKey(b, key)) return true;
      this.seal();
    }
    const keyBytes = (key.length + 3) & ~3;
    const body = keyBytes + Math.max(need, Math.min(2 * this.lastBatch, BATCH_BODY, this.maxBody - keyBytes));
    const at = this.reserve(body);
    if (at < 0) return false;
    this.u8.set(key, at + HEAD);
    this.batch = { at, kind, keyLength: key.length, room: body, len: keyBytes, items: 0 };
    holding.set(this.buffer, this);
    if (!sealScheduled) {
      sealScheduled = true;
      queueMicrotask(sealHeld);
    }
    return true;
  }

  /** Append an item to the batch open() made room in (in Core.fanout's record format, which the router reads them in). */
  add(item: Uint8Array): void {
    const b = this.batch!;
    const start = b.at + HEAD;
    b.len = putFanoutRecord(this.u8, start + b.len, item) - start;
    b.items++;
  }

  /** Publish this thread's open batch here (nothing in it: give it up). */
  seal(): void {
    const b = this.batch;
    if (b === null) return;
    this.batch = null;
    holding.delete(this.buffer);
    if (b.items === 0) {
      this.cancel(b.at, b.room);
      return;
    }
    this.lastBatch = b.len - ((b.keyLength + 3) & ~3);
    const w = b.at >> 2;
    const i32 = this.i32;
    i32[w + 1] = b.kind;
    i32[w + 2] = b.keyLength;
    i32[w + 3] = b.items;
    i32[w + 4] = 0;
    i32[w + 5] = b.len;
    this.publish(w, (HEAD + b.room + 7) & ~7);
  }

  /** Publish every batch this thread holds open, in any mailbox (a consumer calls it before it takes: its own may be among them). */
  static sealAll(): void {
    if (holding.size > 0) sealHeld();
  }

  private holdsKey(b: OpenBatch, key: Uint8Array): boolean {
    if (b.keyLength !== key.length) return false;
    const u8 = this.u8;
    const at = b.at + HEAD;
    for (let i = 0; i < key.length; i++) if (u8[at + i] !== key[i]) return false;
    return true;
  }

  private publish(w: number, size: number): void {
    const i32 = this.i32;
    Atomics.store(i32, w, size);
    Atomics.store(i32, this.writerEntry() + SIZE, 0); // no reservation of ours is left: nothing to announce
    if (Atomics.load(i32, SLEEPING) === 1 && Atomics.compareExchange(i32, SLEEPING, 1, 0) === 1) {
      Atomics.notify(i32, SLEEPING, 1);
    }
  }

  // ---- the consumer (one thread) ----

  /**
   * Hand up to `max` published records, in order, to visit(kind, w0, w1, w2, body),
   * where body is a view valid only during the call; they are zeroed and their
   * space given back a quarter of the ring at a time, and at the end. visit returns false to stop after its record. Returns how
   * many it handed on (SKIP records do not count). visit must not throw (the
   * record would be seen again). A record left unpublished by a thread reported
   * dead (writerDied) is skipped and counted in `repaired`.
   */
  take(max: number, visit: (kind: number, w0: number, w1: number, w2: number, body: Uint8Array) => boolean | void): number {
    const i32 = this.i32;
    // Room goes back to the producers a quarter of the ring at a time (and at the
    // end), not per record: one zeroing and one store for many records, while a
    // full mailbox still gets room early in a long batch.
    let released = Atomics.load(i32, CONSUME);
    let consume = released;
    const quarter = this.capacity >> 2;
    let n = 0;
    let repair = this.firstTake || Atomics.load(i32, DEAD) > 0;
    this.firstTake = false;
    if (repair) this.releaseDeadWriters(consume);
    try {
      // Never past a whole ring in one go: records not yet released are not zeroed, so a full ring would lead back to them.
      while (n < max && ((consume - released) | 0) < this.capacity) {
        const pos = consume & this.mask;
        const at = (DATA + pos) >> 2;
        const size = Atomics.load(i32, at);
        if (size <= 0) {
          // Not published: a producer is writing it, or (rarely) one that died left it.
          if (repair && this.repair(consume, size)) continue;
          break;
        }
        const kind = i32[at + 1]!;
        let more: boolean | void = true;
        if (kind !== KIND_SKIP) {
          const start = DATA + pos + HEAD;
          more = visit(kind, i32[at + 2]!, i32[at + 3]!, i32[at + 4]!, this.u8.subarray(start, start + i32[at + 5]!));
          n++;
        }
        consume = (consume + size) | 0;
        if (((consume - released) | 0) >= quarter) released = this.release(released, consume);
        if (more === false) break;
      }
    } finally {
      if (consume !== released) this.release(released, consume);
    }
    return n;
  }

  /**
   * The record at cursor p is not published (first word `first`: 0, or a writer's
   * mark): make it a SKIP if no living thread will publish it. True if it did.
   */
  private repair(p: number, first: number): boolean {
    const i32 = this.i32;
    const reserve = Atomics.load(i32, RESERVE);
    if (((reserve - p) | 0) <= 0) return false; // nothing reserved here yet
    let end: number;
    if (first < 0) {
      // Marked: its writer won the reservation and announced its end.
      const w = WRITERS + (-first - 1) * WRITER_WORDS;
      if (Atomics.load(i32, w + OWNER) >= 0) return false; // alive: it publishes soon
      end = (Atomics.load(i32, w + AT) + Atomics.load(i32, w + SIZE)) | 0;
    } else {
      // Unmarked: its writer is between its reservation and its mark, and still announces p, unless it died.
      const announced = new Set<number>();
      for (let w = WRITERS; w < DATA >> 2; w += WRITER_WORDS) {
        if (Atomics.load(i32, w + SIZE) === 0) continue;
        const at = Atomics.load(i32, w + AT);
        if (at === p && Atomics.load(i32, w + OWNER) > 0) return false; // a living writer's: it marks it soon
        announced.add(at);
      }
      if (Atomics.load(i32, (DATA + (p & this.mask)) >> 2) !== 0) return true; // marked or published meanwhile: look again
      // Zero up to the next reservation that shows its writer (a mark, a record, an announcement) or `reserve`.
      end = (p + 8) | 0;
      while (end !== reserve && Atomics.load(i32, (DATA + (end & this.mask)) >> 2) === 0 && !announced.has(end)) end = (end + 8) | 0;
      // A wrapping reservation marks its record at 0 before its SKIP at the end: if that mark is a dead writer's who
      // announced p, the whole reservation is its own, and one SKIP covers it.
      const mark = end === reserve ? 0 : Atomics.load(i32, (DATA + (end & this.mask)) >> 2);
      const w = WRITERS + (-mark - 1) * WRITER_WORDS;
      if (mark < 0 && Atomics.load(i32, w + OWNER) < 0 && Atomics.load(i32, w + AT) === p) end = (p + Atomics.load(i32, w + SIZE)) | 0;
    }
    const at = (DATA + (p & this.mask)) >> 2;
    i32[at + 1] = KIND_SKIP;
    Atomics.store(i32, at, (end - p) | 0);
    Atomics.add(i32, REPAIRED, 1);
    return true;
  }

  /**
   * Give back the entries of dead writers nothing of which is left ahead of `consume`:
   * it has passed what they announced (all of it, for a reservation that wraps: its
   * SKIP comes first), or it has taken everything reserved.
   */
  private releaseDeadWriters(consume: number): void {
    const i32 = this.i32;
    const reserve = Atomics.load(i32, RESERVE);
    for (let w = WRITERS; w < DATA >> 2; w += WRITER_WORDS) {
      const owner = Atomics.load(i32, w + OWNER);
      if (owner >= 0) continue;
      const at = Atomics.load(i32, w + AT);
      const size = Atomics.load(i32, w + SIZE);
      const passed = size > this.capacity - (at & this.mask) ? ((consume - at - size) | 0) >= 0 : ((consume - at) | 0) > 0;
      if (passed || consume === reserve) {
        Atomics.store(i32, w + SIZE, 0);
        if (Atomics.compareExchange(i32, w + OWNER, owner, 0) === owner) Atomics.sub(i32, DEAD, 1);
      }
    }
  }

  /**
   * The thread `tid` has ended (its exit was seen): a record it left unpublished
   * is skipped by the consumer from now on (counted in `repaired`), and its writer
   * entry comes back once the consumer has passed it. Returns 1 if it died in the
   * middle of a post (between announcing its reservation and clearing it: it may
   * have lost the race, or published just before), else 0. Call it once per
   * thread, from any thread, after the thread's exit.
   */
  writerDied(tid: number): number {
    const i32 = this.i32;
    for (let w = WRITERS; w < DATA >> 2; w += WRITER_WORDS) {
      if (Atomics.load(i32, w + OWNER) !== tid + 1) continue;
      if (Atomics.load(i32, w + SIZE) === 0) {
        Atomics.store(i32, w + OWNER, 0); // it held nothing here
        return 0;
      }
      Atomics.add(i32, DEAD, 1);
      Atomics.store(i32, w + OWNER, -(tid + 1));
      this.wake(); // a consumer asleep at its record looks again
      return 1;
    }
    return 0;
  }

  /** Zero the records in [from, to) (at most two spans: they may wrap), then give their room back. Returns `to`. */
  private release(from: number, to: number): number {
    const taken = (to - from) | 0;
    const at = from & this.mask;
    const first = Math.min(taken, this.capacity - at);
    this.u8.fill(0, DATA + at, DATA + at + first);
    if (taken > first) this.u8.fill(0, DATA, DATA + taken - first);
    Atomics.store(this.i32, CONSUME, to);
    return to;
  }

  /** Is a record published and not yet taken? */
  ready(): boolean {
    return Atomics.load(this.i32, (DATA + (Atomics.load(this.i32, CONSUME) & this.mask)) >> 2) > 0;
  }

  /**
   * Nothing to take: go to sleep. Returns a promise that resolves when a producer
   * publishes the next record, or null when one already has (take again now).
   * The promise does not keep Node's event loop alive (see router.ts).
   */
  sleep(): Promise<unknown> | null {
    const i32 = this.i32;
    Atomics.store(i32, SLEEPING, 1);
    if (this.ready()) {
      Atomics.store(i32, SLEEPING, 0);
      return null;
    }
    // While a dead writer's record may be ahead (writerDied can come between a take() and this sleep), look again every ms.
    const r = Atomics.waitAsync(i32, SLEEPING, 1, Atomics.load(i32, DEAD) > 0 ? 1 : Infinity);
    if (!r.async) {
      // A producer flipped the flag between our store and the wait.
      Atomics.store(i32, SLEEPING, 0);
      return null;
    }
    return r.value;
  }

  /** Stop sleeping without being woken (the consumer is going away). */
  wake(): void {
    if (Atomics.compareExchange(this.i32, SLEEPING, 1, 0) === 1) Atomics.notify(this.i32, SLEEPING, 1);
  }

  /** The consumer counts what it handed on and what it dropped. */
  count(delivered: number, dropped: number): void {
    if (delivered) Atomics.add(this.i32, DELIVERED, delivered);
    if (dropped) Atomics.add(this.i32, DROPPED, dropped);
  }

  private writers(): number[] {
    const tids: number[] = [];
    for (let w = WRITERS; w < DATA >> 2; w += WRITER_WORDS) {
      const owner = Atomics.load(this.i32, w + OWNER);
      if (owner > 0) tids.push(owner - 1);
    }
    return tids;
  }

  counters(): MailboxCounters {
    const i32 = this.i32;
    return {
      delivered: Atomics.load(i32, DELIVERED),
      dropped: Atomics.load(i32, DROPPED),
      full: Atomics.load(i32, FULL),
      repaired: Atomics.load(i32, REPAIRED),
      waiting: (Atomics.load(i32, RESERVE) - Atomics.load(i32, CONSUME)) | 0,
      writers: this.writers(),
    };
  }
}
