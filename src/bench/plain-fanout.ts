// The fan-out benchmark's plain Node server (routing-bench.ts), run as its own
// process: a connection's first line is SUB or PUB, and every whole line the
// publisher sends goes to every subscriber. Two ways, chosen by argv:
//   --per-message  each message written to each subscriber socket (the plain way);
//   (default)      one write per subscriber of each 'data' chunk's whole lines
//                  (batched by hand: what a careful server would do).
// Prints "listening on 127.0.0.1:<port> " once bound.
import net from 'node:net';

const perMessage = process.argv.includes('--per-message');
const OK = Buffer.from('OK\n');
const subs = new Set<net.Socket>();

const server = net.createServer({ noDelay: true }, s => {
  let role: string | null = null;
  let rest: Buffer | null = null;
  s.on('data', (d: Buffer) => {
    if (role === null) {
      const nl = d.indexOf(10);
      role = d.subarray(0, nl).toString('latin1');
      s.write(OK);
      if (role === 'SUB') {
        subs.add(s);
        s.on('close', () => subs.delete(s));
        return;
      }
      d = d.subarray(nl + 1);
      if (d.length === 0) return;
    }
    if (role !== 'PUB') return;
    const buf = rest ? Buffer.concat([rest, d]) : d;
    const end = buf.lastIndexOf(10) + 1;
    rest = end < buf.length ? Buffer.from(buf.subarray(end)) : null;
    if (end === 0) return;
    const lines = buf.subarray(0, end);
    if (!perMessage) {
      for (const sub of subs) sub.write(lines);
      return;
    }
    for (let at = 0; at < end;) {
      const nl = lines.indexOf(10, at) + 1;
      const m = lines.subarray(at, nl);
      for (const sub of subs) sub.write(m);
      at = nl;
    }
  });
  s.on('error', () => {});
});
server.listen(0, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${(server.address() as net.AddressInfo).port} `));
