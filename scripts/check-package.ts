// The package as a user gets it: `npm pack`, the tarball installed into a new app
// in a temporary directory (typescript and @types/node from the registry), then
// what a user does first:
//   - the tarball holds the build (dist/, its types, build/core.wasm, and the C
//     echo server that `ringwire bench --help` names) and no install script, and
//     installing it prints no install-script or engine warning;
//   - `npx ringwire serve --port 0` prints its listening line, echoes, and drains
//     on SIGTERM;
//   - `import` (ESM) and `require` (CommonJS) of 'ringwire' run a server that
//     answers a frame, on this Node and on the lowest supported one (22.12.0);
//   - a TypeScript consumer type-checks with tsc's defaults (`types` is [] since
//     TypeScript 6, so nothing but the package's own references brings in Node's).
// Every server binds 127.0.0.1 and is stopped by its PID; the whole check has one
// deadline, and a step still running at the deadline is killed.
//   node scripts/check-package.ts       (npm run test:package; needs the npm registry)
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const DEADLINE_MS = 240_000;
const LOWEST_NODE = '22.12.0';
const deadline = AbortSignal.timeout(DEADLINE_MS);
const repo = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(os.tmpdir(), 'ringwire-package-'));
const app = path.join(work, 'app');
const problems: string[] = [];
const check = (ok: boolean, what: string, detail = '') => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${!ok && detail ? `: ${detail}` : ''}`);
  if (!ok) problems.push(what);
};

// npm, npx and tsc run on the Node that runs this script (the pinned one under npm run).
const env = { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH}` };
const execFileAsync = promisify(execFile);
async function run(cmd: string, args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync(cmd, args, { cwd, env, signal: deadline, encoding: 'utf8', maxBuffer: 64 << 20 });
}

/** One line to 127.0.0.1:port and what comes back until `want.length` bytes arrived. */
function roundTrip(port: number, send: string, want: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.setEncoding('utf8');
    socket.setTimeout(5000, () => socket.destroy(new Error(`no reply from port ${port} after 5 s: "${got}"`)));
    socket.on('data', (d: string) => {
      got += d;
      if (got.length >= want) socket.end(() => resolve(got));
    });
    socket.on('error', reject);
    socket.write(send);
  });
}

// 1. Pack (prepack builds) and look inside.
const manifestBefore = readFileSync(path.join(repo, 'package.json'), 'utf8');
const { stdout: packed } = await run('npm', ['pack', '--silent', '--pack-destination', work], repo);
const tarball = path.join(work, packed.trim().split('\n').at(-1)!);
const { stdout: listing } = await run('tar', ['-tzf', tarball], work);
for (const file of ['dist/cli.js', 'dist/index.js', 'dist/worker.js', 'dist/types/index.d.ts', 'dist/types/worker.d.ts', 'build/core.wasm', 'bench/epoll-echo.c']) {
  check(listing.includes(`package/${file}\n`), `the tarball holds ${file}`);
}
const { stdout: packedJson } = await run('tar', ['-xzOf', tarball, 'package/package.json'], work);
const scripts = Object.keys((JSON.parse(packedJson) as { scripts?: object }).scripts ?? {});
const installScripts = scripts.filter(s => ['preinstall', 'install', 'postinstall', 'prepare'].includes(s));
check(installScripts.length === 0, 'the packed package.json has no install script', installScripts.join(', '));
check(readFileSync(path.join(repo, 'package.json'), 'utf8') === manifestBefore, 'the repository\'s package.json is as it was before npm pack');

