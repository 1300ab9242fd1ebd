// The echo as a handler that waits for a short round trip, for `ringwire bench`'s
// pipelined suite: each frame awaits a 1 ms timer before its payload is sent back.
// 1 ms is Node's shortest timer (setTimeout 0 is 1 ms too) and about a round trip
// to a database or cache on the same host. It makes the wait, not the CPU, bound a
// connection whose frames are handled one at a time (about 1,000 frames/s each),
// while a server that overlaps a connection's frames can have `depth` of them
// waiting at once; every handler whose timer expires in one turn resumes in it.
//
// It replies through `reply`, its frame's own handle (onFrame's third argument in
// ringwire; the plain server gives each frame's turn as both), as a pipelined
// handler should: ringwire then keeps no async context per frame (docs/embedding.md).
import { setTimeout } from 'node:timers/promises';
import type { FrameSender } from './echo-handler.ts';

export async function onFrame(frame: Uint8Array, _connection: FrameSender, reply: FrameSender): Promise<void> {
  await setTimeout(1);
  reply.send(frame);
}
