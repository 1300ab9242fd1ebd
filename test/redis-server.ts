// A real redis-server (Debian's package) for the cluster tests: started on
// 127.0.0.1 on a free port of 46000-46999, no persistence, stopped by its PID.
// Missing redis-server fails loudly (never a silent skip): npm test installs it: scripts/test-peers.ts.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export interface RedisServer {
  port: number;
  url: string;
  pid: number;
  /** Stop it (SIGTERM, then SIGKILL after 2 s) and wait for its exit. */
  stop(): Promise<void>;
}

const MISSING = 'redis-server is not installed: the cluster tests need a real Redis (apt-get install redis-server; npm test installs it: scripts/test-peers.ts)';

export function assertRedisInstalled(): void {
  if (spawnSync('redis-server', ['--version']).error) throw new Error(MISSING);
}

/** Start redis-server on `port` (or a free one in 46000-46999); resolves once it accepts connections. */
export async function startRedis(port?: number): Promise<RedisServer> {
  assertRedisInstalled();
  for (let attempt = 0; attempt < 8; attempt++) {
    const p = port ?? 46000 + Math.floor(Math.random() * 1000);
    const child = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (await ready(child)) {
      return {
        port: p,
        url: `redis://127.0.0.1:${p}`,
        pid: child.pid!,
        stop: () => stop(child),
      };
    }
    if (port !== undefined) throw new Error(`redis-server could not start on port ${port}`);
  }
  throw new Error('redis-server could not start on any port tried in 46000-46999');
}

/** Its "Ready to accept connections" line (true), or its exit (false: the port was taken), within 5 s. */
function ready(child: ChildProcess): Promise<boolean> {
  return new Promise(resolve => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(false);
    }, 5000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  process.kill(child.pid!, 'SIGTERM');
  const timer = setTimeout(() => process.kill(child.pid!, 'SIGKILL'), 2000);
  await exited;
  clearTimeout(timer);
}
