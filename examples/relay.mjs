// examples/relay.mjs: ringwire in front of a key-value backend, in one process:
// npm run example:relay, then `nc 127.0.0.1 7000` and type SET a 1 / GET a / QUIT.
// The backend is examples/kv-store.mjs on its own port; the relay gives each client
// its own upstream connection and moves whole lines both ways inside the core.
// Ports: RELAY_PORT (7000) and BACKEND_PORT (7001); 0 picks free ones.
// test/relay-example.test.ts runs it. Ctrl-C (or SIGTERM) drains both and exits.
import { createServer } from 'ringwire';
import * as kvStore from './kv-store.mjs';

const backend = createServer({ framing: 'line', ...kvStore });
const { port: backendPort } = await backend.listen(Number(process.env.BACKEND_PORT ?? 7001), '127.0.0.1');

const relay = createServer({ framing: 'line', maxFrame: 4096, upstream: { host: '127.0.0.1', port: backendPort } });
relay.on('clientError', (err, c) => console.warn('relay:', c.remoteAddress ?? '-', err.code));
const { port } = await relay.listen(Number(process.env.RELAY_PORT ?? 7000), '127.0.0.1');
console.log(`relay on 127.0.0.1:${port} -> kv-store backend on 127.0.0.1:${backendPort}`);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    await relay.close();    // the clients first: their upstream connections close with them
    await backend.close();
    console.log('relay: stopped');
  });
}