// 2. A new app that depends on the tarball.
const dev = (JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies;
mkdirSync(app);
writeFileSync(path.join(app, 'package.json'), JSON.stringify({
  name: 'ringwire-consumer', version: '1.0.0', private: true,
  dependencies: { ringwire: `file:${tarball}` },
  devDependencies: { typescript: dev.typescript, '@types/node': dev['@types/node'] },
}, null, 2));
const install = await run('npm', ['install', '--no-audit', '--no-fund'], app);
const warnings = `${install.stdout}${install.stderr}`.split('\n').filter(l => /install-scripts|EBADENGINE/.test(l));
check(warnings.length === 0, 'npm install of the tarball warns about no install script or engine', warnings.join(' | '));

// 3. npx ringwire serve: the listening line, an echo, a drain on SIGTERM (at most 35 s).
{
  const npx = spawn('npx', ['ringwire', 'serve', '--port', '0', '--host', '127.0.0.1'], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  npx.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  npx.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const exited = once(npx, 'exit');
  const line = await new Promise<string>(resolve => {
    const timer = setTimeout(() => resolve(''), 20_000);
    npx.stdout.on('data', () => { if (out.includes('\n')) { clearTimeout(timer); resolve(out.split('\n')[0]!); } });
    void exited.then(() => { clearTimeout(timer); resolve(''); });
  });
  // npx runs the bin under `sh -c`, and neither passes SIGTERM on: signal the server itself, by its PID.
  const server = leafOf(npx.pid!);
  try {
    check(/^ringwire listening on 127\.0\.0\.1:\d+ core=wasm framing=raw /.test(line), 'npx ringwire serve --port 0 prints its listening line', line || out + err);
    if (line) {
      const reply = await roundTrip(Number(/:(\d+) /.exec(line)![1]), 'ringwire\n', 9).catch((e: unknown) => String(e));
      check(reply === 'ringwire\n', 'it echoes on that port', reply);
    }
    if (server !== undefined) process.kill(server, 'SIGTERM');
    const [code] = await Promise.race([exited, new Promise(r => setTimeout(r, 10_000, ['still running']))]) as [unknown];
    check(code === 0 && /SIGTERM: draining/.test(err), 'on SIGTERM to the server it drains, and npx exits 0', `PID ${server}, exit ${String(code)}: ${err}`);
  } finally {
    if (server !== undefined && isRunning(server)) process.kill(server, 'SIGKILL');
    if (npx.exitCode === null && npx.signalCode === null) npx.kill('SIGKILL');
  }
}

// 4. The library from ESM and from CommonJS, on this Node and the lowest supported.
const body = `
  const server = createServer({
    framing: 'line',
    onFrame(frame, connection) { connection.send(Buffer.from(Buffer.from(frame).toString().toUpperCase())); },
  });
  const { port } = await server.listen(0, '127.0.0.1');
  const reply = await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.setEncoding('utf8');
    socket.on('data', d => { got += d; if (got.endsWith('\\n')) socket.end(() => resolve(got)); });
    socket.on('error', reject);
    socket.write('hello\\n');
  });
  await server.close();
  console.log(JSON.stringify({ reply, worker: typeof serveInWorker }));`;
writeFileSync(path.join(app, 'esm.mjs'), `import { createServer } from 'ringwire';
import { serveInWorker } from 'ringwire/worker';
import { connect } from 'node:net';
${body}\n`);
writeFileSync(path.join(app, 'cjs.cjs'), `const { createServer } = require('ringwire');
const { serveInWorker } = require('ringwire/worker');
const { connect } = require('node:net');
(async () => {${body}
})();\n`);
const lowest = path.join(repo, 'node_modules/.cache/node-matrix', LOWEST_NODE); // shared with scripts/node-matrix.sh
if (!existsSync(path.join(lowest, 'node_modules/.bin/node'))) {
  await run('npm', ['install', '--no-save', '--no-package-lock', '--prefix', lowest, `node@${LOWEST_NODE}`], repo);
}
for (const node of [process.execPath, path.join(lowest, 'node_modules/.bin/node')]) {
  const version = (await run(node, ['--version'], app)).stdout.trim();
  for (const file of ['esm.mjs', 'cjs.cjs']) {
    const r = await run(node, [file], app).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? String(e) }));
    // Node 22.12 loads ES modules with require() but warns the first time; 22.13 and later do not.
    const stderr = r.stderr.replace(/^\(node:\d+\) ExperimentalWarning: CommonJS module .* is loading ES Module .* using require\(\)\.\n.*\n\(Use `node --trace-warnings.*\n/, '');
    check(r.stdout.trim() === '{"reply":"HELLO\\n","worker":"function"}' && stderr === '',
      `${file === 'esm.mjs' ? 'import' : 'require'}('ringwire') serves a frame on Node ${version}`, `${r.stdout.trim()} ${stderr}`);
  }
}

// 5. A TypeScript consumer, checked with the app's own tsc and its defaults.
writeFileSync(path.join(app, 'consumer.mts'), `import { createServer } from 'ringwire';
import { serveInWorker } from 'ringwire/worker';

const server = createServer({
  framing: 'length:4:be',
  onFrame(frame, connection) {
    const queued: boolean = connection.send(frame);
    if (!queued) console.log('tx ring full: the reply waits, reading pauses');
  },
});
server.on('clientError', (err, c) => console.warn(c.remoteAddress, err.code satisfies string));
const { port } = await server.listen(0, '127.0.0.1');
console.log(port, server.stats().total.connections, typeof serveInWorker);
await server.close();
`);
writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({
  compilerOptions: { module: 'nodenext', target: 'es2023', strict: true, noEmit: true },
  files: ['consumer.mts'],
}, null, 2));
const tsc = await run('npx', ['tsc', '--noEmit', '-p', '.'], app).then(() => '', (e: { stdout?: string }) => e.stdout ?? String(e));
check(tsc === '', 'tsc --noEmit passes for a consumer with default types', `\n${tsc}`);

if (problems.length) {
  console.error(`check-package: ${problems.length} problem(s); the app is kept in ${app}`);
  process.exit(1);
}
rmSync(work, { recursive: true, force: true });
console.log('check-package: the packed tarball installs, serves, imports, requires and type-checks');

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The deepest process under pid (through `sh -c`, to the node that runs the bin). */
function leafOf(pid: number): number | undefined {
  const children = (p: number) => {
    try {
      return readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  let at = pid;
  for (let next = children(at); next.length; next = children(at)) at = next[0]!;
  return at === pid ? undefined : at;
}
