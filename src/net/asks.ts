// Requests to the thread that owns a key, and their answers: one thread's side of
// router.ask() (router.ts) and of WorkerServer.ask() (the main thread). State that
// must be shared lives on one owner thread (Switchboard.owner(key)), whose onAsk
// hook answers the asks of every thread; the requests and answers travel through
// the same shared-memory mailboxes as sendTo (switchboard.ts: KIND_ASK, KIND_ANSWER).
//
//   asker (place A or PARENT)                          owner (place O)
//   ask(O, bytes) ─ KIND_ASK(tid, id, A) ─▶ mailbox[O] ─▶ serve(): onAsk(request) ─┐
//   answered(id) ◀─ mailbox[A] or parent ◀─ KIND_ANSWER(tid, id, status) ◀─────────┘
//
// Invariants:
//   - An ask to this thread's own place calls onAsk directly: no mailbox, no copy,
//     no timer when onAsk answers synchronously (the single-thread case costs a
//     promise, nothing more). An async onAsk is bounded by the timeout as a remote one is.
//   - Every ask settles exactly once: with the answer's bytes (a copy the caller
//     owns), ERR_ASK_FAILED (the owner's onAsk threw, rejected, answered something
//     other than bytes, or does not exist), ERR_OWNER_GONE (no thread serves the
//     owner's place, at the ask or before the answer: checked every WATCH_MS
//     against the threadId the ask went to, so a replacement thread that started
//     meanwhile does not count), or ERR_ASK_TIMEOUT. An answer that comes after its
//     ask settled is dropped (counted as the mailbox's dropped).
//   - A full owner mailbox makes the ask wait for room (this thread's PostQueue:
//     in order with its other waiting asks), within the same timeout. A full
//     asker mailbox makes the answer wait (ANSWER_WAIT ms at most), unless the
//     asker's thread is gone: no one waits for it then.
//   - The request is read when the ask goes into the mailbox (at once, or when room
//     comes): leave it unchanged until the ask settles. onAsk gets a copy across
//     threads, the caller's bytes on its own thread: valid until onAsk returns or
//     its promise settles either way.

import { E_ASK_FAILED, E_ASK_TIMEOUT, E_OWNER_GONE, ringwireError, type RingwireError } from '../core/errors.ts';
import { PostQueue } from './post-queue.ts';
import { ANSWER_FAILED, ANSWER_OK, KIND_ANSWER, PARENT, type Switchboard } from './switchboard.ts';

/** What onAsk is told besides the request. */
export interface AskContext {
  /** The asking thread's index (router.thread there), or -1 for a worker server's main thread. */
  from: number;
  /** This thread's index: the owner's. */
  thread: number;
}

/** The owner's hook: the answer's bytes, or a promise of them. */
export type AskHandler = (request: Uint8Array, context: AskContext) => Uint8Array | PromiseLike<Uint8Array>;

export interface AskOptions {
  /** Ms to wait for the answer (and for room in the owner's mailbox). Default 5000. */
  timeout?: number;
}

export const DEFAULT_ASK_TIMEOUT = 5000;
/** How often a waiting ask checks that its owner's thread still serves. */
const WATCH_MS = 20;
/** How long an answer waits for room in its asker's mailbox. */
const ANSWER_WAIT = 30_000;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

interface Pending {
  resolve(answer: Uint8Array): void;
  reject(err: RingwireError): void;
  /** The place asked, and 1 + the threadId serving it when asked. */
  to: number;
  thread: number;
  timer: NodeJS.Timeout;
}

export class Asks {
  private readonly board: Switchboard;
  /** This thread's place, or PARENT. */
  private readonly place: number;
  private readonly handler: () => AskHandler | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly posts = new PostQueue();
  private readonly answers = new PostQueue();
  private nextId = 0;
  private watch: NodeJS.Timeout | undefined;
  private pumping = false;

  constructor(board: Switchboard, place: number, handler: () => AskHandler | undefined) {
    this.board = board;
    this.place = place;
    this.handler = handler;
  }

