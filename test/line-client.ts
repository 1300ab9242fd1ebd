// A line client for the actors, groups and chat tests (127.0.0.1, every wait
// bounded): write lines, read every line that comes back, in order, and wait
// for the next one, or for one with a given prefix.
import net from 'node:net';
import { once } from 'node:events';

export class LineClient {
  readonly socket: net.Socket;
  /** Every line received, in order. */
  readonly lines: string[] = [];
  closed = false;
  private buffered = '';
  /** Lines next() has returned (each is returned once). */
  private readonly taken = new Set<number>();
  private waiters: (() => void)[] = [];

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buffered += d;
      let nl;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        this.lines.push(this.buffered.slice(0, nl));
        this.buffered = this.buffered.slice(nl + 1);
      }
      this.wake();
    });
    socket.on('close', () => { this.closed = true; this.wake(); });
    socket.on('error', () => {});
  }

  static async open(port: number): Promise<LineClient> {
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
    await once(socket, 'connect');
    return new LineClient(socket);
  }

  write(line: string): void {
    this.socket.write(`${line}\n`);
  }

  /** Wait until cond() holds (checked on every arrival); fail after ms. */
  async until(cond: () => boolean, ms = 10_000, what = 'lines'): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      const left = end - Date.now();
      if (left <= 0 || this.closed) throw new Error(`${what}: ${this.closed ? 'connection closed' : `not within ${ms} ms`} (${this.lines.length} lines, last: ${this.lines.at(-1)})`);
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /** The first line that starts with prefix and that next() has not returned yet. */
  async next(prefix = '', ms = 10_000): Promise<string> {
    let found: string | undefined;
    await this.until(() => {
      for (let i = 0; i < this.lines.length; i++) {
        if (!this.taken.has(i) && this.lines[i]!.startsWith(prefix)) {
          found = this.lines[i];
          this.taken.add(i);
          return true;
        }
      }
      return false;
    }, ms, `a line starting with "${prefix}"`);
    return found!;
  }

  async ask(line: string, prefix = line.split(' ')[0]!): Promise<string> {
    this.write(line);
    return this.next(prefix);
  }

  /** Lines starting with prefix, received so far. */
  with(prefix: string): string[] {
    return this.lines.filter(l => l.startsWith(prefix));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
