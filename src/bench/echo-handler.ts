// The echo written as a frame handler, for `ringwire bench`'s handler suite: each
// frame's payload sent straight back. The same function runs in ringwire (a
// handler module for `ringwire serve --handler`) and in the plain Node server it
// is measured against (src/bench/plain-handler.ts), so both do the same work.

/** What both servers give a handler: send() frames a payload and queues it. */
export interface FrameSender {
  send(payload: Uint8Array): unknown;
}

export function onFrame(frame: Uint8Array, connection: FrameSender): void {
  connection.send(frame);
}
