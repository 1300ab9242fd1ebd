// examples/embed.mjs: the README's "Embed it" example, as it stands: node examples/embed.mjs
// (test/docs.test.ts runs it). An echo inside the core, and a key-value server
// with hooks and an async handler, each answering one client, then closed.
import net from 'node:net';
import { once } from 'node:events';
import { createServer } from 'ringwire';

// Echo, entirely inside the core:
const echo = createServer({ framing: 'length:4:be', maxConnections: 10_000, signal: AbortSignal.timeout(60_000) });
await echo.listen(0, '127.0.0.1');   // rejects with EADDRINUSE & co: nothing crashes

// Your hooks, our framing, buffers and I/O:
const store = new Map([['greeting', 'hello']]);
const lookup = async key => store.get(key) ?? '(nil)'; // stands for a database call
const kv = createServer({
  framing: 'line',
  onOpen(c) { c.data = { commands: 0 }; },                  // connection.data: yours
  async onFrame(frame, c) {                                  // may be async: the connection's next frame waits,
    const key = Buffer.from(frame).toString();               // and `frame` (a view of the rx ring) stays valid
    c.send(Buffer.from(await lookup(key)));                  // false = queued beyond the tx ring: see onDrain
    c.data.commands++;
  },
  onClose(c, err) { if (err) console.warn(c.id, err.code); }, // exactly once; err: what closed it
});
kv.on('clientError', (err, c) => console.warn(c.remoteAddress, err.code));
const { port } = await kv.listen(0);

// A client, to see it answer:
const client = net.connect(port, '127.0.0.1');
let answer = '';
client.on('data', d => (answer += d));
client.end('greeting\nnothing\n');
await once(client, 'close');
console.log(answer.trim().split('\n').join(' | '));   // hello | (nil)

console.log(kv.stats().total.framesIn, 'frames in'); // connections, bytes and frames in/out, pauses, errors by code
await kv.close();              // stop accepting, drain every connection (pending handlers too), resolve when all closed
await echo.close();
