// The bench's own WebSocket client side (RFC 6455), written apart from ringwire's
// handshake and framing code so that the load generator checks servers against an
// independent reading of the RFC, not against the code under test:
//   upgrade()      sends the opening handshake's GET on a connected socket, reads the
//                  answer's head, checks the 101 and Sec-WebSocket-Accept (section 4.1),
//                  and returns the bytes that followed the head (the first frames);
//   clientFrame()  a FIN binary frame, masked with the key given (section 5.3);
//   serverFrame()  the same payload as a server sends it back: FIN binary, unmasked.
// Frames here are binary and unfragmented; payloads up to 64 KiB - 1 (header 2 or 4
// bytes, mask 4 more from a client): the sizes the bench sends.

import { createHash, randomBytes } from 'node:crypto';
import type net from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** An answer's head is at most this long (ringwire's and ws's 101s are under 200 bytes). */
const MAX_HEAD = 8192;
const OPCODE_BINARY = 0x2;
const FIN = 0x80;
const MASKED = 0x80;

function header(payload: number, masked: boolean): Buffer {
  if (payload >= 0x10000) throw new RangeError(`the bench's WebSocket frames carry at most 65535 bytes, got ${payload}`);
  const mask = masked ? MASKED : 0;
  if (payload < 126) return Buffer.from([FIN | OPCODE_BINARY, mask | payload]);
  return Buffer.from([FIN | OPCODE_BINARY, mask | 126, payload >> 8, payload & 0xff]);
}

/** A client's frame: FIN, binary, masked with `key` (4 bytes). */
export function clientFrame(payload: Uint8Array, key: Uint8Array): Buffer {
  const h = header(payload.length, true);
  const f = Buffer.alloc(h.length + 4 + payload.length);
  h.copy(f);
  f.set(key.subarray(0, 4), h.length);
  const at = h.length + 4;
  for (let i = 0; i < payload.length; i++) f[at + i] = payload[i]! ^ key[i & 3]!;
  return f;
}

/** A server's frame of the same payload: FIN, binary, unmasked. */
export function serverFrame(payload: Uint8Array): Buffer {
  return Buffer.concat([header(payload.length, false), payload]);
}

/**
 * The opening handshake on a connected socket: GET / with a fresh random key, then
 * the answer's head, which must be `HTTP/1.1 101` with the right Sec-WebSocket-Accept
 * (and Upgrade: websocket). Returns what came after the head. Throws otherwise.
 * The socket's 'data' listeners are the caller's again once this resolves.
 */
export async function upgrade(socket: net.Socket, host: string, port: number): Promise<Buffer> {
  const key = randomBytes(16).toString('base64');
  const accept = createHash('sha1').update(key + GUID).digest('base64');
  let head = Buffer.alloc(0);
  let resolve!: (rest: Buffer) => void;
  let reject!: (err: Error) => void;
  const done = new Promise<Buffer>((res, rej) => { resolve = res; reject = rej; });
  const onData = (d: Buffer) => {
    head = Buffer.concat([head, d]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (head.length > MAX_HEAD) reject(new Error(`the upgrade's answer has no end within ${MAX_HEAD} bytes`));
      return;
    }
    const lines = head.subarray(0, end).toString('latin1').split('\r\n');
    const headers = new Map(lines.slice(1).map(l => {
      const colon = l.indexOf(':');
      return [l.slice(0, colon).trim().toLowerCase(), l.slice(colon + 1).trim()] as const;
    }));
    if (!/^HTTP\/1\.1 101 /.test(lines[0]!)) reject(new Error(`the upgrade was answered "${lines[0]}"`));
    else if (headers.get('sec-websocket-accept') !== accept) reject(new Error(`the upgrade's Sec-WebSocket-Accept is "${headers.get('sec-websocket-accept')}", not "${accept}"`));
    else if (headers.get('upgrade')?.toLowerCase() !== 'websocket') reject(new Error('the upgrade\'s 101 has no Upgrade: websocket'));
    else resolve(head.subarray(end + 4));
  };
  socket.on('data', onData);
  const closed = () => reject(new Error('the server closed the connection during the upgrade'));
  socket.once('close', closed);
  socket.write(`GET / HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  try {
    return await done;
  } finally {
    socket.off('data', onData);
    socket.off('close', closed);
  }
}

