// The docs' examples, as they stand. A code block whose first line is
// `// examples/<file>` must be that file, whole; one whose first line is
// `// from examples/<file>` must be a verbatim excerpt of it. In the README and
// the guides a reader copies from (embedding, workers), every JavaScript or
// TypeScript block is one of the two, so none can drift from code that runs:
// the programs run here, the handler modules run under `ringwire serve`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { roundTrip } from './net-helpers.ts';
import { LineClient } from './line-client.ts';

const DOCS = ['README.md', ...readdirSync('docs').filter(f => f.endsWith('.md')).map(f => `docs/${f}`)];
const STRICT = new Set(['README.md', 'docs/embedding.md', 'docs/workers.md']);

function codeBlocks(file: string): { lang: string; code: string }[] {
  return [...readFileSync(file, 'utf8').matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map(m => ({ lang: m[1]!, code: m[2]!.replace(/\n$/, '') }));
}

describe('the docs\' examples', () => {
  for (const file of DOCS) {
    it(`${file}: every example block is a file of examples/ or an excerpt of one`, () => {
      for (const { lang, code } of codeBlocks(file).filter(b => ['js', 'ts', 'mjs'].includes(b.lang))) {
        const whole = /^\/\/ (examples\/[\w/.-]+?):? /.exec(code) ?? /^\/\/ (examples\/[\w/.-]+)$/m.exec(code.split('\n')[0]!);
        const part = /^\/\/ from (examples\/[\w/.-]+)/.exec(code);
        if (!whole && !part) {
          expect(STRICT.has(file), `${file}: a ${lang} block that is not an example file:\n${code.slice(0, 200)}`).toBe(false);
          continue;
        }
        const path = (part ?? whole)![1]!;
        expect(existsSync(path), path).toBe(true);
        const text = readFileSync(path, 'utf8').replace(/\n$/, '');
        if (part) expect(text, `${file} quotes ${path}`).toContain(code.split('\n').slice(1).join('\n'));
        else expect(code, `${file} shows ${path}`).toBe(text);
      }
    });
  }
});

describe('what the docs say is true', () => {
  it('no page calls an option of `ringwire serve --help` not built yet', () => {
    const help = spawnSync(process.execPath, ['dist/cli.js', 'serve', '--help'], { encoding: 'utf8' }).stdout;
    for (const file of DOCS) {
      for (const sentence of readFileSync(file, 'utf8').split(/\n\s*\n|\n- |(?<=[.;])\s+/).filter(p => /not (built|implemented) yet/i.test(p))) {
        for (const [, option] of sentence.matchAll(/`(--[a-z][a-z-]*)/g)) {
          expect(help.includes(option!), `${file} says ${option} is not built yet:\n${sentence}`).toBe(false);
        }
      }
    }
  });

  it('examples/kv-store.mjs answers alike on every worker thread, and the README and docs/workers.md say so next to their worker examples', async () => {
    const workersSection = (file: string, heading: string) => readFileSync(file, 'utf8').split(heading)[1]!.split(/\n## /)[0]!;
    for (const text of [workersSection('README.md', '## Across worker threads'), workersSection('docs/workers.md', '# Worker threads')]) {
      expect(text).toMatch(/per thread/);
      expect(text).toContain('examples/kv-store.mjs');
      expect(text).toMatch(/never\s+`\(nil\)`/);
    }
    // What they describe: a SET through one worker is read through the other.
    const { createWorkerServer } = await import('ringwire');
    const server = createWorkerServer({ workers: 2, balance: 'transfer', framing: 'line', maxConnections: 8, handler: new URL('../examples/kv-store.mjs', import.meta.url).href });
    const { port } = await server.listen(0, '127.0.0.1');
    try {
      const ask = async (c: LineClient, line: string) => (c.write(line), c.next());
      const first = await LineClient.open(port);
      expect(await ask(first, 'SET a 1')).toBe('OK');
      // The least busy worker takes the next connection: the other one.
      const second = await LineClient.open(port);
      expect(await ask(second, 'GET a')).toBe('1');
      expect(await ask(second, 'SET a 2')).toBe('OK');
      expect(await ask(first, 'GET a')).toBe('2');
      expect(server.stats().workers.map(w => w.connections)).toEqual([1, 1]);
      first.socket.end();
      second.socket.end();
    } finally {
      await server.close();
    }
  });
});

describe('the example programs', () => {
  for (const [file, output] of [
    ['examples/embed.mjs', 'hello | (nil)\n2 frames in\n'],
    ['examples/client.mjs', 'connected\nhi\nclosed cleanly\n'],
    ['examples/listen-errors.mjs', 'EADDRINUSE\n'],
    ['examples/workers.mjs', 'OK | 1 | BYE\n2 workers\n'],
    ['examples/embedded-main.mjs', 'HELLO\n1 frame in\npong\n'],
    ['examples/metrics.mjs', 'text/plain; version=0.0.4; charset=utf-8\nringwire_received_frames_total{worker="0"} 1\nringwire_connections_closed_total{worker="0",reason="peer"} 1\n'],
  ] as const) {
    it(`${file} runs and prints what its comments say`, () => {
      const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 20_000 });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(output);
      expect(r.status).toBe(0);
    });
  }
});

describe('the example handler modules under ringwire serve', () => {
  const running = new Set<ChildProcess>();
  afterEach(() => { for (const c of running) c.kill('SIGKILL'); });
  for (const [file, sent, answer, ...options] of [
    ['examples/async-lookup.mjs', 'greeting\nother\n', '{"key":"greeting","found":true}\n{"key":"other","found":false}\n'],
    ['examples/task-per-connection.mjs', 'one\ntwo\nbye\nnever\n', 'one\ntwo\n'],
    ['examples/kv-store.mjs', 'SET a 1\nGET a\nGET b\nQUIT\nGET a\n', 'OK\n1\n(nil)\nBYE\n'],
    // "other" is found before "greeting" (a longer key takes longer), and still answered after it.
    ['examples/pipelined-lookup.mjs', 'greeting\nother\n', '{"key":"greeting","found":true}\n{"key":"other","found":false}\n', '--concurrency', '64'],
  ] as const) {
    it(`${file} answers as the guide says`, async () => {
      const child = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', '0', '--framing', 'line', ...options, '--handler', file], { stdio: ['ignore', 'pipe', 'pipe'] });
      running.add(child);
      const [line] = await once(child.stdout.setEncoding('utf8'), 'data') as [string];
      const port = Number(/:(\d+) /.exec(line)![1]);
      expect(String(await roundTrip(port, Buffer.from(sent)))).toBe(answer);
      child.kill('SIGTERM');
      expect((await once(child, 'exit'))[0]).toBe(0);
    });
  }
});
