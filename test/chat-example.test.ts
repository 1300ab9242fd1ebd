// examples/chat as the README starts it (`ringwire serve --workers 2 --framing
// line --handler examples/chat/handler.mjs`, the built CLI in its own process):
// 30 clients on 2 workers in one room, every message reaches every member once,
// in order per sender, across the workers; a private message (sendTo) to a
// member on the other worker; leaving is announced; other rooms hear nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { LineClient } from './line-client.ts';

const running = new Set<ChildProcess>();
const clients: LineClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.socket.destroy();
  for (const child of running) child.kill('SIGKILL'); // only the servers this file started
});

async function serveChat(): Promise<{ child: ChildProcess; port: number }> {
  const args = ['dist/cli.js', 'serve', '--port', '0', '--workers', '2', '--framing', 'line', '--handler', 'examples/chat/handler.mjs'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const [line] = await once(child.stdout!.setEncoding('utf8'), 'data') as [string];
  expect(line).toMatch(/^ringwire listening on 127\.0\.0\.1:\d+ .* workers=2/);
  return { child, port: Number(/:(\d+) /.exec(line)![1]) };
}

describe('examples/chat', () => {
  it('rooms span both workers: every message to every member once, in order per sender; TELL reaches the other worker', async () => {
    const { child, port } = await serveChat();
    const members = await Promise.all(Array.from({ length: 30 }, () => LineClient.open(port)));
    clients.push(...members);
    const ids = await Promise.all(members.map(async c => (await c.next('welcome')).split(' ')[1]!.replace(':', '')));
    expect(new Set(ids.map(id => id.split('-')[0])).size).toBe(2); // both workers have members
    const outsider = await LineClient.open(port);
    clients.push(outsider);
    outsider.write('JOIN elsewhere');
    members.forEach((c, i) => c.write(`NICK m${i}`));
    await Promise.all(members.map(c => c.next('you are')));
    for (const c of members) {
      c.write('JOIN lobby');
      await c.next('* '); // its own join announcement: it is in the room
    }
    const n = 10;
    for (const [i, c] of members.entries()) for (let k = 0; k < n; k++) c.write(`hello ${k} from m${i}`);
    await Promise.all(members.map(c => c.until(() => c.with('lobby ').length >= 30 * n, 15_000)));
    for (const c of members) {
      const got = c.with('lobby ');
      expect(got.length).toBe(30 * n);
      for (let i = 0; i < 30; i++) {
        expect(got.filter(l => l.startsWith(`lobby m${i}: `))).toEqual(Array.from({ length: n }, (_, k) => `lobby m${i}: hello ${k} from m${i}`));
      }
    }
    // A private message to a member on the other worker.
    const [a, b] = [0, ids.findIndex(id => id.split('-')[0] !== ids[0]!.split('-')[0])];
    members[a]!.write(`TELL ${ids[b]} psst`);
    expect(await members[b]!.next('(private)')).toBe(`(private) m${a}: psst`);
    members[a]!.write('TELL 1-1-1 anyone');
    expect(await members[a]!.next('1-1-1')).toBe('1-1-1 is not here');
    // Leaving is announced to the others; another room heard nothing.
    members[b]!.socket.end();
    expect(await members[a]!.next(`* m${b} left`)).toBe(`* m${b} left lobby`);
    expect(outsider.with('lobby')).toEqual([]);
    child.kill('SIGTERM');
    expect((await once(child, 'exit'))[0]).toBe(0);
  });
});
