// One run of the built CLI (dist/cli.js) in its own process, awaited rather than
// blocking the test thread as spawnSync does, so that independent cases (refusals,
// start-up failures) can run side by side. Same result shape as spawnSync: status is
// null when the process was killed at the timeout (generous: a batch of these shares
// the cores with the rest of the suite, and the timeout only guards against a hang).
// And a long-running one (serve, relay) whose output is collected as it comes, which
// killStarted() stops if a test left it running.
// And refusal(): the line serve or relay would print for arguments it refuses, from the
// parsing the CLI runs first (src/serve-args.ts), in the test's own process: a refusal
// needs no process of its own (cli.test.ts checks that the CLI prints exactly this line).
import { spawn, type ChildProcess } from 'node:child_process';
import { parseServeArgs } from '../src/serve-args.ts';

export interface CliRun { status: number | null; stdout: string; stderr: string }

export function runCli(args: string[], timeout = 30_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['dist/cli.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.once('error', err => { clearTimeout(timer); reject(err); });
    child.once('close', (code, signal) => { clearTimeout(timer); resolve({ status: signal ? null : code, stdout, stderr }); });
  });
}

export interface CliProcess {
  child: ChildProcess;
  /** stdout and stderr so far. */
  out(): string;
  err(): string;
}

const started = new Set<ChildProcess>();

/** Start the built CLI with these arguments (e.g. ['serve', '--port', '0']), collecting its output. */
export function startCli(args: string[]): CliProcess {
  const child = spawn(process.execPath, ['dist/cli.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  child.once('exit', () => started.delete(child));
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  return { child, out: () => out, err: () => err };
}

/** SIGKILL every process startCli() started that is still running (for afterEach). */
export function killStarted(): void {
  for (const child of started) child.kill('SIGKILL');
}

/**
 * The port a started server prints in its listening line, once it has. Rejects
 * (naming what the process said) if it exits first or says nothing in `timeout` ms,
 * so that a start that fails under load fails its test at once instead of hanging it.
 */
export function listening(p: CliProcess, timeout = 60_000): Promise<number> {
  const line = /listening on \S+:(\d+)/;
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = line.exec(p.out());
      if (!m) return;
      done();
      resolve(Number(m[1]));
    };
    const exited = (code: number | null, signal: string | null) => {
      done();
      reject(new Error(`the server exited (${signal ?? code}) before it listened; it said:\n${p.out()}${p.err()}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no listening line in ${timeout} ms; the server said:\n${p.out()}${p.err()}`));
    }, timeout);
    const done = () => {
      clearTimeout(timer);
      p.child.stdout!.off('data', check);
      p.child.off('exit', exited);
    };
    p.child.stdout!.on('data', check);
    p.child.once('exit', exited);
    if (p.child.exitCode !== null || p.child.signalCode !== null) exited(p.child.exitCode, p.child.signalCode);
    else check();
  });
}

/**
 * The line `ringwire serve` (or `relay`) prints on stderr before exiting 2 for these
 * arguments, from parseServeArgs() in this process; an error if it would start instead.
 */
export async function refusal([command, ...args]: string[]): Promise<string> {
  if (command !== 'serve' && command !== 'relay') throw new Error(`${command}: serve or relay`);
  try {
    await parseServeArgs(args, command === 'relay');
  } catch (err) {
    const { message, code } = err as { message: string; code?: string };
    return `ringwire: ${message}${code ? ` (${code})` : ''}\n`;
  }
  throw new Error(`ringwire ${command} ${args.join(' ')} was accepted`);
}
