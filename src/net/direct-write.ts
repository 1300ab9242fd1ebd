// The second (and last) reach into Node internals, beside socket-adoption.ts:
// writing views of a tx ring straight through the socket's libuv stream handle,
// as Node's own net.Socket does underneath, without the Writable stream layer
// above it (Writable.write, _writeGeneric, writeGeneric, afterWriteDispatched,
// the write callback's tick). What docs/benchmarks.md measured against
// socket.write, the same server otherwise: 0.75–0.90× the CPU per frame at 64 B
// request/response (0.80–1.01× pipelined) and 19 B instead of 621 B of JS heap per
// echoed frame; frames/s there was set by the load generator and the kernel.
//
// Whether to use it is decided once per thread, at start (chooseWritePath()): by
// default only on the Node majors the suites run on (TESTED_MAJORS), and only after
// a real write test passes (probeDirectWrite(): a loopback connection made for it,
// writes that finish at once and one that completes later, its completion and every
// byte checked). Names alone prove nothing: a Node that kept them but changed what
// the async-write flag means would release ring bytes libuv still holds. Elsewhere,
// or if the probe fails, connections write with socket.write (the 'stream' path),
// with one warning.
//
// What it uses, feature-detected by canWriteDirect() per socket:
//   - `process.binding('stream_wrap')`: the WriteWrap request class, and
//     streamBaseState[kLastWriteWasAsync], which says whether the last write
//     finished inside the call (the kernel took every byte) or is pending in
//     libuv (its request's oncomplete(status) runs later, in order);
//   - `socket._handle.writeBuffer(req, view)` and `writev(req, views, true)` of a
//     TCP or Pipe handle, and of a TLS socket's TLSWrap handle (canWriteTlsDirect():
//     below); other wrapped handles are left to socket.write.
// Invariants:
//   - write() returns DONE (the kernel has the bytes: release them now), PENDING
//     (the range stays referenced, untouched, until owner.directWritten(status, bytes)) or
//     a negative errno (nothing was queued);
//   - libuv writes in order and tries a write synchronously only when nothing of
//     an earlier one is left unwritten, so every completion, sync or async, means
//     the kernel has every byte handed over up to it: releasing by byte counts in
//     completion order keeps the tx tail behind what the kernel has;
//   - a request is bound by Node's C++ side only when the write goes pending, so
//     one spare request per thread (DirectWriter) serves every write of every
//     connection that finishes at once, and a connection holds a request only while
//     a write of its own is pending;
//   - FIN: socket.end() finds nothing queued in the Writable and shuts the handle
//     down at once; libuv runs the shutdown only after every pending write, so the
//     FIN still follows the last byte, and 'finish' means all of it is out.
// TLS (a TLSSocket's handle is a TLSWrap, itself a StreamBase over the TCP handle;
// Node's src/crypto/crypto_tls.cc): its DoWrite encrypts the views at once
// (SSL_write; several views are first copied into one buffer), so the ring bytes
// are free when writeBuffer() returns, and always goes pending: the request
// completes once the encrypted bytes are in the kernel (at the earliest in the
// check phase of this turn, from a native immediate): its request carries no ring
// bytes (write()'s `bytes` 0). It takes ONE write at a time:
// a second DoWrite while one is pending fails CHECK(!current_write_) and aborts the
// process, which is why net.Socket writes a TLS socket only through its Writable,
// and why a TLS connection's Writer writes only once its last write completed and
// only once the Writable has nothing in flight either (writer.ts, flush()). Nor may
// the handle be shut down while a write is pending: the close_notify would wait
// behind it, be written after the FIN and fail the write (EPIPE): the FIN waits too.
// Checked on Node 22.12, 24 and 26 (test/tls.test.ts runs on both write paths).
//
// Checked on Node 20, 22.12, 24 and 26 (docs/node-facts.md); the socket suites run on
// both write paths, on 22.12 and 26 too (npm run test:nodes). Node 26 added a second
// form (a null request, one made by Node only when the write goes pending) and
// still takes a request as here; a Node that stopped taking one would fail the probe
// and write with socket.write.

import { once } from 'node:events';
import net from 'node:net';
import { getSystemErrorName } from 'node:util';

/** How a connection hands tx bytes to the kernel. */
export type WritePath = 'direct' | 'stream';
export const WRITE_PATHS: readonly WritePath[] = ['direct', 'stream'];

/**
 * The Node majors the socket suites run on, both write paths: the pinned Node
 * (package.json, 24) and scripts/node-matrix.sh's (22.12, 26). test/direct-write.test.ts
 * holds this list to those two files.
 */
