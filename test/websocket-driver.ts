// Drives a websocket core the way the host does, without sockets: copy each read
// into the span readSpan() offers, received(), take the listed entries (kind and
// payload) and consume them. With `defer`, a listing is held like an async
// handler's: the slot is held, the next read lands, and only then are the views
// read and consumed, so a core that moved bytes a listed view still shows is caught.
// With `shrink`, the rings are given back between reads as the host's idle sweep does
// (an empty rx ring entirely: the next read takes the smallest one again, takeRx).
import type { Core } from '../src/core/core.ts';
import { E_WEBSOCKET_PROTOCOL, R_MORE, R_NO_MEMORY, WS_CLOSE } from '../src/core/layout.ts';
import type { WsExpected, WsItem } from './websocket-oracle.ts';

export interface WsOutcome extends WsExpected {
  noMemory: boolean;
  /** Reads that found no rx ring (shrink() gave it back) and took one again. */
  retaken: number;
}

export function wsFeed(core: Core, slot: number, chunks: Uint8Array[], defer: boolean[] = [], shrink: boolean[] = []): WsOutcome {
  const items: WsItem[] = [];
  let error = 0;
  let noMemory = false;
  let listings = 0;
  let reads = 0;
  let retaken = 0;
  let pending: { views: Uint8Array[]; kinds: number[]; copies: Buffer[]; end: number } | undefined;
  /** The "async handler" finishes: its views must still show what was listed. */
  const settle = () => {
    if (!pending) return;
    const p = pending;
    p.views.forEach((v, i) => {
      if (!Buffer.from(v).equals(p.copies[i]!)) throw new Error(`a listed view changed before it was consumed (entry ${i})`);
      items.push({ kind: p.kinds[i]!, payload: p.copies[i]! });
    });
    pending = undefined;
    core.consume(slot, p.end);
    core.hold(slot, false);
  };
  const take = (status: number): void => {
    for (;;) {
      const n = core.frameCount();
      if (status < 0) error = -status;
      if (status === R_NO_MEMORY) noMemory = true;
      if (n > 0) {
        const views: Uint8Array[] = [], kinds: number[] = [];
        for (let i = 0; i < n; i++) {
          views.push(core.frame(i));
          kinds.push(core.frameKind(i));
        }
        const end = core.frameEnd(n - 1);
        if (defer.length && defer[listings++ % defer.length]) {
          pending = { views, kinds, copies: views.map(v => Buffer.from(v)), end };
          core.hold(slot, true);
          return; // the rest (R_MORE) is listed once the hold ends
        }
        views.forEach((v, i) => items.push({ kind: kinds[i]!, payload: Buffer.from(v) }));
        core.consume(slot, end);
      }
      if (status !== R_MORE) return;
      status = core.process(slot);
    }
  };
  const resume = () => {
    settle();
    if (!error && !noMemory) take(core.process(slot));
  };
  for (const chunk of chunks) {
    for (let at = 0; at < chunk.length && !error && !noMemory;) {
      if (core.rxSize(slot) === 0) {
        retaken++;
        if (core.takeRx(slot) === R_NO_MEMORY) { noMemory = true; break; }
      }
      const span = core.readSpan(slot);
      if (span.length === 0) {
        // After a close the core lists nothing more: the host reads no more.
        if (items.at(-1)?.kind === WS_CLOSE) break;
        // Full while held: the "handler" settles, then decoding goes on.
        if (!pending) throw new Error('the rx ring has no room and nothing holds it');
        resume();
        continue;
      }
      const n = Math.min(span.length, chunk.length - at);
      span.set(chunk.subarray(at, at + n));
      at += n;
      const status = core.received(slot, n);
      // Held: the core listed nothing; the handler settles and decoding goes on.
      if (pending) resume();
      else take(status);
      if (shrink.length && shrink[reads++ % shrink.length]) core.shrink(slot);
    }
    if (error || noMemory) break;
  }
  while (pending) resume();
  if (!error && !noMemory) take(core.process(slot));
  while (pending) resume();
  return { items, error, rule: error === E_WEBSOCKET_PROTOCOL ? core.errorSize(slot) : 0, noMemory, retaken };
}
