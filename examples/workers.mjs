// examples/workers.mjs: one port served by 2 worker threads, each with its own core;
// the hooks come from a module every worker imports: node examples/workers.mjs
import net from 'node:net';
import { once } from 'node:events';
import { createWorkerServer } from 'ringwire';

const server = createWorkerServer({
  workers: 2,
  framing: 'line',
  handler: new URL('./kv-store.mjs', import.meta.url).href, // exports onOpen, onFrame, onAsk, onClose
  // Each key lives on the worker router.owner(key) names: every connection, on either worker, reads the same value.
});
server.on('workerExit', (err, info) => console.warn(err.message)); // ERR_WORKER_EXIT, info.connections, info.restartIn
const { port } = await server.listen(0, '127.0.0.1');

const client = net.connect(port, '127.0.0.1');
let answer = '';
client.on('data', d => (answer += d));
client.end('SET a 1\nGET a\nQUIT\n');
await once(client, 'close');
console.log(answer.trim().split('\n').join(' | '));                // OK | 1 | BYE
console.log(server.stats().workers.length, 'workers');
await server.close();                                                // drains every worker
