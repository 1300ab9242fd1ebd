// examples/relay.mjs as the README starts it (`npm run example:relay`, its own
// process): a kv-store backend behind the relay; clients set and get through
// it, a QUIT closes the client after its answer, SIGTERM drains and exits.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { LineClient } from './line-client.ts';

describe('examples/relay.mjs', () => {
  it('answers through the relay, clients share the backend, stops on SIGTERM', async () => {
    const child = spawn(process.execPath, ['examples/relay.mjs'], { env: { ...process.env, RELAY_PORT: '0', BACKEND_PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const clients: LineClient[] = [];
    try {
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      const [line] = await once(child.stdout!, 'data') as [string];
      const m = /^relay on 127\.0\.0\.1:(\d+) -> kv-store backend on 127\.0\.0\.1:(\d+)/.exec(line);
      expect(m, line).not.toBeNull();
      const [relayPort, backendPort] = [Number(m![1]), Number(m![2])];
      expect(relayPort).not.toBe(backendPort);

      const [a, b] = await Promise.all([LineClient.open(relayPort), LineClient.open(relayPort)]);
      clients.push(a!, b!);
      a!.write('SET colour teal');
      expect(await a!.next()).toBe('OK');
      b!.write('GET colour');
      expect(await b!.next()).toBe('teal'); // one backend behind both clients
      a!.write('GET nothing');
      a!.write('QUIT');
      expect(await a!.next()).toBe('(nil)');
      expect(await a!.next()).toBe('BYE');
      if (!a!.closed) await once(a!.socket, 'close');

      child.kill('SIGTERM');
      const [code] = await once(child, 'exit') as [number];
      expect(code).toBe(0);
      expect(out).toContain('relay: stopped');
      if (!b!.closed) await once(b!.socket, 'close'); // drained and closed by the relay's close()
    } finally {
      for (const c of clients) c.socket.destroy();
      child.kill('SIGKILL');
    }
  });
});
