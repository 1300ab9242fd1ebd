// The websocket suite's baseline: a `ws` server set up the way ws's README
// recommends: permessage-deflate off (ws's default for servers), and its optional
// native addon bufferutil installed (a devDependency of ringwire: ws uses it to
// unmask payloads of 32 bytes or more); utf-8-validate is not installed: on Node 18.14
// and later ws checks text with buffer.isUtf8 instead. As its own process:
//   echo       each message sent back as what it is: ws.send(data, { binary: isBinary });
//   broadcast  the fan-out protocol of fanout-handler.ts: a client's first message is
//              SUB or PUB (answered OK); each later message of a publisher goes to
//              every other client, as ws's README broadcasts: for each client of
//              wss.clients that is open, client.send(data, { binary: isBinary }).
//   node plain-websocket.js <echo|broadcast> <port> [--no-bufferutil]
//   (port 0: any; the port chosen is printed as "listening on 127.0.0.1:<port> ";
//   --no-bufferutil: ws's own JS unmasking, as WS_NO_BUFFER_UTIL=1 asks)
// `ws` is a development dependency of ringwire: a bench run from an installed
// package needs it installed beside it.
import type { AddressInfo } from 'node:net';

const [mode, portText = '0', option] = process.argv.slice(2);
if (mode !== 'echo' && mode !== 'broadcast') throw new Error(`usage: plain-websocket <echo|broadcast> <port> [--no-bufferutil]; got mode "${mode}"`);
if (option === '--no-bufferutil') process.env.WS_NO_BUFFER_UTIL = '1'; // read by ws when it loads, below
const { WebSocketServer, WebSocket } = await import('ws').catch(() => {
  throw new Error('the ws contender needs the ws package: npm install ws');
});

const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(portText), perMessageDeflate: false });
const OK = Buffer.from('OK');
const publishers = new WeakSet<object>();

wss.on('connection', ws => {
  ws.on('error', () => {});
  if (mode === 'echo') {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    return;
  }
  let role: string | null = null;
  ws.on('message', (data, isBinary) => {
    if (role === null) {
      role = String(data);
      if (role === 'PUB') publishers.add(ws);
      ws.send(OK);
      return;
    }
    if (role !== 'PUB') return;
    wss.clients.forEach(client => {
      if (client !== ws && !publishers.has(client) && client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    });
  });
});
wss.on('listening', () => console.log(`listening on 127.0.0.1:${(wss.address() as AddressInfo).port} `));
process.on('SIGTERM', () => process.exit(0));
