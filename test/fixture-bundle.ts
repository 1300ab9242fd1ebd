// A worker-thread fixture that imports the TypeScript sources (src/*.ts), bundled into
// one plain JavaScript module for the threads to load, as scripts/bundle.ts builds the
// package (esbuild). Why: every thread that imports a .ts file pays Node's type
// stripping afresh, in its own isolate (its own amaro: ~170 ms a thread on a quiet
// machine, 0.5 s under load, against ~55 ms for plain JavaScript), and the mailbox
// tests start dozens of threads, one after another. Every fixture that imports src/*.ts
// goes through here (mailbox, address-table and topic-filter tests).
// Invariant: the bundle is made from the sources as they are when the test file runs
// (never a build left from before), once per fixture and process, in a fresh directory.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildSync } from 'esbuild';

let dir: string | undefined;
const made = new Map<string, URL>();

/** The fixture at `url` and what it imports, as one JavaScript module: its URL, to give to `new Worker()`. */
export function bundledFixture(url: URL): URL {
  const known = made.get(url.href);
  if (known) return known;
  dir ??= mkdtempSync(path.join(os.tmpdir(), 'ringwire-fixtures-'));
  const outfile = path.join(dir, path.basename(fileURLToPath(url)));
  buildSync({ entryPoints: [fileURLToPath(url)], outfile, bundle: true, format: 'esm', platform: 'node', target: 'node22', logLevel: 'error' });
  const bundled = pathToFileURL(outfile);
  made.set(url.href, bundled);
  return bundled;
}