export const TESTED_MAJORS: readonly number[] = [22, 24, 26];

/** write(): the kernel has every byte. */
export const WRITE_DONE = 0;
/** write(): queued in libuv; owner.directWritten() follows. */
export const WRITE_PENDING = 1;

interface WriteReq {
  oncomplete: (this: WriteReq, status: number) => void;
  /** Tx ring bytes this request carries, for its completion. */
  bytes: number;
  /** What else the owner gave it to hand back with the completion (writev()'s charge). */
  charge: number;
  /** Buffers of its own a pending write reads from (writev()'s chunks): kept alive until it completes, as net.Socket keeps its chunks. */
  chunks: Uint8Array[] | null;
  /** Who gets the completion; null while the request is the spare. */
  owner: DirectWriteOwner | null;
}

/** Who a pending direct write's completion goes to (a connection's Writer). */
export interface DirectWriteOwner {
  /** A pending write finished (status < 0: it failed, with that errno) and the kernel has its `bytes` (and `charge`, as given to writev()). */
  directWritten(status: number, bytes: number, charge: number): void;
}

interface StreamHandle {
  writeBuffer(req: WriteReq, buf: Uint8Array): number;
  writev(req: WriteReq, chunks: Uint8Array[], allBuffers: boolean): number;
}

interface StreamWrapBinding {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

let binding: StreamWrapBinding | null | undefined;

/** Node's stream_wrap binding, or null where this Node does not have what we use. */
function streamWrap(): StreamWrapBinding | null {
  if (binding !== undefined) return binding;
  try {
    const b = (process as unknown as { binding(name: string): Partial<StreamWrapBinding> }).binding('stream_wrap');
    const ok = typeof b.WriteWrap === 'function' && b.streamBaseState instanceof Int32Array && typeof b.kLastWriteWasAsync === 'number';
    binding = ok ? (b as StreamWrapBinding) : null;
  } catch {
    binding = null;
  }
  return binding;
}

function handleOf(socket: net.Socket): StreamHandle | null {
  return (socket as unknown as { _handle: StreamHandle | null })._handle;
}

/**
 * Can this connected socket be written through its handle? A plain TCP socket or
 * a Unix socket (a Pipe handle: the same libuv stream and StreamBase writes) on a
 * Node that has the binding.
 */
export function canWriteDirect(socket: net.Socket): boolean {
  const handle = handleOf(socket);
  const kind = handle?.constructor?.name;
  return !!streamWrap() && !!handle && (kind === 'TCP' || kind === 'Pipe')
    && typeof handle.writeBuffer === 'function' && typeof handle.writev === 'function';
}

/**
 * Can this TLS socket be written through its TLSWrap handle (write(), write2() with
 * no ring bytes carried: TLS takes them inside the call)? Connected,
 * on a Node that has the binding, with the StreamBase writes a TLSWrap has had since
 * Node 12. Elsewhere, TLS replies go through socket.write.
 */
export function canWriteTlsDirect(socket: net.Socket): boolean {
  const handle = handleOf(socket);
  return !!streamWrap() && !!handle && handle.constructor?.name === 'TLSWrap' && !socket.connecting
    && typeof handle.writeBuffer === 'function' && typeof handle.writev === 'function';
}

/** A Node-style error for a negative libuv status, as socket.write would have raised it. */
export function writeError(status: number): NodeJS.ErrnoException {
  let code: string;
  try {
    code = getSystemErrorName(status);
  } catch {
    code = `E${-status}`;
  }
  return Object.assign(new Error(`write ${code}`), { errno: status, code, syscall: 'write' });
}

/** Completions of requests whose write was reported done at once (a flag that lied): what the probe looks for. */
let strays = 0;

function oncomplete(this: WriteReq, status: number): void {
  const owner = this.owner;
  if (owner === null) return void strays++;
  this.owner = null;
  this.chunks = null;
  owner.directWritten(status, this.bytes, this.charge);
}

/**
 * Writes views through sockets' handles. One per thread serves every connection
 * (directWriter()): writes are synchronous calls, so one spare request does for all
 * of them, and only a write that goes pending takes it (Node binds it to that write
 * until its completion) and makes the next spare. An idle connection holds no
 * request and no writer of its own. That a write which finished at once left its
 * request free rests on the async-write flag telling the truth, which is what the
 * probe checks, with a writer per write (probeDirectWrite()), before a thread uses this.
 */
export class DirectWriter {
  private spare: WriteReq | null = null;
  private readonly state: Int32Array;
  private readonly kAsync: number;

