// The budget for replies queued beyond the tx rings (maxQueuedTotal) charges the
// holder: when it would be crossed, the connections holding the most queued bytes
// without write progress are closed with ERR_SLOW_CONSUMER, not the one that
// crossed it, so a client that reads keeps being served while never-reading
// clients hold the budget. Real sockets on 127.0.0.1, both cores, both write paths,
// sync, async and per-connection-task handlers; and the memory `ringwire serve`
// prints at start, checked against the server process's peak RSS from /proc.
import net from 'node:net';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lengthFrame } from './harness.ts';
import { collect, connect, errorCodes, sleep, startServer, until, untilWritesStop } from './net-helpers.ts';
import type { Connection, ServerOptions } from '../src/index.ts';

const WRITES = (['wasm', 'js'] as const).flatMap(core => (['direct', 'stream'] as const).map(writePath => ({ core, writePath })));
/** Longer than the time without write progress that makes a holder a candidate (queue-budget.ts). */
const STALLED = 400;

describe.each(WRITES)('the queue budget charges the holder ($core core, $writePath writes)', ({ core, writePath }) => {
  it('at the budget a reply queues and no one is closed; one byte past, the stalled holder with the most queued bytes is closed, not the sender', async () => {
    const chunk = Buffer.alloc(4000, 1); // one frame of it fills a 4 KiB tx ring
    const holders: Connection[] = [];
    const steps: { sent: boolean; codes: string[] }[] = [];
    const maxQueuedTotal = 65536;
    // A holder takes replies until one has to queue: it always holds exactly one chunk beyond its tx ring.
    const fill = (c: Connection) => {
      while (c.send(chunk));
    };
    const { server, port } = await startServer({
      core, writePath, framing: 'length:4:be', maxFrame: 1024, rxRing: 4096, txRing: 4096, maxQueued: 65536, maxQueuedTotal,
      onFrame(frame, c) {
        if (frame[0] === 1) {
          holders.push(c);
          return fill(c);
        }
        // The reader's request: one holder gets 2000 bytes more (it now holds the most), then the reader's own replies.
        holders[0]!.send(Buffer.alloc(2000, 2));
        c.send(Buffer.alloc(4092, 3)); // fills its tx ring exactly: what follows queues
        const room = maxQueuedTotal - server.queuedBytes;
        steps.push({ sent: c.send(Buffer.alloc(room, 4)), codes: [...codes] }); // at the budget
        steps.push({ sent: c.send(Buffer.alloc(1, 5)), codes: [...codes] }); // one byte past it
      },
      onDrain(c) {
        if (holders.includes(c)) fill(c);
      },
    });
    const codes = errorCodes(server);
    const closedIds: (string | null)[] = [];
    const messages: string[] = [];
    server.on('clientError', (e, c) => {
      closedIds.push(c.id);
      messages.push(e.message);
    });
    // 15 clients that never read hold 15 × 4000 bytes once their kernel buffers are full.
    const clients = await Promise.all(Array.from({ length: 15 }, async () => {
      const s = await connect(port);
      s.on('error', () => {});
      s.pause();
      s.write(lengthFrame(Buffer.from([1])));
      return s;
    }));
    await until(() => holders.length === 15 && server.queuedBytes === 15 * 4000, 10_000, 'every holder to hold one chunk');
    await untilWritesStop(() => server.stats().total.bytesOut);
    await sleep(STALLED);
    expect(server.queuedBytes).toBe(15 * 4000);
    const reader = await connect(port);
    const got = collect(reader);
    reader.write(lengthFrame(Buffer.from([2])));
    const room = maxQueuedTotal - (15 * 4000 + 2000);
    const expected = Buffer.concat([lengthFrame(Buffer.alloc(4092, 3)), lengthFrame(Buffer.alloc(room, 4)), lengthFrame(Buffer.alloc(1, 5))]);
    await until(() => got.received() >= expected.length, 10_000, 'the reader\'s replies');
    expect(steps).toEqual([{ sent: false, codes: [] }, { sent: false, codes: ['ERR_SLOW_CONSUMER'] }]);
    // The one closed is the holder with the most; the reader is served every byte and stays open.
    expect(closedIds).toEqual([holders[0]!.id]);
    expect(messages[0]).toMatch(/6000 bytes of replies queued.*maxQueuedTotal 65536/);
    reader.end();
    expect((await got.done).equals(expected)).toBe(true);
    expect(codes).toEqual(['ERR_SLOW_CONSUMER']);
    for (const s of clients) s.destroy();
    await server.close();
  });
});

/** A handler answering every frame with `reply` (filled with the frame's first byte, 0 for an empty frame), in three shapes. */
function answering(kind: 'sync' | 'async' | 'task', size: number): ServerOptions {
  const reply = (frame: Uint8Array) => Buffer.alloc(size, frame[0] ?? 0);
  if (kind === 'sync') return { onFrame: (frame, c) => void c.send(reply(frame)) };
  if (kind === 'async') {
    return {
      async onFrame(frame, c) {
        const r = reply(frame); // built before the await: it reads the frame
        await new Promise(resolve => setImmediate(resolve));
        c.send(r);
      },
    };
  }
  return {
    async onConnection(c) {
      for await (const frame of c) c.send(reply(frame));
    },
  };
}

