// The command line's one logger: every line `ringwire serve` and `relay` print
// goes through it, in one of three formats.
//   json    one JSON object per line, shaped like pino's (level as a number 10…60,
//           time in ms since the epoch, pid, hostname, name, msg, then fields such
//           as code, worker, remoteAddress), all on stdout as pino writes them, so
//           one stream keeps their order and a log shipper reads one place;
//   pretty  (the default) the human lines ringwire always printed: the listening
//           and --stats-interval lines on stdout, everything else on stderr;
//   silent  nothing at all (the exit status still tells a failed start).
// Lines below the level (trace 10, debug 20, info 30, warn 40, error 50, fatal 60;
// default info) are not written. Lines given a `cause` are rate-limited per cause
// (log-limiter.ts), and each window that dropped some ends with a summary line
// carrying the count as `suppressed`.
// Why not pino: a few kinds of lines, written rarely, do not need its speed, its
// transports or its dependencies; the JSON keeps pino's shape so pino's tools
// (pino-pretty, shippers) read it.

import { hostname } from 'node:os';
import { configError } from './core/errors.ts';
import { LogLimiter } from './log-limiter.ts';

const LOG_FORMATS = ['json', 'pretty', 'silent'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** pino's level numbers. */
const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
export type LevelName = keyof typeof LEVELS;

export type LogFields = Record<string, unknown>;

export interface LineOptions {
  /** pretty: the exact line to print (default `ringwire: <msg>`). */
  text?: string;
  /** pretty: print it on stdout (default stderr). */
  stdout?: boolean;
  /** Rate-limit this line with the others of the same cause. */
  cause?: string;
}

export interface LoggerOptions {
  format?: LogFormat;
  level?: LevelName;
  /** Where lines go (each gets its newline); default process.stdout and process.stderr. */
  stdout?: (line: string) => void;
  stderr?: (line: string) => void;
  /** Rate limiting: lines per cause per window, and the window in ms. Default 5 per 10 s. */
  burst?: number;
  window?: number;
}

export function parseLogFormat(text: string): LogFormat {
  if ((LOG_FORMATS as readonly string[]).includes(text)) return text as LogFormat;
  throw configError(`--log must be ${LOG_FORMATS.join(', ')}, got "${text}"`);
}

export function parseLogLevel(text: string): LevelName {
  if (Object.hasOwn(LEVELS, text)) return text as LevelName;
  throw configError(`--log-level must be ${Object.keys(LEVELS).join(', ')}, got "${text}"`);
}

export class Logger {
  readonly format: LogFormat;
  readonly level: LevelName;
  private readonly threshold: number;
  private readonly stdout: (line: string) => void;
  private readonly stderr: (line: string) => void;
  private readonly limiter: LogLimiter;
  private readonly host = hostname();

  constructor(options: LoggerOptions = {}) {
    this.format = options.format ?? 'pretty';
    this.level = options.level ?? 'info';
    this.threshold = this.format === 'silent' ? Infinity : LEVELS[this.level];
    this.stdout = options.stdout ?? (line => process.stdout.write(line));
    this.stderr = options.stderr ?? (line => process.stderr.write(line));
    this.limiter = new LogLimiter(options.burst, options.window);
  }

  /** Would a line of this level be written? */
  enabled(level: LevelName): boolean {
    return LEVELS[level] >= this.threshold;
  }

  log(level: LevelName, msg: string, fields: LogFields = {}, line: LineOptions = {}): void {
    if (!this.enabled(level)) return;
    if (line.cause === undefined) return this.write(level, msg, fields, line);
    const cause = line.cause;
    this.limiter.line(cause, () => this.write(level, msg, fields, line), (suppressed, window) => {
      this.write(level, `${suppressed} more ${cause} line(s) suppressed in the last ${window / 1000}s`, { cause, suppressed, window }, {});
    });
  }

  trace(msg: string, fields?: LogFields, line?: LineOptions): void { this.log('trace', msg, fields, line); }
  debug(msg: string, fields?: LogFields, line?: LineOptions): void { this.log('debug', msg, fields, line); }
  info(msg: string, fields?: LogFields, line?: LineOptions): void { this.log('info', msg, fields, line); }
  warn(msg: string, fields?: LogFields, line?: LineOptions): void { this.log('warn', msg, fields, line); }
  error(msg: string, fields?: LogFields, line?: LineOptions): void { this.log('error', msg, fields, line); }
  fatal(msg: string, fields?: LogFields, line?: LineOptions): void { this.log('fatal', msg, fields, line); }

  /** Write the summaries of every rate-limited cause now (before exit). */
  flush(): void {
    this.limiter.flushAll();
  }

  private write(level: LevelName, msg: string, fields: LogFields, line: LineOptions): void {
    if (this.format === 'json') {
      // pino's order: level, time, pid, hostname, then the rest; msg last of ours so fields cannot hide it.
      const record = { level: LEVELS[level], time: Date.now(), pid: process.pid, hostname: this.host, name: 'ringwire', ...fields, msg };
      this.stdout(`${JSON.stringify(record)}\n`);
    } else {
      (line.stdout ? this.stdout : this.stderr)(`${line.text ?? `ringwire: ${msg}`}\n`);
    }
  }
}
