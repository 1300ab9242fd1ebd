// examples/net-worker.mjs: one of your application's own worker threads, embedding a
// ringwire server beside its other work (here: answering "ping" messages).
// examples/embedded-main.mjs starts it; test/workers.test.ts does too.
import { parentPort } from 'node:worker_threads';
import { serveInWorker } from 'ringwire/worker';

parentPort.on('message', m => { if (m === 'ping') parentPort.postMessage('pong'); }); // your own messages go on as before
await serveInWorker({
  port: 0, // a fixed port: every thread that does this shares it (reusePort)
  framing: 'line',
  onFrame(frame, connection) {
    connection.send(Buffer.from(Buffer.from(frame).toString().toUpperCase()));
  },
});
