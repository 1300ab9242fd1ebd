// Real HAProxy (Debian's haproxy; npm test installs it: scripts/test-peers.ts) in front of ringwire:
// send-proxy (v1) and send-proxy-v2 to a server on both cores, where the handler
// must see the client address HAProxy saw (the client connects from 127.0.0.3);
// then the deployment of docs/load-balancers.md at a small scale: two
// `ringwire serve` hosts behind HAProxy with health checks, a verified load, one
// host drained (SIGTERM) in the middle, and not a frame lost.
// Without haproxy every test here fails, saying why: never a silent skip.
import net from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Haproxy, freePort, missing, runLoad, startDeployment } from '../scripts/haproxy-deployment.ts';
import { lengthFrame } from './harness.ts';
import { collect, errorCodes, startServer, until } from './net-helpers.ts';
import type { Connection } from '../src/index.ts';

const why = missing();
const needHaproxy = () => {
  if (why) throw new Error(`HAProxy tests cannot run: ${why}`);
};

describe.each(['wasm', 'js'] as const)('behind real HAProxy, core=%s', core => {
  it.each(['v1', 'v2'] as const)('send-proxy %s: the handler sees the client HAProxy saw, and frames are echoed exactly', async version => {
    needHaproxy();
    const seen: { address: string | undefined; port: number | undefined; socket: string | undefined }[] = [];
    const onOpen = (c: Connection) => void seen.push({ address: c.remoteAddress, port: c.remotePort, socket: c.socketRemoteAddress });
    const { server, port } = await startServer({ core, framing: 'length:4:be', proxyProtocol: version, proxyTrusted: ['127.0.0.1/32'], onOpen });
    const codes = errorCodes(server);
    const haproxy = await Haproxy.start({ port: await freePort(), proxy: version, check: false, servers: [{ name: 'host1', host: '127.0.0.1', port }] });
    try {
      const s = net.connect({ port: haproxy.port, host: '127.0.0.1', localAddress: '127.0.0.3', noDelay: true });
      await once(s, 'connect');
      const clientPort = s.localPort;
      const c = collect(s);
      const frames = Buffer.concat([lengthFrame(randomBytes(1000)), lengthFrame(randomBytes(3)), lengthFrame(randomBytes(16_000))]);
      s.write(frames);
      await until(() => c.received() === frames.length, 10_000, 'the echo through HAProxy');
      s.end();
      expect((await c.done).equals(frames)).toBe(true);
      expect(seen).toEqual([{ address: '127.0.0.3', port: clientPort, socket: '127.0.0.1' }]);
      expect(codes).toEqual([]);
    } finally {
      await haproxy.stop();
      await server.close();
    }
  });
});

describe('many ringwire hosts behind HAProxy', () => {
  it('drains one host during a verified load: it goes DOWN, its clients reconnect elsewhere, no frame is lost', async () => {
    needHaproxy();
    const d = await startDeployment({ hosts: 2 });
    try {
      const load = runLoad({ port: d.haproxy.port, connections: 4, window: 16, payload: 64, durationMs: 2500 });
      await new Promise(r => setTimeout(r, 1000));
      const [host1, host2] = d.hosts as [typeof d.hosts[0], typeof d.hosts[0]];
      expect((await d.haproxy.servers()).map(s => s.current)).toEqual([2, 2]);
      const drained = await host2.drain();
      const r = await load;
      const after = await d.haproxy.servers();
      const kept = await host1.drain();
      expect(r.lost).toBe(0);
      expect(r.mismatched).toBe(0);
      expect(r.answered).toBe(r.sent);
      expect(r.reconnects).toBeGreaterThanOrEqual(2); // host2's two connections, replaced through HAProxy
      expect(after.map(s => s.status)).toEqual(['UP', 'DOWN']);
      // Each host answered every frame it read; together, every frame once.
      expect(drained.framesOut).toBe(drained.framesIn);
      expect(drained.framesOut).toBeGreaterThan(0);
      expect(kept.framesOut + drained.framesOut).toBe(r.answered);
      // Health checks (reset by HAProxy) and drained connections are no errors.
      expect([kept.errors, drained.errors]).toEqual([0, 0]);
    } finally {
      await d.stop();
    }
  });
});
