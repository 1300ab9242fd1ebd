// The echo as an async frame handler, for `ringwire bench`'s async suite: it yields
// once to the microtask queue (the cheapest await there is) before replying, so
// what is measured is the cost of the async contract itself, per frame: a promise,
// keeping the frame valid across the await, and the next frame of the connection
// waiting for this one to settle.
import type { FrameSender } from './echo-handler.ts';

export async function onFrame(frame: Uint8Array, connection: FrameSender): Promise<void> {
  await Promise.resolve();
  connection.send(frame);
}
