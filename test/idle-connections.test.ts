// The idle-connection measurement (scripts/idle-connections.ts, npm run measure:idle)
// that docs/limits-and-errors.md cites: a small run of it, both servers, clients in
// their own processes from their own 127.x addresses. Its figures are not checked
// (they are the measurement's, and noisy at this size); that every connection had
// its 64 B frame echoed byte for byte, and what the table and the JSON hold, are.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

interface Run {
  connections: number;
  samples: { contender: string; connections: number; echoed: number; failed: number; before: { rss: number }; idle: { rss: number }; series: number[]; perConnection: number }[];
  hundredThousand: string;
}

it('holds 300 connections on each server, each echoed its 64 B frame, and writes what it measured', async () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'ringwire-idle-'));
  const { stdout } = await promisify(execFile)(process.execPath, [
    'scripts/idle-connections.ts', '--connections', '300', '--clients', '2', '--rounds', '1', '--settle', '200ms', '--out', out, // settle: the RSS only needs to be read after the connections, not steady
  ], { timeout: 90_000 });
  expect(stdout).toMatch(/\| ringwire \| 300 \|/);
  expect(stdout).toMatch(/\| node:net \| 300 \|/);
  expect(stdout).not.toMatch(/FAILED/);
  const run = JSON.parse(readFileSync(path.join(out, readdirSync(out).find(f => f.startsWith('idle-connections-'))!), 'utf8')) as Run;
  expect(run.samples.map(s => s.contender)).toEqual(['ringwire', 'node:net']);
  for (const s of run.samples) {
    expect(s).toMatchObject({ connections: 300, echoed: 300, failed: 0 });
    expect(s.idle.rss).toBeGreaterThan(s.before.rss); // 300 sockets are not free
    expect(s.perConnection).toBe((s.idle.rss - s.before.rss) / 300);
    expect(s.series).toHaveLength(1);
  }
  // Today 100,000 slots of the default rings do not fit in one memory: it says why (or, once they do, that it listens).
  expect(run.hundredThousand).toMatch(/listening on|ERR_/);
}, 120_000);
