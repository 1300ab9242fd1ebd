// examples/listen-errors.mjs: listen() rejects with the listener's error; nothing crashes
// on an unhandled 'error' event: node examples/listen-errors.mjs
import { createServer } from 'ringwire';

const first = createServer({ framing: 'length:4:be' });
const { port } = await first.listen(0, '127.0.0.1');
const server = createServer({ framing: 'length:4:be', onFrame: (f, c) => void c.send(f) });
server.on('clientError', (err, c) => console.warn(c.id, err.code)); // err.code is a union of the codes
try {
  await server.listen(port, '127.0.0.1');   // the same port: busy
} catch (err) {
  console.log(err.code);                    // EADDRINUSE (or EACCES, ENOTFOUND…)
}
await first.close();
