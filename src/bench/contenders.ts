// The servers a benchmark compares, each started as its own process so its CPU
// and memory can be read from the OS and nothing of the runner's shares its heap:
//   ringwire-wasm, ringwire-js   `ringwire serve` with the scenario's framing
//   node-data                     socket.on('data') echo: the baseline
//   node-onread                   onread into a static buffer, write a copy
//   external ones                 any command, given as name='cmd ... {port} ...'
// Plain and external servers echo raw bytes; the load is the same frames for all,
// and each frame comes back exactly as sent whatever the server's framing.

import { fileURLToPath } from 'node:url';
import { configError } from '../index.ts';

export interface Scenario {
  connections: number;
  frameBytes: number;
  depth: number;
  framing: string;
}

export interface Contender {
  name: string;
  /** What to run: an executable and its arguments, for a server on 127.0.0.1:port. */
  command(port: number, scenario: Scenario): { file: string; args: string[] };
  /** The framing the server decodes ('raw' for plain and external echo servers). */
  framing(scenario: Scenario): string;
}

/** A file of ringwire's own: from dist/ when bundled, from src/ when run as TypeScript. */
export function entry(name: 'cli' | 'plain-echo' | 'generator-process'): string {
  const fromSource = import.meta.url.endsWith('.ts');
  if (!fromSource) return fileURLToPath(new URL(`./${name}.js`, import.meta.url));
  return fileURLToPath(new URL(name === 'cli' ? '../cli.ts' : `./${name}.ts`, import.meta.url));
}

function ringwire(core: 'wasm' | 'js'): Contender {
  return {
    name: `ringwire-${core}`,
    framing: s => s.framing,
    command: (port, s) => ({
      file: process.execPath,
      args: [
        entry('cli'), 'serve', '--host', '127.0.0.1', '--port', String(port), '--core', core,
        '--framing', s.framing,
        // Room for the connections plus the runner's readiness probe, and frames of this size.
        '--max-connections', String(s.connections + 8),
        '--max-frame', String(Math.max(s.frameBytes, 16384)),
      ],
    }),
  };
}

function plain(mode: 'data' | 'onread'): Contender {
  return {
    name: `node-${mode}`,
    framing: () => 'raw',
    command: port => ({ file: process.execPath, args: [entry('plain-echo'), mode, String(port), '127.0.0.1'] }),
  };
}

export const BUILTIN: readonly Contender[] = [ringwire('wasm'), ringwire('js'), plain('data'), plain('onread')];
export const BASELINE = 'node-data';

/**
 * An external server from `name=command`. The command runs under `sh -c 'exec …'`
 * (so the measured process is the server, not a shell) with {port} replaced by
 * the port to listen on; it must echo every byte it reads, on 127.0.0.1.
 */
export function external(spec: string): Contender {
  const eq = spec.indexOf('=');
  const name = spec.slice(0, eq).trim();
  const cmd = spec.slice(eq + 1).trim();
  if (eq <= 0 || !cmd || !/^[\w.-]+$/.test(name)) {
    throw configError(`--external takes name='command {port}', got "${spec}"`);
  }
  if (!cmd.includes('{port}')) throw configError(`--external ${name}: the command must listen on {port}, got "${cmd}"`);
  return {
    name,
    framing: () => 'raw',
    command: port => ({ file: '/bin/sh', args: ['-c', `exec ${cmd.replaceAll('{port}', String(port))}`] }),
  };
}
