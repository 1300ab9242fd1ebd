// What the actors and groups suites share: 2-worker servers running
// test/fixtures/actors-handler.mjs, line clients that learn their connection id
// and thread, and the cleanup after each test (closeOpened in afterEach).
import type net from 'node:net';
import { createWorkerServer, type WorkerServer } from 'ringwire';
import { LineClient } from './line-client.ts';

export const HANDLER = new URL('./fixtures/actors-handler.mjs', import.meta.url).pathname;

/** What a test opened: closed by closeOpened(). */
export const opened = { servers: [] as { close(): Promise<void> }[], sockets: [] as net.Socket[] };

export async function closeOpened(): Promise<void> {
  for (const s of opened.sockets.splice(0)) s.destroy();
  await Promise.all(opened.servers.splice(0).map(s => s.close()));
}

/** A worker server (2 workers, line framing, the actors handler) listening on 127.0.0.1. */
export async function start(core: 'wasm' | 'js', options: Parameters<typeof createWorkerServer>[0] = {}): Promise<{ server: WorkerServer; port: number }> {
  const server = createWorkerServer({ workers: 2, framing: 'line', handler: HANDLER, core, ...options });
  opened.servers.push(server);
  const { port } = await server.listen(0, '127.0.0.1');
  return { server, port };
}

/** n line clients, each with its connection id and the thread serving it. */
export async function open(port: number, n: number): Promise<{ client: LineClient; id: string; thread: string }[]> {
  const clients = await Promise.all(Array.from({ length: n }, () => LineClient.open(port)));
  opened.sockets.push(...clients.map(c => c.socket));
  return Promise.all(clients.map(async client => {
    const id = (await client.ask('id')).slice(3);
    return { client, id, thread: id.split('-')[0]! };
  }));
}
