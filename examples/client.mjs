// examples/client.mjs: a framed client with reconnect, against a ringwire echo server
// it starts itself: node examples/client.mjs
import { connect, createServer } from 'ringwire';

const server = createServer({ framing: 'length:4:be' });   // an echo server to talk to
const { port } = await server.listen(0, '127.0.0.1');

const client = await connect({
  port, framing: 'length:4:be',
  reconnect: { initialDelay: 100, maxDelay: 10_000, factor: 2, jitter: 0.2 }, // or true; default: one connection
  onOpen(c) { console.log('connected'); },                 // per underlying connection
  onFrame(frame, c) { console.log(Buffer.from(frame).toString()); void client.close(); },
  onClose(c, err) { console.log('closed', err?.code ?? 'cleanly'); }, // per connection that opened
});
client.on('retry', ({ attempt, delay, error }) => console.warn(`retry ${attempt} in ${delay} ms: ${error?.message}`));
await client.ready;            // the first connection (rejects if the client ends before one opens)
client.send(Buffer.from('hi'));
await new Promise(resolve => client.once('end', resolve)); // close() ends it: no more connections
await server.close();
