// What a listening socket does when accept(2) fails for lack of descriptors
// (EMFILE: the process is at RLIMIT_NOFILE; ENFILE: the system is out).
//
// libuv first tries its "EMFILE trick" (uv__emfile_trick in src/unix/stream.c):
// each event loop keeps one spare descriptor; on EMFILE it closes it, accepts and
// closes every queued connection (the clients see a FIN), and opens the spare
// again. Node never hears of those connections. When the spare is gone (another
// thread took the descriptor it freed, which happens with worker threads, or an
// ENFILE), libuv reports the error to Node and goes straight back to accept(2):
// the same error again, at once, for as long as connections wait in the queue,
// so the thread spins at 100% and the queue never drains.
//
// The guard ends that loop on the first such error: it closes the listening
// socket (uv_close sets the handle's fd to -1, which ends libuv's accept loop at
// once, and the kernel resets every connection still queued: each client hears
// "refused" or "reset" instead of waiting), counts and reports the drop, and
// listens again after a pause (100 ms, doubling while it keeps happening, up to
// 2 s). With SO_REUSEPORT the other threads' sockets take new connections meanwhile.
//
// The trick's own drops are silent: Node never hears of them, so nothing would
// count or log them. So the owner of the listening sockets (listener-set.ts)
// also probes, once a second while listening, whether a descriptor can be
// opened at all (descriptorFree(): open and close /dev/null, two syscalls a
// second for all its sockets); when it cannot, accepts are failing, and it
// pauses every guard as on a reported error, reporting the shortage once. A
// server that fits its limit (the start-up check) always has the headroom free,
// so the probe fails only at a real shortage.

import fs from 'node:fs';
import type net from 'node:net';
import { E_NO_DESCRIPTORS, ringwireError, type RingwireError } from '../core/errors.ts';

const MIN_PAUSE = 100;
const MAX_PAUSE = 2000;
/** How often the owner of listening sockets probes for a free descriptor (ms). */
export const PROBE_PERIOD = 1000;

export interface AcceptGuard {
  /** Stop for good (the server is closing): cancel a pending re-listen. */
  stop(): void;
  /** True while paused (not listening) after a descriptor shortage. */
  readonly paused: boolean;
  /** The probe found no descriptor free: pause as on a failed accept (true if it was listening), reporting it only if `report` (once for all the sockets). */
  short(err: NodeJS.ErrnoException, report: boolean): boolean;
}

/** Is this error an accept(2) that failed for lack of descriptors? */
function isDescriptorShortage(err: Error): boolean {
  const e = err as NodeJS.ErrnoException;
  return (e.code === 'EMFILE' || e.code === 'ENFILE') && (e.syscall === undefined || e.syscall === 'accept');
}

/** Can this process open one more descriptor now? The error (EMFILE/ENFILE) when it cannot. */
export function descriptorFree(): NodeJS.ErrnoException | null {
  try {
    fs.closeSync(fs.openSync('/dev/null', 'r'));
    return null;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return e.code === 'EMFILE' || e.code === 'ENFILE' ? e : null;
  }
}

/**
 * Guard `server`, and own its 'error' events. `options()` is where it listens
 * (undefined until the first listen() resolved: errors before that are the
 * caller's, who rejects with them). On a descriptor shortage it closes the
 * listener, reports ERR_NO_DESCRIPTORS through `report.shortage`, and listens
 * again after a pause; any other error, outside a pause, goes to `report.other`.
 */
export function guardAccepts(
  server: net.Server,
  options: () => net.ListenOptions | undefined,
  reportTo: { shortage(err: RingwireError): void; other(err: Error): void },
): AcceptGuard {
  let pause = MIN_PAUSE;
  let timer: NodeJS.Timeout | undefined;
  let lastShortage = -Infinity;
  let stopped = false;
  const relisten = (): void => {
    if (stopped) return;
    // Could not listen again (no descriptor yet, or the port was taken meanwhile): try later.
    const failed = () => {
      server.off('listening', listening);
      if (!stopped) timer = setTimeout(relisten, pause);
    };
    const listening = () => {
      server.off('error', failed);
      if (stopped) return void server.close(); // closed while it was binding: stay closed
      guard.paused = false;
    };
    server.once('error', failed);
    server.once('listening', listening);
    server.listen(options());
  };
  const guard = {
    paused: false,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
    short(err: NodeJS.ErrnoException, report: boolean): boolean {
      if (!options() || guard.paused || stopped || !server.listening) return false;
      shortage(err.code!, 'no descriptor left for a new connection', err, report);
      return true;
    },
  };
  const shortage = (code: string, how: string, cause: Error, report = true): void => {
    // A shortage soon after the last re-listen doubles the pause; a calm spell resets it.
    pause = performance.now() - lastShortage < 2 * MAX_PAUSE ? Math.min(MAX_PAUSE, pause * 2) : MIN_PAUSE;
    lastShortage = performance.now();
    guard.paused = true;
    server.close(); // the handle closes now; the callback would wait for every connection
    if (report) reportTo.shortage(ringwireError(E_NO_DESCRIPTORS, `${how} (${code}): not accepting for ${pause} ms; connections waiting were reset`, cause));
    // Ref'd on purpose: a paused server with no connections must not let the process exit.
    timer = setTimeout(relisten, pause);
  };
  server.on('error', err => {
    if (!options() || guard.paused || stopped) return;
    if (!isDescriptorShortage(err)) return reportTo.other(err);
    shortage((err as NodeJS.ErrnoException).code!, 'accept failed', err);
  });
  return guard;
}
