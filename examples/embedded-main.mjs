// examples/embedded-main.mjs: the thread that started your worker reads the
// embedded server's stats from shared memory and drains it; the worker lives on.
// node examples/embedded-main.mjs
import net from 'node:net';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { attachWorker } from 'ringwire';

const worker = new Worker(new URL('./net-worker.mjs', import.meta.url));
const link = attachWorker(worker);
const port = await link.ready;                 // the port it listens on

const client = net.connect(port, '127.0.0.1');
let answer = '';
client.on('data', d => (answer += d));
client.end('hello\n');
await once(client, 'close');
console.log(answer.trim());                    // HELLO

console.log(link.stats().framesIn, 'frame in'); // read from the worker's memory, no message sent
await link.close();                             // drain its connections; the worker itself runs on
worker.postMessage('ping');
console.log((await once(worker, 'message'))[0]); // pong
await worker.terminate();