/**
 * Each handler shape on both cores and on both write paths, each core on both write
 * paths: six cells holding every pair of values of the three dimensions (the full
 * product, twelve cells, held each pair two or three times; a cell fills 64 clients'
 * kernel buffers, most of this file's CPU). The budget at its limit and one byte
 * past runs on all four core and write-path cells above.
 */
const HOLDING = [
  { core: 'wasm', writePath: 'direct', kind: 'sync' },
  { core: 'wasm', writePath: 'stream', kind: 'async' },
  { core: 'wasm', writePath: 'direct', kind: 'task' },
  { core: 'js', writePath: 'stream', kind: 'sync' },
  { core: 'js', writePath: 'direct', kind: 'async' },
  { core: 'js', writePath: 'stream', kind: 'task' },
] as const;

describe.each(HOLDING)(
  '64 never-reading clients holding the queue budget ($core core, $writePath writes, $kind handler)', ({ core, writePath, kind }) => {
    it('do not cost a reading client a single reply', async () => {
      const size = 256 * 1024; // 64 tx rings: every reply queues while it streams
      const maxQueuedTotal = 2 * 1024 * 1024;
      const { server, port } = await startServer({
        core, writePath, framing: 'length:4:be', maxFrame: 1024, rxRing: 4096, txRing: 4096, maxReply: size, maxQueued: size, maxQueuedTotal,
        ...answering(kind, size),
      });
      const codes = errorCodes(server);
      // Each asks for 32 replies of 256 KiB (8 MiB: more than the ~4 MiB a loopback socket's buffers take) and never reads.
      const idle = await Promise.all(Array.from({ length: 64 }, async () => {
        const s = await connect(port);
        s.on('error', () => {});
        s.pause();
        s.write(Buffer.alloc(4 * 32));
        return s;
      }));
      await untilWritesStop(() => server.stats().total.bytesOut);
      await sleep(STALLED);
      expect(server.queuedBytes).toBeGreaterThan(maxQueuedTotal - size); // they hold it: no reply of 64 KiB fits beside them
      const reader = await connect(port);
      reader.on('error', () => {});
      let closed = false;
      reader.once('close', () => (closed = true));
      let buffered = Buffer.alloc(0);
      reader.on('data', d => (buffered = Buffer.concat([buffered, d])));
      let served = 0;
      for (let i = 1; i <= 20 && !closed; i++) {
        reader.write(lengthFrame(Buffer.from([i])));
        const whole = 4 + size;
        await until(() => buffered.length >= whole || closed, 10_000, `reply ${i}`);
        if (buffered.length < whole) break;
        if (buffered.subarray(0, whole).equals(lengthFrame(Buffer.alloc(size, i)))) served++;
        buffered = buffered.subarray(whole);
      }
      expect(closed).toBe(false);
      expect(served).toBe(20);
      expect(new Set(codes)).toEqual(new Set(['ERR_SLOW_CONSUMER'])); // only never-reading clients were closed
      expect(server.queuedBytes).toBeLessThanOrEqual(maxQueuedTotal);
      reader.destroy();
      for (const s of idle) s.destroy();
      await server.close();
    });
  });
/** The server's resident memory at its peak (VmHWM), in MiB. */
const peakRss = (pid: number) => Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

// The async shape runs in serve-scenarios.test.ts, on both cores (its handler replies
// after a setImmediate), with a reading client served beside the never-reading ones.
describe('the memory `ringwire serve` prints at start', () => {
  it.each(['sync', 'task'] as const)('bounds its peak RSS while 64 never-reading clients ask for 1 MiB replies (%s handler)', async kind => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ringwire-rss-'));
    const handler = path.join(dir, 'h.mjs');
    writeFileSync(handler, `const reply = Buffer.alloc(1048576, 7);\n${{
      sync: 'export function onFrame(_f, c) { c.send(reply); }',
      task: 'export async function onConnection(c) { for await (const _f of c) c.send(reply); }',
    }[kind]}\n`);
    // 16 MiB of budget for 128 slots of 1 MiB: 64 clients asking for 64 MiB each would need 4096 MiB without it.
    const child = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', '0', '--framing', 'length:4', '--handler', handler,
      '--max-connections', '128', '--max-reply', '1m', '--max-queued-total', '16m'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr!.resume();
      await until(() => /memory=([\d.]+) MiB at most/.test(out), 10_000, 'the listening line');
      const bound = Number(/memory=([\d.]+) MiB at most/.exec(out)![1]);
      expect(out).toMatch(/MiB of process baseline/);
      const port = Number(/:(\d+) /.exec(out)![1]);
      const clients = Array.from({ length: 64 }, () => {
        const s = net.connect({ port, host: '127.0.0.1' });
        s.on('error', () => {});
        s.pause();
        s.write(Buffer.alloc(4 * 64));
        return s;
      });
      await untilWritesStop(() => Number(readFileSync(`/proc/${child.pid}/io`, 'utf8').match(/wchar: (\d+)/)![1]));
      await sleep(500);
      const peak = peakRss(child.pid!);
      for (const s of clients) s.destroy();
      expect(peak).toBeLessThanOrEqual(bound);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);
});
