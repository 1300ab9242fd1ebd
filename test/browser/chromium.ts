// Headless Chromium (Debian's `chromium`, as scripts/check-report.ts runs it) driven
// over the DevTools protocol, which is itself a WebSocket: the `ws` package's client
// speaks it. open() loads a page in a fresh tab; evaluate() runs an expression there
// and awaits its promise. Every browser this starts is closed by close(), and killed
// (by its own pid) if it does not exit; everything binds 127.0.0.1.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';

export const CHROMIUM = ['chromium', 'chromium-browser', 'google-chrome'].find(c => spawnSync(c, ['--version']).status === 0);

export class Browser {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  readonly console: string[] = [];
  private readonly child: ChildProcess;
  private readonly cdp: WebSocket;
  private readonly profile: string;
  private constructor(child: ChildProcess, cdp: WebSocket, profile: string) {
    this.child = child;
    this.cdp = cdp;
    this.profile = profile;
    cdp.on('message', data => {
      const m = JSON.parse(String(data));
      if (m.method === 'Runtime.consoleAPICalled') this.console.push(m.params.args.map((a: { value?: unknown }) => String(a.value)).join(' '));
      const w = m.id !== undefined ? this.waiting.get(m.id) : undefined;
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.error) w.reject(new Error(`${m.error.message}`));
      else w.resolve(m.result);
    });
  }

  static async launch(): Promise<Browser> {
    if (!CHROMIUM) throw new Error('no chromium on PATH (Debian: apt-get install chromium): npm run test:browser needs it');
    const profile = mkdtempSync(path.join(os.tmpdir(), 'ringwire-chromium-'));
    const child = spawn(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=0', `--user-data-dir=${profile}`, 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const url = await new Promise<string>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`chromium did not start in 20 s:\n${err}`)), 20_000);
      child.stderr!.on('data', d => {
        err += d;
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.once('exit', code => reject(new Error(`chromium exited (${code}):\n${err}`)));
    });
    const cdp = new WebSocket(url, { perMessageDeflate: false });
    await new Promise((resolve, reject) => cdp.once('open', resolve).once('error', reject));
    return new Browser(child, cdp, profile);
  }

  private call(method: string, params: object = {}, sessionId?: string): Promise<any> {
    const id = this.nextId++;
    this.cdp.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    return new Promise((resolve, reject) => this.waiting.set(id, { resolve, reject }));
  }

  /** A new tab at this URL; its evaluate(). */
  async open(url: string): Promise<{ evaluate: <T>(expression: string) => Promise<T> }> {
    const { targetId } = await this.call('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await this.call('Target.attachToTarget', { targetId, flatten: true });
    await this.call('Runtime.enable', {}, sessionId);
    await this.call('Page.enable', {}, sessionId);
    await this.call('Page.navigate', { url }, sessionId);
    const evaluate = async <T>(expression: string): Promise<T> => {
      const r = await this.call('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, sessionId);
      if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
      return r.result.value as T;
    };
    // Loaded: its scripts ran.
    for (let i = 0; i < 200 && (await evaluate<string>('document.readyState')) !== 'complete'; i++) await new Promise(r => setTimeout(r, 25));
    return { evaluate };
  }

  async close(): Promise<void> {
    const exited = new Promise(resolve => this.child.once('exit', resolve));
    this.call('Browser.close').catch(() => {});
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    this.cdp.terminate();
    rmSync(this.profile, { recursive: true, force: true });
  }
}
