// The plain Node echo servers ringwire is measured against, each run as its own
// process by the bench runner:
//   data    socket.on('data', d => socket.write(d)): what most Node code does, the baseline;
//   onread  reads into one static buffer with onread and writes a copy of each read
//           (the copy is needed: the buffer is reused by the next read);
//   handler length:4:be frames, each given to the echo handler (src/bench/echo-handler.ts)
//           as a careful Node developer would (src/bench/plain-handler.ts);
//   async   the same with the async echo handler, frames of a connection chained in order;
//   pipelined-immediate, pipelined-timer
//           the echo handlers that await setImmediate or a 1 ms timer, a connection's
//           frames handled concurrently, replies in order (src/bench/plain-pipelined.ts);
//   tls     tls.createServer with the same on('data') echo (the TLS suite's baseline).
// All use the socket options ringwire uses (noDelay), and nothing else.
//   node plain-echo.js <data|onread|handler|async|pipelined-immediate|pipelined-timer> <port> [host]
//   node plain-echo.js <pipelined-immediate|pipelined-timer> <port> <host> --max-in-flight <n>
//            (frames of a connection with handlers at once; default 1024: a `--variant` of
//            node-pipelined, to compare with ringwire's --concurrency at the same window)
//   node plain-echo.js tls <port> <host> <cert.pem> <key.pem>
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { adopt } from '../net/socket-adoption.ts';
import { onFrame as echoAsync } from './echo-handler-async.ts';
import { onFrame as echo } from './echo-handler.ts';
import { onFrame as echoImmediate } from './echo-handler-immediate.ts';
import { onFrame as echoTimer } from './echo-handler-timer.ts';
import { createPlainHandlerServer } from './plain-handler.ts';
import { createPipelinedServer } from './plain-pipelined.ts';

const [mode, portText, host = '127.0.0.1', ...rest] = process.argv.slice(2);
const [certFile, keyFile] = rest;
const maxInFlight = rest[0] === '--max-in-flight' ? Number(rest[1]) : undefined;
const port = Number(portText);

let server: net.Server;
if (mode === 'data') {
  server = net.createServer({ noDelay: true }, socket => {
    socket.on('data', d => socket.write(d));
    socket.on('error', () => {});
  });
} else if (mode === 'onread') {
  // Node ignores onread for accepted sockets, so the accepted handle is adopted
  // into a socket that has it: the same single piece of internals ringwire uses.
  const buffer = Buffer.allocUnsafe(65536);
  server = net.createServer({ noDelay: true, pauseOnConnect: true }, raw => {
    const socket = adopt(raw, server, {
      buffer: () => buffer,
      callback: (n: number) => { socket.write(Buffer.from(buffer.subarray(0, n))); return true; },
    });
    socket.setNoDelay(true);
    socket.on('error', () => {});
    socket.on('end', () => socket.end());
    socket.resume();
  });
} else if (mode === 'handler') {
  server = createPlainHandlerServer({ onFrame: echo, ordering: 'sync' });
} else if (mode === 'async') {
  server = createPlainHandlerServer({ onFrame: echoAsync, ordering: 'async' });
} else if (mode === 'pipelined-immediate') {
  server = createPipelinedServer({ onFrame: echoImmediate, maxInFlight });
} else if (mode === 'pipelined-timer') {
  server = createPipelinedServer({ onFrame: echoTimer, maxInFlight });
} else if (mode === 'tls' && certFile && keyFile) {
  server = tls.createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile), noDelay: true }, socket => {
    socket.on('data', d => socket.write(d));
    socket.on('error', () => {});
  });
  server.on('tlsClientError', () => {}); // the runner's readiness probe is plain TCP
} else {
  throw new Error(`usage: plain-echo <data|onread|handler|async|pipelined-immediate|pipelined-timer> <port> [host], or tls <port> <host> <cert> <key>; got mode "${mode}"`);
}
server.listen(port, host, () => console.log(`plain-echo ${mode} listening on ${host}:${(server.address() as net.AddressInfo).port}`));
process.on('SIGTERM', () => process.exit(0));
