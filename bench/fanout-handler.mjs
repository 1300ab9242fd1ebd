// The fan-out benchmark's handler (scripts/bench-actors.ts), line framing:
// a connection's first line is SUB (join the topic) or PUB (every later line is
// published to it). A full mailbox holds the publisher's frame (an async
// handler: reading pauses) until every worker has room: backpressure, no loss.
import { setImmediate as turn } from 'node:timers/promises';

const OK = Buffer.from('OK');

export function onFrame(frame, c) {
  if (c.data === 'pub') {
    if (c.router.publish('bench', frame) === 'full') return retry(frame, c);
    return;
  }
  const role = Buffer.from(frame).toString();
  if (role === 'SUB') c.router.join(c, 'bench');
  else if (role === 'PUB') c.data = 'pub';
  c.send(OK);
}

async function retry(frame, c) {
  do await turn(); while (c.router.publish('bench', frame) === 'full');
}
