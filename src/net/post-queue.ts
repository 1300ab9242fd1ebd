// The posts of one thread that wait for room: publishAsync() and sendToAsync()
// (router.ts, worker-server.ts) try at once, and when a mailbox is full they
// wait here instead of returning 'full'.
//
// Invariants:
//   - One FIFO per thread: a post is tried only once every post queued before it
//     on this thread went out or timed out, so waiting posts keep the order they
//     were made in (per publisher, whatever their topics or connections; one
//     full mailbox holds back the posts after it, which is the price of order).
//     A post made while none waits is tried at once, costing nothing extra.
//   - Each waits at most its timeout: past it, it is rejected with
//     ERR_MAILBOX_TIMEOUT and never goes out (a publish is all or nothing, so
//     no worker got it), and those behind it go on.
//   - A retry is a turn of the event loop (setImmediate) for the first tries, then
//     every millisecond: the receiver's thread frees room on its own loop, and
//     a thread waiting for its own mailbox must let its pump run.
//   - The synchronous sendTo()/publish() do not wait here: mixed with waiting
//     posts, they may overtake them.

import { E_MAILBOX_TIMEOUT, ringwireError, type RingwireError } from '../core/errors.ts';

/** A post's outcome: 'full' means try again later. */
type Attempt<R extends string> = () => R | 'full';

interface Waiting {
  attempt: Attempt<string>;
  deadline: number;
  timeout: number;
  resolve(result: string): void;
  reject(err: RingwireError): void;
}

/** Default bound on a post's wait for room, ms. */
export const DEFAULT_POST_TIMEOUT = 5000;
const SPINS = 8;

export class PostQueue {
  private readonly waiting: Waiting[] = [];
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private spins = 0;

  /** Try now if nothing waits, else (or when full) wait in line for room, up to `timeout` ms. */
  post<R extends string>(attempt: Attempt<R>, timeout = DEFAULT_POST_TIMEOUT): Promise<Exclude<R, 'full'>> {
    if (!(timeout >= 0)) throw new RangeError(`timeout is a number of ms >= 0, got ${String(timeout)}`);
    if (this.waiting.length === 0) {
      const r = attempt();
      if (r !== 'full') return Promise.resolve(r as Exclude<R, 'full'>);
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ attempt, deadline: performance.now() + timeout, timeout, resolve: resolve as (r: string) => void, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.timer) return;
    const retry = () => {
      this.timer = undefined;
      this.retry();
    };
    this.timer = this.spins++ < SPINS ? setImmediate(retry) : setTimeout(retry, 1);
  }

  private retry(): void {
    const q = this.waiting;
    while (q.length > 0) {
      const r = q[0]!.attempt();
      if (r === 'full') break;
      q.shift()!.resolve(r);
    }
    // Those whose time is up leave the line, wherever they stand; the rest keep their order.
    const now = performance.now();
    for (let i = 0; i < q.length;) {
      const w = q[i]!;
      if (now >= w.deadline) {
        q.splice(i, 1);
        w.reject(ringwireError(E_MAILBOX_TIMEOUT, `no room in the receiving thread's mailbox within ${w.timeout} ms: it does not keep up; raise { timeout } or the mailbox size`));
      } else i++;
    }
    if (q.length > 0) this.schedule();
    else this.spins = 0;
  }
}
