// examples/metrics.mjs: ringwire's Prometheus metrics on your own HTTP server,
// at the path you choose, next to your routes: node examples/metrics.mjs
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { createServer, MetricsRegistry } from 'ringwire';

const server = createServer({ framing: 'line' });
const { port } = await server.listen(0, '127.0.0.1');

const metrics = new MetricsRegistry(server);  // for a worker server too: it reads every worker's shared memory
const web = http.createServer((req, res) => {
  if (req.url === '/metrics') return metrics.handler(req, res);   // GET and HEAD; Prometheus' content type
  res.writeHead(404).end();
});
web.listen(0, '127.0.0.1');
await once(web, 'listening');

const client = net.connect(port, '127.0.0.1');
client.end('hello\n');
client.resume();
await once(client, 'close');

const res = await fetch(`http://127.0.0.1:${web.address().port}/metrics`);
const text = await res.text();
console.log(res.headers.get('content-type'));                       // text/plain; version=0.0.4; charset=utf-8
console.log(text.match(/^ringwire_received_frames_total\{.*$/m)[0]); // ringwire_received_frames_total{worker="0"} 1
console.log(text.match(/^ringwire_connections_closed_total\{.*reason="peer".*$/m)[0]);
web.close();
await server.close();
