// The connection's state table: every state a connection can be in, every event
// that moves it, and what each transition releases. A TCP connection is two
// streams, so the table has two parts: the connection's life (its input, its
// frames and its slot) and its output (our replies, then our FIN). Connection
// moves only through these tables (Connection.to and Writer.to check each step
// against them), and the model-based test drives them by name.
//
// Life:
//
//   state        event          next         releases / does
//   ───────────  ─────────────  ───────────  ──────────────────────────────────────────────
//   opening      expect-header  preamble     —                       (a PROXY header comes first)
//   opening      start          open         — onOpen, 'connection'  (the socket is connected)
//   opening      start          preamble     —                       (websocket: the upgrade comes first)
//   preamble     header         open         the header parser; onOpen (or TLS, then secured)
//   preamble     header         preamble     the header parser       (websocket: the upgrade next)
//   preamble     secured        open         — onOpen                (TLS after the header)
//   preamble     secured        preamble     —                       (websocket: the upgrade next)
//   preamble     upgraded       open         the upgrade stage; onOpen (the 101 is written)
//   opening,     fin, drain     draining     — reading stops         (the peer's FIN, or the
//    preamble,                                                         server draining)
//    open
//   draining     idle           closing      — (nothing buffered can make a frame; a relay side
//                                              instead ends its partner's output and waits)
//   any live     close          closing      saved frames, leftover input; FIN owed (output → ending)
//   any live     destroy        closing      the queue and its budget; the socket (destroyed)
//   any live     socket-closed  closed       the slot (core.close), the queue and its budget,
//                                            the relay link, the linger timer; onClose
//   any live     socket-closed  quarantined  the socket, the queue and its budget, the tx ring
//                                            (a handler still holds a view of the slot's rx
//                                            ring); no longer counted against maxConnections
//   quarantined  settle         closed       the slot, the relay link; onClose
//
// ("any live": opening, preamble, open, draining, closing; close and destroy from
// closing keep it there.) An error (fail()) is close or destroy after reporting it.
//
// Output:
//
//   state     event    next      releases / does
//   ────────  ───────  ────────  ─────────────────────────────────────────────────
//   open      end      ending    — FIN owed once every reply is out (close, or a relay
//                                partner whose input ended: reading goes on)
//   ending    fin      fin-sent  socket.end() once no handler is pending and the queue
//                                is in the tx ring (the queue's budget is back at 0)
//   fin-sent  finish   done      every byte and our FIN are acknowledged by the kernel:
//                                the socket is destroyed once the peer's FIN came too,
//                                else LINGER_MS later (closing), or on the peer's FIN (relay)
//   any       abort    done      nothing more is written (destroy, a failed write, the
//                                socket closed)

/** The connection's life. */
export type Life = 'opening' | 'preamble' | 'open' | 'draining' | 'closing' | 'quarantined' | 'closed';
export type LifeEvent = 'expect-header' | 'start' | 'header' | 'secured' | 'upgraded' | 'fin' | 'drain' | 'idle' | 'close' | 'destroy' | 'socket-closed' | 'settle';

/** Its output. */
export type Output = 'open' | 'ending' | 'fin-sent' | 'done';
export type OutputEvent = 'end' | 'fin' | 'finish' | 'abort';

const live = (next: Partial<Record<LifeEvent, readonly Life[]>>): Partial<Record<LifeEvent, readonly Life[]>> => ({
  close: ['closing'], destroy: ['closing'], 'socket-closed': ['closed', 'quarantined'], ...next,
});

/** Life: for each state, the events it takes and the states they may lead to. */
export const LIFE: Readonly<Record<Life, Partial<Record<LifeEvent, readonly Life[]>>>> = {
  opening: live({ 'expect-header': ['preamble'], start: ['open', 'preamble'], fin: ['draining'], drain: ['draining'] }),
  preamble: live({ header: ['open', 'preamble'], secured: ['open', 'preamble'], upgraded: ['open'], fin: ['draining'], drain: ['draining'] }),
  open: live({ fin: ['draining'], drain: ['draining'] }),
  draining: live({ idle: ['closing'] }),
  closing: live({}),
  quarantined: { settle: ['closed'] },
  closed: {},
};

/** Output: for each state, the events it takes and the state they lead to. */
export const OUTPUT: Readonly<Record<Output, Partial<Record<OutputEvent, Output>>>> = {
  open: { end: 'ending', abort: 'done' },
  ending: { fin: 'fin-sent', abort: 'done' },
  'fin-sent': { finish: 'done', abort: 'done' },
  done: { abort: 'done' },
};

/** States that take input: reads go to the preamble or the core. */
export const reads = (s: Life): boolean => s === 'open' || s === 'preamble' || s === 'opening';
/** States past close(): nothing more is delivered. */
export const over = (s: Life): boolean => s === 'closing' || s === 'quarantined' || s === 'closed';

/** Where a connection is in both tables (Connection[kState]: for the model-based test, and the drain, which skips quarantined slots). */
export interface StateView {
  readonly life: Life;
  readonly output: Output;
}

/** The states reachable from `from` in the life table, by any events (itself included). */
export function reachable(from: Life): Set<Life> {
  const seen = new Set<Life>([from]);
  for (const s of seen) for (const next of Object.values(LIFE[s])) for (const n of next) seen.add(n);
  return seen;
}

/** A step the table does not have: a bug in Connection, never the peer's doing. */
export function badStep(table: string, from: string, event: string, to: string): Error {
  return new Error(`connection ${table} state table has no step ${from} --${event}--> ${to}`);
}
