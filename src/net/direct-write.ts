// The second (and last) reach into Node internals, beside socket-adoption.ts:
// writing views of a tx ring straight through the socket's libuv stream handle,
// as Node's own net.Socket does underneath, without the Writable stream layer
// above it (Writable.write, _writeGeneric, writeGeneric, afterWriteDispatched,
// the write callback's tick). Measured: 1.08–1.11× the frames/s of socket.write
// at 64 B (docs/benchmarks.md).
//
// What it uses, all feature-detected by canWriteDirect() (false: the connection
// writes with socket.write, the 'stream' path):
//   - `process.binding('stream_wrap')`: the WriteWrap request class, and
//     streamBaseState[kLastWriteWasAsync], which says whether the last write
//     finished inside the call (the kernel took every byte) or is pending in
//     libuv (its request's oncomplete(status) runs later, in order);
//   - `socket._handle.writeBuffer(req, view)` and `writev(req, views, true)` of a
//     TCP handle (TLS and other wrapped handles are left to socket.write).
// Invariants:
//   - write() returns DONE (the kernel has the bytes: release them now), PENDING
//     (the range stays referenced, untouched, until onComplete(status, bytes)) or
//     a negative errno (nothing was queued);
//   - libuv writes in order and tries a write synchronously only when nothing of
//     an earlier one is left unwritten, so every completion, sync or async, means
//     the kernel has every byte handed over up to it: releasing by byte counts in
//     completion order keeps the tx tail behind what the kernel has;
//   - a request is bound by Node's C++ side only when the write goes pending, so
//     the spare request is reused across every write that finishes at once;
//   - FIN: socket.end() finds nothing queued in the Writable and shuts the handle
//     down at once; libuv runs the shutdown only after every pending write, so the
//     FIN still follows the last byte, and 'finish' means all of it is out.
// Checked on Node 20, 22.12, 24 and 26 (docs/node-facts.md); the socket suites run on
// both write paths, on 22.12 and 26 too (npm run test:nodes). Node 26 added a second
// form (a null request, one made by Node only when the write goes pending) and
// still takes a request as here; a Node that stopped taking one would fail those
// suites and the node-facts row, and its users would need `--write stream`.

import type net from 'node:net';
import { getSystemErrorName } from 'node:util';

/** How a connection hands tx bytes to the kernel. */
export type WritePath = 'direct' | 'stream';
export const WRITE_PATHS: readonly WritePath[] = ['direct', 'stream'];

/** write(): the kernel has every byte. */
export const WRITE_DONE = 0;
/** write(): queued in libuv; onComplete follows. */
export const WRITE_PENDING = 1;

interface WriteReq {
  oncomplete: (this: WriteReq, status: number) => void;
  /** Bytes this request carries, for its completion. */
  bytes: number;
  /** Who gets the completion. */
  writer: DirectWriter;
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

function oncomplete(this: WriteReq, status: number): void {
  this.writer.onComplete(status, this.bytes);
}

/** Writes views through one socket's handle; completions of pending writes go to onComplete. */
export class DirectWriter {
  private spare: WriteReq;
  private readonly socket: net.Socket;
  private readonly state: Int32Array;
  private readonly kAsync: number;
  /** A pending write finished (status < 0: it failed, with that errno) and the kernel has its `bytes`. */
  readonly onComplete: (status: number, bytes: number) => void;

  /** Only after canWriteDirect(socket). */
  constructor(socket: net.Socket, onComplete: (status: number, bytes: number) => void) {
    const b = streamWrap()!;
    this.socket = socket;
    this.state = b.streamBaseState;
    this.kAsync = b.kLastWriteWasAsync;
    this.onComplete = onComplete;
    this.spare = this.request();
  }

  private request(): WriteReq {
    const req = new (streamWrap()!.WriteWrap)();
    req.oncomplete = oncomplete;
    req.bytes = 0;
    req.writer = this;
    return req;
  }

  /** Write one view: WRITE_DONE, WRITE_PENDING or a negative errno. */
  write(view: Uint8Array): number {
    const handle = handleOf(this.socket);
    if (!handle) return -9; // EBADF: the socket was destroyed
    const req = this.spare;
    req.bytes = view.length;
    return this.result(handle.writeBuffer(req, view));
  }

  /** Write two views as one writev (the pending bytes wrap the ring). */
  write2(a: Uint8Array, b: Uint8Array): number {
    const handle = handleOf(this.socket);
    if (!handle) return -9;
    const req = this.spare;
    req.bytes = a.length + b.length;
    return this.result(handle.writev(req, [a, b], true));
  }

  private result(err: number): number {
    // Node returns undefined, not a number, for a handle already torn down.
    if (err !== 0) return typeof err === 'number' && err < 0 ? err : -22; // EINVAL
    if (this.state[this.kAsync] === 0) return WRITE_DONE;
    // The request is bound to the pending write now: the next write needs another.
    this.spare = this.request();
    return WRITE_PENDING;
  }
}
