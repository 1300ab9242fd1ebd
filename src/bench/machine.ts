// The machine a benchmark ran on, recorded with every result so numbers are never
// read without their context: Node, CPU, cores, kernel, load, and which build of
// ringwire (git commit when run from a checkout, and a hash of the WASM core).

import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

export interface Machine {
  node: string;
  v8: string;
  platform: string;
  kernel: string;
  arch: string;
  cpuModel: string;
  cores: number;
  availableParallelism: number;
  memoryBytes: number;
  /** 1-minute load average when the run started. */
  loadAverage: number;
  ringwireVersion: string;
  gitCommit: string | null;
  gitDirty: boolean | null;
  /** sha256 of build/core.wasm, first 16 hex digits. */
  wasmHash: string | null;
  date: string;
}

function git(args: string[], cwd: string): string | null {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** From src/bench/ or dist/, the package root is the first parent with package.json named ringwire. */
function packageRoot(): string {
  for (const rel of ['../../', '../']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    try {
      if (JSON.parse(readFileSync(`${dir}package.json`, 'utf8')).name === 'ringwire') return dir;
    } catch { /* not here */ }
  }
  return process.cwd();
}

export function machine(): Machine {
  const root = packageRoot();
  const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string };
  let wasmHash: string | null = null;
  try {
    wasmHash = createHash('sha256').update(readFileSync(`${root}build/core.wasm`)).digest('hex').slice(0, 16);
  } catch { /* not built */ }
  const commit = git(['rev-parse', 'HEAD'], root);
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: process.platform,
    kernel: os.release(),
    arch: process.arch,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.cpus().length,
    availableParallelism: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    loadAverage: os.loadavg()[0]!,
    ringwireVersion: pkg.version,
    gitCommit: commit,
    gitDirty: commit ? git(['status', '--porcelain', '--untracked-files=no'], root) !== '' : null,
    wasmHash,
    date: new Date().toISOString(),
  };
}
