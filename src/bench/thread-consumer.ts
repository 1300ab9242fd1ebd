// The cross-thread benchmark's other thread (routing-bench.ts): it takes 64-byte
// messages from one transport (ringwire's mailbox, a MessagePort or a
// BroadcastChannel), checks every byte (message i is i as a u32 LE, then the bytes
// (i + k) & 255), and in ping mode sends each one back. Posts { got } when it has
// n, or { error } at the first message that is not what was sent.
// Request/response (kind 'ask' or 'reply'): it answers every request with its bytes,
// through router.ask's machinery (asks.ts: an onAsk that echoes, answers into the
// asker's mailbox) or through the MessagePort it came on ({ id, m } back), until
// the producer terminates it; the producer checks each answer.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { threadId } from 'node:worker_threads';
import { Mailbox } from '../net/mailbox.ts'; // the mailbox itself is measured: an internal, not in the package's API
import { Asks } from '../net/asks.ts';
import { KIND_ASK, Switchboard } from '../net/switchboard.ts';

export const MESSAGE_BYTES = 64;

/** Message i of a run, as the producer writes it and this thread checks it. */
export function fillMessage(out: Uint8Array, i: number): Uint8Array {
  new DataView(out.buffer, out.byteOffset, 4).setUint32(0, i, true);
  for (let k = 4; k < MESSAGE_BYTES; k++) out[k] = (i + k) & 255;
  return out;
}

/** Is m not message i? */
export function wrong(m: Uint8Array, i: number): boolean {
  if (m.length !== MESSAGE_BYTES || new DataView(m.buffer, m.byteOffset, 4).getUint32(0, true) !== i >>> 0) return true;
  for (let k = 4; k < MESSAGE_BYTES; k++) if (m[k] !== ((i + k) & 255)) return true;
  return false;
}

if (parentPort && workerData?.kind === 'ask') {
  // Place 0 of a switchboard whose parent mailbox takes the answers: what a worker's router does with ask records.
  const board = new Switchboard(workerData.board);
  board.attach(0, threadId);
  const asks = new Asks(board, 0, () => request => request);
  const inbox = board.mailboxes[0]!;
  const visit = (kind: number, w0: number, w1: number, w2: number, body: Uint8Array) => {
    if (kind === KIND_ASK) asks.serve(w0, w1, w2, body);
  };
  setInterval(() => {}, 1 << 30); // Atomics.waitAsync does not keep the loop alive; the producer terminates this thread
  const pump = (): void => {
    for (;;) {
      if (inbox.take(4096, visit) >= 4096) return void setImmediate(pump);
      const wake = inbox.sleep();
      if (wake) return void wake.then(pump);
    }
  };
  pump();
} else if (parentPort && workerData?.kind === 'reply') {
  const port = workerData.port as MessagePort;
  port.on('message', (q: { id: number; m: Uint8Array }) => port.postMessage(q));
} else if (parentPort && workerData?.kind) {
  const parent = parentPort;
  const { kind, n, mode } = workerData as { kind: 'mailbox' | 'port' | 'broadcast'; n: number; mode: 'flood' | 'ping' };
  const keep = setInterval(() => {}, 1 << 30); // Atomics.waitAsync does not keep the loop alive
  let got = 0;
  let failed = false;
  const done = () => {
    clearInterval(keep);
    parent.postMessage(failed ? { error: `message ${got} was not the bytes sent` } : { got });
  };
  /** One message: false once the run is over (all taken, or a wrong one). */
  const take = (m: Uint8Array, back: (m: Uint8Array) => void): boolean => {
    if (failed) return false;
    if (wrong(m, got)) {
      failed = true;
      done();
      return false;
    }
    got++;
    if (mode === 'ping') back(m);
    if (got === n) done();
    return got < n;
  };
  if (kind === 'mailbox') {
    const inbox = new Mailbox(workerData.inbox);
    const outbox: Mailbox | null = workerData.outbox ? new Mailbox(workerData.outbox) : null;
    const back = (m: Uint8Array) => { while (!outbox!.post(5, 0, 0, 0, m)); };
    const visit = (_k: number, _a: number, _b: number, _c: number, body: Uint8Array) => take(body, back);
    const pump = (): void => {
      for (;;) {
        const k = inbox.take(4096, visit);
        if (got >= n || failed) return;
        if (k >= 4096) return void setImmediate(pump);
        const wake = inbox.sleep();
        if (wake) return void wake.then(pump);
      }
    };
    pump();
  } else if (kind === 'port') {
    const port = workerData.port as MessagePort;
    port.on('message', (m: Uint8Array) => {
      if (!take(m, back => port.postMessage(back))) port.close();
    });
  } else {
    const ch = new BroadcastChannel('ringwire-bench-in');
    const back = new BroadcastChannel('ringwire-bench-out');
    ch.onmessage = e => {
      if (!take((e as MessageEvent).data as Uint8Array, m => back.postMessage(m))) {
        ch.close();
        back.close();
      }
    };
    parent.postMessage('ready');
  }
}
