// The WebSocket decoder of both cores, alone (no sockets): masked client frames fed
// into a slot's rx ring in 64 KiB reads, every message listed and consumed at once,
// as the host's handler path does. Per cell, the WASM core (SIMD unmasking and
// ASCII skipping) against the TypeScript twin (plain loops), contenders alternating
// round by round; the table gives medians and the ratio to the twin, the JSON every
// round:
//   node scripts/bench-websocket-core.ts [rounds 5] [MiB per round 16] [--out file.json]
// Cells: 64 B, 1 KiB and 16 KiB messages, binary and text (ASCII: the common case,
// and text of 2- and 3-byte characters), and 16 KiB messages in 16 fragments.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { createCore } from '../src/core/create.ts';
import type { Core, CoreKind } from '../src/core/core.ts';
import { R_MORE } from '../src/core/layout.ts';
import { wsFrame } from '../test/websocket-oracle.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: 'string' } } });
const ROUNDS = Number(positionals[0] ?? 5);
const MIB = Number(positionals[1] ?? 16);

interface Cell { name: string; size: number; op: number; fragments: number; fill: (n: number) => Buffer }
const ascii = (n: number) => Buffer.alloc(n, 'the quick brown fox jumps over the lazy dog ');
const accented = (n: number) => {
  const b = Buffer.alloc(n, 'héllo wörld €uro ');
  let end = n; // cut back to a whole character
  while (end > 0 && (b[end - 1]! & 0xc0) === 0x80) end--;
  if (end > 0 && b[end - 1]! >= 0xc0) end--;
  return b.subarray(0, end);
};
const binary = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 131) & 0xff));
const cells: Cell[] = [
  ...[64, 1024, 16384].flatMap(size => [
    { name: `binary ${size} B`, size, op: 2, fragments: 1, fill: binary },
    { name: `text ASCII ${size} B`, size, op: 1, fragments: 1, fill: ascii },
    { name: `text accented ${size} B`, size, op: 1, fragments: 1, fill: accented },
  ]),
  { name: 'binary 16 KiB in 16 fragments', size: 16384, op: 2, fragments: 16, fill: binary },
];

/** The stream of one cell: as many masked messages as make about MIB MiB. */
function streamOf(c: Cell): { wire: Buffer; messages: number; bytes: number } {
  const payload = c.fill(c.size);
  const per = payload.length / c.fragments;
  const one = Buffer.concat(Array.from({ length: c.fragments }, (_, i) => wsFrame({
    op: i === 0 ? c.op : 0, fin: i === c.fragments - 1, payload: payload.subarray(Math.round(i * per), Math.round((i + 1) * per)), key: Uint8Array.of(0x37, 0xfa, 0x21, 0x3d),
  })));
  const messages = Math.max(1, Math.floor((MIB * 2 ** 20) / one.length));
  return { wire: Buffer.concat(Array.from({ length: messages }, () => one)), messages, bytes: messages * payload.length };
}

/** Feed the stream through one slot: seconds taken (every message listed is checked by count). */
function feed(core: Core, wire: Buffer, messages: number): number {
  const slot = core.open();
  let listed = 0;
  const t0 = performance.now();
  for (let at = 0; at < wire.length;) {
    const span = core.readSpan(slot);
    const n = Math.min(span.length, wire.length - at);
    span.set(wire.subarray(at, at + n));
    at += n;
    let r = core.received(slot, n);
    for (;;) {
      const k = core.frameCount();
      if (k > 0) {
        listed += k;
        core.consume(slot, core.frameEnd(k - 1));
      }
      if (r < 0) throw new Error(`the core refused the stream: error ${-r}`);
      if (r !== R_MORE) break;
      r = core.process(slot);
    }
  }
  const s = (performance.now() - t0) / 1000;
  core.close(slot);
  if (listed !== messages) throw new Error(`listed ${listed} messages, not ${messages}`);
  return s;
}

const options = { framing: 'websocket', mode: 'handler' as const, maxFrame: 65536, maxConnections: 1 };
const cores: Record<CoreKind, Core> = { wasm: await createCore('wasm', options), js: await createCore('js', options) };
const results: { cell: string; core: CoreKind; round: number; seconds: number; messagesPerSecond: number; mibPerSecond: number }[] = [];
console.log(`websocket decode, both cores: ${ROUNDS} rounds of ~${MIB} MiB per cell, cores alternating; Node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, load ${os.loadavg()[0]!.toFixed(1)}`);
console.log('cell'.padEnd(32), 'wasm msg/s'.padStart(12), 'wasm MiB/s'.padStart(11), 'js msg/s'.padStart(12), 'js MiB/s'.padStart(10), 'wasm/js'.padStart(8));
for (const c of cells) {
  const { wire, messages, bytes } = streamOf(c);
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of (round % 2 ? ['js', 'wasm'] : ['wasm', 'js']) as CoreKind[]) {
      const s = feed(cores[kind], wire, messages);
      results.push({ cell: c.name, core: kind, round, seconds: s, messagesPerSecond: messages / s, mibPerSecond: bytes / 2 ** 20 / s });
    }
  }
  const med = (kind: CoreKind, f: 'messagesPerSecond' | 'mibPerSecond') => {
    const v = results.filter(r => r.cell === c.name && r.core === kind).map(r => r[f]).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)]!;
  };
  const fmt = (n: number) => Math.round(n).toLocaleString('en');
  console.log(c.name.padEnd(32), fmt(med('wasm', 'messagesPerSecond')).padStart(12), fmt(med('wasm', 'mibPerSecond')).padStart(11),
    fmt(med('js', 'messagesPerSecond')).padStart(12), fmt(med('js', 'mibPerSecond')).padStart(10), `${(med('wasm', 'mibPerSecond') / med('js', 'mibPerSecond')).toFixed(2)}x`.padStart(8));
}
if (values.out) writeFileSync(values.out, JSON.stringify({ node: process.version, rounds: ROUNDS, mib: MIB, results }, null, 2));
