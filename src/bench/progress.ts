// Progress of a benchmark run on stderr: a redrawn bar on a terminal, one plain
// line per finished sample otherwise (CI logs, pipes), so the tables on stdout
// stay clean either way.

import { count } from './format.ts';
import type { Sample } from './runner.ts';

export class Progress {
  private readonly tty: boolean;
  private readonly out: NodeJS.WriteStream;
  private readonly quiet: boolean;

  constructor(out: NodeJS.WriteStream = process.stderr, quiet = false) {
    this.out = out;
    this.tty = !!out.isTTY;
    this.quiet = quiet;
  }

  /** A sample is starting. */
  start(done: number, total: number, what: string): void {
    if (this.quiet || !this.tty) return;
    const width = 24;
    const filled = Math.round((done / Math.max(1, total)) * width);
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${what}`;
    this.out.write(`\r\x1b[2K${line.slice(0, (this.out.columns || 120) - 1)}`);
  }

  /** A sample finished. */
  sample(done: number, total: number, s: Sample): void {
    if (this.quiet || this.tty) return;
    const result = s.failure ? `FAILED: ${s.failure}` : `${count(s.framesPerSecond)} frames/s`;
    this.out.write(`[${done}/${total}] ${s.scenario.connections} conn, ${s.scenario.frameBytes} B, depth ${s.scenario.depth}, ${s.contender}, round ${s.round}: ${result}\n`);
  }

  /** Something other than a sample (the core microbenchmarks). */
  note(what: string): void {
    if (this.quiet) return;
    if (this.tty) this.out.write(`\r\x1b[2K${what}`);
    else this.out.write(`${what}\n`);
  }

  done(): void {
    if (!this.quiet && this.tty) this.out.write('\r\x1b[2K');
  }
}
