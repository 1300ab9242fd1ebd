// The echo as a handler that waits for I/O-like work, for `ringwire bench`'s
// pipelined suite: each frame awaits one setImmediate before its payload is sent
// back. That is how a reply from another socket or a thread-pool job arrives: in a
// later turn of the event loop, after the poll phase, not in a microtask. The
// cheapest such wait there is, so what is measured is the server's cost of frames
// that overlap and replies sent outside the read that delivered them.
//
// It replies through `reply`, its frame's own handle (onFrame's third argument in
// ringwire; the plain server gives each frame's turn as both), as a pipelined
// handler should: ringwire then keeps no async context per frame (docs/embedding.md).
import { setImmediate } from 'node:timers/promises';
import type { FrameSender } from './echo-handler.ts';

export async function onFrame(frame: Uint8Array, _connection: FrameSender, reply: FrameSender): Promise<void> {
  await setImmediate();
  reply.send(frame);
}