  ask(to: number, request: Uint8Array, timeout = DEFAULT_ASK_TIMEOUT): Promise<Uint8Array> {
    if (!Number.isInteger(to) || to < 0 || to >= this.board.places) return Promise.reject(new RangeError(`no thread ${String(to)}: threads are 0 to ${this.board.places - 1}`));
    if (!(timeout >= 0)) return Promise.reject(new RangeError(`timeout is a number of ms >= 0, got ${String(timeout)}`));
    if (!(request instanceof Uint8Array)) return Promise.reject(new TypeError('an ask\'s request is a Uint8Array'));
    if (to === this.place) return this.local(request, timeout);
    const thread = this.board.threadAt(to);
    if (thread === 0) return Promise.reject(gone(to));
    const mailbox = this.board.mailboxes[to]!;
    if (request.length > mailbox.maxBody) return Promise.reject(new RangeError(`a ${request.length}-byte request is over the mailbox's limit of ${mailbox.maxBody} bytes`));
    const id = this.nextId = (this.nextId + 1) & 0x7fffffff;
    if (this.place === PARENT) this.pump();
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(id, ringwireError(E_ASK_TIMEOUT, `no answer from thread ${to} within ${timeout} ms: raise { timeout }, or look at what keeps that thread busy`)), timeout);
      this.pending.set(id, { resolve, reject, to, thread, timer });
      // Made once, and it does not keep the loop alive (a waiting ask's timer does): asks one at a time cost no interval each.
      this.watch ??= setInterval(() => this.check(), WATCH_MS).unref();
      void this.posts.post(() => {
        if (!this.pending.has(id)) return 'closed'; // settled while it waited for room
        if (this.board.threadAt(to) !== thread) return 'closed';
        return this.board.postAsk(to, this.place, id, request) ? 'sent' : 'full';
      }, timeout).then(r => {
        if (r === 'closed') this.settle(id, gone(to));
      }, () => {}); // out of time waiting for room: its timer settles it
    });
  }

  /** On the owner's thread: an ask from thread `tid` at place `from`, answered into its mailbox. */
  serve(tid: number, id: number, from: number, body: Uint8Array): void {
    let result: Uint8Array | PromiseLike<Uint8Array>;
    try {
      result = this.call(body.slice(), from);
    } catch (err) {
      this.answer(from, tid, id, failure(err));
      return;
    }
    if (isThenable(result)) result.then(a => this.answer(from, tid, id, a), err => this.answer(from, tid, id, failure(err)));
    else this.answer(from, tid, id, result);
  }

  /** An answer arrived in this thread's mailbox. */
  answered(id: number, status: number, body: Uint8Array): boolean {
    if (!this.pending.has(id)) return false;
    if (status === ANSWER_OK) this.settle(id, body.slice());
    else this.settle(id, ringwireError(E_ASK_FAILED, decoder.decode(body)));
    return true;
  }

  /** Reject every waiting ask (the thread stops serving). */
  close(): void {
    clearInterval(this.watch);
    for (const id of [...this.pending.keys()]) this.settle(id, ringwireError(E_OWNER_GONE, 'the asking thread stopped serving before the answer came'));
  }

  private call(request: Uint8Array, from: number): Uint8Array | PromiseLike<Uint8Array> {
    const onAsk = this.handler();
    if (!onAsk) throw new Error(`thread ${this.place} has no onAsk hook: export onAsk from the handler module (or give it to createServer)`);
    return onAsk(request, { from, thread: this.place });
  }

  /** The owner is this thread: onAsk now, no mailbox. */
  private local(request: Uint8Array, timeout: number): Promise<Uint8Array> {
    let result: Uint8Array | PromiseLike<Uint8Array>;
    try {
      result = this.call(request, this.place);
    } catch (err) {
      return Promise.reject(ringwireError(E_ASK_FAILED, failure(err).message, err));
    }
    if (!isThenable(result)) return result instanceof Uint8Array ? Promise.resolve(result) : Promise.reject(ringwireError(E_ASK_FAILED, notBytes(result)));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(ringwireError(E_ASK_TIMEOUT, `onAsk on this thread did not settle within ${timeout} ms`)), timeout);
      result.then(a => {
        clearTimeout(timer);
        if (a instanceof Uint8Array) resolve(a);
        else reject(ringwireError(E_ASK_FAILED, notBytes(a)));
      }, (err: unknown) => {
        clearTimeout(timer);
        reject(ringwireError(E_ASK_FAILED, failure(err).message, err));
      });
    });
  }

  private answer(at: number, tid: number, id: number, value: unknown): void {
    let status = ANSWER_OK;
    let body: Uint8Array;
    if (value instanceof Error) {
      status = ANSWER_FAILED;
      body = encoder.encode(value.message);
    } else if (value instanceof Uint8Array) body = value;
    else {
      status = ANSWER_FAILED;
      body = encoder.encode(notBytes(value));
    }
    const limit = (at === PARENT ? this.board.parent : this.board.mailboxes[at])?.maxBody ?? 0;
    if (body.length > limit) {
      status = ANSWER_FAILED;
      body = encoder.encode(`onAsk on thread ${this.place} answered ${body.length} bytes, over the mailbox's limit of ${limit}`);
    }
    const final = body;
    const s = status;
    // Waits for room in line with this thread's other answers; past ANSWER_WAIT its asker has long timed out.
    void this.answers.post(() => this.board.postAnswer(at, tid, id, s, final), ANSWER_WAIT).catch(() => {});
  }

  private settle(id: number, outcome: Uint8Array | RingwireError): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (outcome instanceof Uint8Array) p.resolve(outcome);
    else p.reject(outcome);
  }

  /** Asks whose owner's thread ended (or was replaced) fail now, not at their timeout. */
  private check(): void {
    if (this.pending.size === 0) return;
    for (const [id, p] of this.pending) {
      if (this.board.threadAt(p.to) !== p.thread) this.settle(id, gone(p.to));
    }
  }

  /** The parent thread consumes its answers mailbox itself (a worker thread's router does it for its own). */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    const mailbox = this.board.parent!;
    const run = (): void => {
      for (;;) {
        let late = 0;
        const n = mailbox.take(4096, (kind, w0, w1, w2, body) => {
          if (!(kind === KIND_ANSWER && this.answered(w1, w2, body))) late++;
        });
        mailbox.count(n - late, late);
        // Asleep, it does not keep the event loop alive: a waiting ask's timer does.
        const wake = mailbox.sleep();
        if (wake) {
          void wake.then(run);
          return;
        }
      }
    };
    run();
  }
}

function gone(place: number): RingwireError {
  return ringwireError(E_OWNER_GONE, `thread ${place}, the owner, is not serving (it exited or is restarting): what it held is gone with it; ask again once it serves`);
}

function failure(err: unknown): Error {
  return new Error(`onAsk failed: ${err instanceof Error ? err.message : String(err)}`);
}

function notBytes(value: unknown): string {
  return `onAsk answered ${value === null ? 'null' : typeof value}, not a Uint8Array`;
}

function isThenable(v: unknown): v is PromiseLike<Uint8Array> {
  return typeof (v as PromiseLike<unknown> | null)?.then === 'function';
}
