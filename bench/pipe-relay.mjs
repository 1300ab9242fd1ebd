// A plain Node relay, the baseline for ringwire relay: each client piped to its own
// upstream connection and back (socket.pipe both ways), the way most Node proxies do it.
// node bench/pipe-relay.mjs <port> <upstream-port>
import net from 'node:net';

const [port, upstream] = process.argv.slice(2).map(Number);
net.createServer({ noDelay: true }, client => {
  const up = net.connect({ port: upstream, host: '127.0.0.1', noDelay: true });
  client.pipe(up);
  up.pipe(client);
  const close = () => { client.destroy(); up.destroy(); };
  client.on('error', close).on('close', close);
  up.on('error', close).on('close', close);
}).listen(port, '127.0.0.1');
