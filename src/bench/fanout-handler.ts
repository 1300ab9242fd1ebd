// The fan-out benchmark's handler (routing-bench.ts) for `ringwire serve
// --handler`, line framing: a connection's first line is SUB (join the topic) or
// PUB (every later line is published to it). A full mailbox holds the publisher's
// frame (the handler returns a promise: reading pauses) until every worker has
// room: backpressure, no loss.
import { setImmediate as turn } from 'node:timers/promises';
import type { Connection } from '../index.ts';

const OK = Buffer.from('OK');
const TOPIC = 'bench';

export function onFrame(frame: Uint8Array, c: Connection): void | Promise<void> {
  if (c.data === 'pub') {
    if (c.router.publish(TOPIC, frame) === 'full') return retry(frame, c);
    return;
  }
  const role = Buffer.from(frame).toString();
  if (role === 'SUB') c.router.join(c, TOPIC);
  else if (role === 'PUB') c.data = 'pub';
  c.send(OK);
}

async function retry(frame: Uint8Array, c: Connection): Promise<void> {
  do await turn(); while (c.router.publish(TOPIC, frame) === 'full');
}