  /** Only where canWriteDirect() holds for the sockets it is given. */
  constructor() {
    const b = streamWrap()!;
    this.state = b.streamBaseState;
    this.kAsync = b.kLastWriteWasAsync;
  }

  private request(owner: DirectWriteOwner, bytes: number, charge = 0, chunks: Uint8Array[] | null = null): WriteReq {
    let req = this.spare;
    if (req === null) {
      req = this.spare = new (streamWrap()!.WriteWrap)();
      req.oncomplete = oncomplete;
    }
    req.owner = owner;
    req.bytes = bytes;
    req.charge = charge;
    req.chunks = chunks;
    return req;
  }

  /** Write one view: WRITE_DONE, WRITE_PENDING (its completion goes to `owner`) or a negative errno. */
  write(socket: net.Socket, owner: DirectWriteOwner, view: Uint8Array, bytes = view.length): number {
    const handle = handleOf(socket);
    if (!handle) return -9; // EBADF: the socket was destroyed
    return this.result(handle.writeBuffer(this.request(owner, bytes), view));
  }

  /** Write two views as one writev (the pending bytes wrap the ring). */
  write2(socket: net.Socket, owner: DirectWriteOwner, a: Uint8Array, b: Uint8Array, bytes = a.length + b.length): number {
    const handle = handleOf(socket);
    if (!handle) return -9;
    return this.result(handle.writev(this.request(owner, bytes), [a, b], true));
  }

  /**
   * Write chunks in order, in one call (one writev, or one write for one chunk): `bytes`
   * of them are tx ring bytes, `charge` what the owner's completion gives back; while
   * the write is pending its request keeps `chunks` (the caller hands the array over
   * then, and may reuse it only when the write finished at once).
   */
  writev(socket: net.Socket, owner: DirectWriteOwner, chunks: Uint8Array[], bytes: number, charge: number): number {
    const handle = handleOf(socket);
    if (!handle) return -9;
    const req = this.request(owner, bytes, charge, chunks);
    return this.result(chunks.length === 1 ? handle.writeBuffer(req, chunks[0]!) : handle.writev(req, chunks, true));
  }

