// `ringwire serve --profile DIR` and `--perf-map`: restart this process with
// Node's own profiler flags, then serve as usual.
//
// Why a restart and not node:inspector: --cpu-prof profiles every thread from its
// first instruction, worker threads included (a worker started by WorkerServer
// inherits the flag, so a replacement after a crash is profiled too), and writes
// each thread's profile when the thread ends; an inspector Session would have to
// be opened inside each worker by code in src/workers. --perf-basic-prof cannot be
// switched on after start at all. process.execve replaces the process in place:
// same PID (what perf -p and /tmp/perf-PID.map need), same terminal, signals
// reach the server directly, so SIGINT/SIGTERM drain as usual and every thread
// writes its profile as it ends.

import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { configError } from '../core/errors.ts';

/**
 * Sampling interval for --profile, µs: a quarter of V8's default (1000 µs), as a
 * server's functions last microseconds. Measured here: profiling costs about a
 * quarter of an echo's throughput at either interval (docs/tuning-and-profiling.md).
 */
export const PROFILE_INTERVAL_US = 250;

/** The Node flags for the profiling options in args, and args without them. */
export function profilerFlags(args: string[]): { flags: string[]; rest: string[]; dir?: string } {
  const { values, tokens } = parseArgs({
    args,
    strict: false,
    allowPositionals: true,
    tokens: true,
    options: { profile: { type: 'string' }, 'perf-map': { type: 'boolean' } },
  });
  const drop = new Set<number>();
  for (const t of tokens) {
    if (t.kind !== 'option' || (t.name !== 'profile' && t.name !== 'perf-map')) continue;
    drop.add(t.index);
    if (t.name === 'profile' && !t.inlineValue) drop.add(t.index + 1);
  }
  const rest = args.filter((_, i) => !drop.has(i));
  const flags: string[] = [];
  let dir: string | undefined;
  if (values.profile !== undefined) {
    if (typeof values.profile !== 'string' || values.profile === '') throw configError('--profile needs a directory: --profile DIR');
    dir = resolve(values.profile);
    flags.push('--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${PROFILE_INTERVAL_US}`);
  }
  // Native stack frames for interpreted JS too, so perf shows a function even before it is optimised.
  if (values['perf-map']) flags.push('--perf-basic-prof', '--interpreted-frames-native-stack');
  return { flags, rest, dir };
}

/**
 * If args ask for profiling, restart Node with its profiler flags and the same
 * command (never returns); otherwise return args unchanged. `command` is the
 * subcommand to run again (serve); `say` prints where the profiles go (the CLI's logger).
 */
export function execWithProfiler(command: string, args: string[], say: (text: string) => void): string[] {
  const { flags, rest, dir } = profilerFlags(args);
  if (flags.length === 0) return args;
  const argv = [process.execPath, ...process.execArgv, ...flags, process.argv[1]!, command, ...rest];
  const execve = (process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve;
  if (typeof execve !== 'function') {
    throw configError(`--profile and --perf-map restart Node with its profiler flags, which needs process.execve (Node >= 22.15); run instead: ${argv.join(' ')}`);
  }
  if (dir) {
    mkdirSync(dir, { recursive: true });
    say(`CPU profiles of every thread go to ${dir} when the server stops (thread 0 is the main thread); read them with: ringwire profile-report ${dir}`);
  }
  if (flags.includes('--perf-basic-prof')) {
    say(`perf map /tmp/perf-${process.pid}.map (this PID stays); record with: perf record -F 999 -g -p ${process.pid}`);
  }
  return execve.call(process, process.execPath, argv, process.env);
}