  private result(err: number): number {
    const req = this.spare!;
    // Node returns undefined, not a number, for a handle already torn down.
    if (err === 0 && this.state[this.kAsync] !== 0) {
      // The request is bound to the pending write now: the next write makes another.
      this.spare = null;
      return WRITE_PENDING;
    }
    req.owner = null; // the spare keeps no connection alive, and no buffer
    req.chunks = null;
    if (err !== 0) return typeof err === 'number' && err < 0 ? err : -22; // EINVAL
    return WRITE_DONE;
  }
}

let threadWriter: DirectWriter | undefined;

/** This thread's direct writer (only once chooseWritePath() said 'direct'). */
export function directWriter(): DirectWriter {
  return (threadWriter ??= new DirectWriter());
}

// ---- choosing the path, once per thread ----

/** Bytes per probe write, and the most the probe writes before one must have gone pending. */
const PROBE_CHUNK = 256 * 1024;
const PROBE_LIMIT = 128 << 20;
const PROBE_TIMEOUT = 10_000;

let probed: Promise<string | null> | undefined;
let warned = false;

/**
 * The write path a thread's connections take: 'stream' when asked; else 'direct'
 * where the probe passes, on a tested major unless 'direct' was asked for by name.
 * Otherwise 'stream', with one warning saying why and what to pass. `probe` is the
 * probe's verdict, run once per thread (a test gives one that fails).
 */
export async function chooseWritePath(
  asked: WritePath | undefined, version = process.version, probe = () => (probed ??= probeDirectWrite()),
): Promise<WritePath> {
  if (asked === 'stream') return 'stream';
  const major = Number(/^v(\d+)\./.exec(version)?.[1]);
  if (asked === undefined && !TESTED_MAJORS.includes(major)) {
    return fallBack(`ringwire's direct write path was tested on Node ${TESTED_MAJORS.join(', ')}, not ${version}: replies go through socket.write (writePath 'direct' or --write direct uses it anyway, after its probe)`);
  }
  const failed = await probe();
  if (failed) return fallBack(`ringwire's direct write path failed its probe on Node ${version} (${failed}): replies go through socket.write`);
  return 'direct';
}

function fallBack(message: string): WritePath {
  if (!warned) {
    warned = true;
    process.emitWarning(message, { code: 'RINGWIRE_STREAM_WRITE_FALLBACK' });
  }
  return 'stream';
}

/**
 * A real write test on a loopback connection made for it: a small write the kernel
 * must take at once (WRITE_DONE, and no completion for it), then writes to a peer
 * that does not read until one goes pending (WRITE_PENDING); once the peer reads, that
 * write alone must complete, with status 0 and its byte count, and the peer must
 * receive every byte written, in order. Resolves null when all of it holds, else why
 * not. `writer` builds the writer under test (DirectWriter; a test gives a broken one).
 */
export async function probeDirectWrite(writer: () => DirectWriter = () => new DirectWriter()): Promise<string | null> {
  if (!streamWrap()) return 'process.binding(\'stream_wrap\') lacks WriteWrap, streamBaseState or kLastWriteWasAsync';
  const server = net.createServer({ pauseOnConnect: true });
  let client: net.Socket | undefined;
  let accepted: net.Socket | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const connection = once(server, 'connection') as Promise<[net.Socket]>;
    client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1').pause(); // it reads only when told
    [accepted] = await connection;
    accepted.on('error', () => {}); // a failure shows as a write's result or a missing completion
    client.on('error', () => {});
    if (!canWriteDirect(accepted)) return 'an accepted socket\'s handle is not a TCP handle with writeBuffer and writev';
    const completions: [number, number][] = [];
    const owner: DirectWriteOwner = { directWritten: (status, bytes) => void completions.push([status, bytes]) };
    // A writer per write, so each has a request of its own: trusting a flag that lied, one writer would reuse a
    // request libuv still holds, which Node answers with an assertion that aborts the process.
    const write = (view: Uint8Array) => writer().write(accepted!, owner, view);
    const straysBefore = strays;
    const first = Buffer.from('ringwire write probe\n');
    const chunk = Buffer.alloc(PROBE_CHUNK);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 7 + (i >>> 8)) & 0xff; // no period a misplaced region could hide in
    let r = write(first);
    if (r !== WRITE_DONE) return `a ${first.length}-byte write to an idle connection returned ${r}, not done at once`;
    let sent = first.length;
    while (sent < PROBE_LIMIT) {
      r = write(chunk);
      if (r < 0) return `a write failed: ${writeError(r).code}`;
      sent += chunk.length;
      if (r === WRITE_PENDING) break;
    }
    if (r !== WRITE_PENDING) return `no write went pending in ${PROBE_LIMIT >> 20} MiB to a peer that does not read`;
    if (completions.length > 0 || strays > straysBefore) return 'a completion came for a write reported done at once';
    // The peer reads: the pending write completes, and every byte arrives as written.
    const arrived = new Promise<string | null>(resolve => {
      let at = 0;
      client!.on('data', (d: Buffer) => {
        for (let i = 0; i < d.length;) {
          // The run of d that lines up with one run of what was written (the first write, or the chunk from an offset).
          const off = at < first.length ? at : (at - first.length) % chunk.length;
          const want = at < first.length ? first : chunk;
          const n = Math.min(d.length - i, want.length - off);
          if (!d.subarray(i, i + n).equals(want.subarray(off, off + n))) return resolve(`bytes ${at}..${at + n} arrived changed: a region was released before libuv wrote it`);
          i += n;
          at += n;
        }
        if (at === sent) resolve(null);
      });
      client!.on('close', () => resolve(`the connection closed after ${at} of ${sent} bytes`));
    });
    client.resume();
    const timedOut = new Promise<string>(resolve => (timer = setTimeout(() => resolve(`nothing settled within ${PROBE_TIMEOUT} ms`), PROBE_TIMEOUT)));
    const got = await Promise.race([arrived, timedOut]);
    if (got) return got;
    await Promise.race([new Promise<void>(resolve => setImmediate(resolve)), timedOut]);
    // libuv completes writes in order: one reported done at once that completed after all would have by now.
    if (strays > straysBefore) return 'a completion came for a write reported done at once';
    if (completions.length !== 1 || completions[0]![0] !== 0 || completions[0]![1] !== chunk.length) {
      return `the pending write completed as ${JSON.stringify(completions)}, not once as [0, ${chunk.length}]`;
    }
    return null;
  } catch (err) {
    // A handle that no longer takes these arguments throws (as would a loopback connection that cannot be made): the verdict.
    return `it threw: ${err instanceof Error ? err.message : String(err)}`;
  } finally {
    clearTimeout(timer);
    client?.destroy();
    accepted?.destroy();
    server.close();
  }
}

