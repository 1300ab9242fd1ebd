// The WebSocket differential property, shared by test/websocket.test.ts (a fixed
// budget in every `npm test`) and scripts/fuzz.ts (as many runs as you ask for).
//
// A case is a side (server: the peer masks; client: it must not), limits, a list
// of messages (text or binary, whole or in fragments, with pings, pongs and closes
// between the fragments, text cut inside its characters) and stray frames (bad
// reserved bits, opcodes, masks, lengths written in 16 or 64 bits, close codes,
// invalid UTF-8), the read splits and which listings an "async handler" holds
// across the next read, and after which reads the rings are given back as an idle
// sweep does (shrink()). Rings start at 16 to 64 bytes and grow, so frames wrap
// the ring's end, listed entries go to its pad, and fragments and the control
// frames between them are moved while other entries are listed. Each case is
// checked three ways: each core against test/websocket-oracle.ts (the entries,
// their kinds and bytes, the error and its rule), the stats they count, and the
// cores against each other (outcomes, stats, memory images). Then both cores send
// frames of random kinds and lengths on the same slot: identical tx bytes, which the
// oracle decodes (as the peer) back to what was sent.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { CoreOptions } from '../src/core/config.ts';
import type { Core, CoreBase, CoreKind } from '../src/core/core.ts';
import { createCore } from '../src/core/create.ts';
import { LAYOUT_BASE, SEND_BAD_LENGTH, SEND_FULL, SEND_OK, WS_BINARY, WS_CLOSE, WS_PING, WS_PONG, WS_TEXT } from '../src/core/layout.ts';
import { wsFeed } from './websocket-driver.ts';
import { wsDecode, wsFrame, type WsFrameSpec } from './websocket-oracle.ts';

/** Text that stresses the decoder: ASCII, 2-, 3- and 4-byte characters. */
const TEXT = ['a', 'hello ', 'é', '€', '𝄞', 'ü', '\u0000', '\uffff'];
/** Bytes that are rarely UTF-8 where they stand. */
const BAD = [0x80, 0xbf, 0xc0, 0xc1, 0xe0, 0xed, 0xf0, 0xf4, 0xf5, 0xff];

const textArb = fc.array(fc.constantFrom(...TEXT), { maxLength: 30 }).map(a => Buffer.from(a.join('')));
const binaryArb = fc.uint8Array({ maxLength: 200 }).map(a => Buffer.from(a));
/** Text with a bad byte somewhere in it. */
const badTextArb = fc.tuple(textArb, fc.constantFrom(...BAD), fc.nat()).map(([t, b, at]) => Buffer.concat([t.subarray(0, at % (t.length + 1)), Buffer.of(b), t.subarray(at % (t.length + 1))]));
const payloadArb = fc.oneof({ weight: 6, arbitrary: textArb }, { weight: 3, arbitrary: binaryArb }, { weight: 1, arbitrary: badTextArb });
/** A close frame's payload: nothing, a code and a reason (sometimes a code no one may send, or a bad reason), or one byte. */
const closeArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom(1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1014, 3000, 4999), textArb).map(([c, t]) => Buffer.concat([Buffer.of(c >> 8, c & 0xff), t.subarray(0, 100)])) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535), textArb).map(([c, t]) => Buffer.concat([Buffer.of(c >> 8, c & 0xff), t.subarray(0, 100)])) },
  { weight: 1, arbitrary: badTextArb.map(t => Buffer.concat([Buffer.of(0x03, 0xe8), t.subarray(0, 100)])) },
  { weight: 1, arbitrary: fc.constant(Buffer.of(0x03)) },
);
const widthArb = fc.constantFrom<7 | 16 | 64 | undefined>(undefined, undefined, undefined, 16, 64);
const keyArb = fc.uint8Array({ minLength: 4, maxLength: 4 });

const controlArb = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constantFrom(WS_PING, WS_PONG), payload: fc.uint8Array({ maxLength: 125 }), width: widthArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant(WS_CLOSE), payload: closeArb, width: widthArb }) },
);

/** A message: its kind, its bytes cut into fragments (cut points), and control frames after some fragments. */
const messageArb = fc.record({
  kind: fc.constant('message' as const),
  text: fc.oneof({ weight: 9, arbitrary: textArb }, { weight: 1, arbitrary: badTextArb }),
  binary: binaryArb,
  op: fc.constantFrom(WS_TEXT, WS_BINARY),
  cuts: fc.array(fc.nat(), { maxLength: 4 }),
  controls: fc.array(fc.option(controlArb, { nil: undefined }), { maxLength: 4 }),
  width: widthArb,
});

/** A frame that breaks a rule, or one that is fine where a message is not expected. */
const strayArb = fc.record({
  kind: fc.constant('stray' as const),
  op: fc.integer({ min: 0, max: 15 }),
  fin: fc.boolean(),
  rsv: fc.constantFrom(0, 0, 0, 0x40, 0x20, 0x10),
  payload: fc.oneof(payloadArb, fc.uint8Array({ minLength: 120, maxLength: 130 }).map(a => Buffer.from(a))),
  width: widthArb,
  /** Declare the 64-bit length with its top bit set. */
  top: fc.boolean(),
  wrongMask: fc.boolean(),
});

export const wsCaseArb = fc.record({
  client: fc.boolean(),
  maxFrame: fc.oneof({ weight: 1, arbitrary: fc.integer({ min: 1, max: 200 }) }, { weight: 4, arbitrary: fc.integer({ min: 200, max: 1500 }) }),
  /** log2 of the smallest and the largest rx ring (the largest at least fits maxFrame's frame). */
  minPow: fc.integer({ min: 4, max: 6 }),
  rxPow: fc.integer({ min: 8, max: 11 }),
  frameCap: fc.integer({ min: 1, max: 5 }),
  parts: fc.array(fc.oneof({ weight: 16, arbitrary: messageArb }, { weight: 1, arbitrary: strayArb }, { weight: 1, arbitrary: controlArb.map(c => ({ kind: 'control' as const, ...c })) }), { maxLength: 8 }),
  key: keyArb,
  cuts: fc.array(fc.nat(), { maxLength: 12 }),
  defer: fc.array(fc.boolean(), { maxLength: 4 }),
  /** Which reads the idle sweep follows with shrink() (cycling). */
  shrink: fc.array(fc.boolean(), { maxLength: 3 }),
  sends: fc.array(fc.record({ op: fc.constantFrom(WS_TEXT, WS_BINARY, WS_PING, WS_PONG, WS_CLOSE, 3), payload: fc.uint8Array({ maxLength: 300 }), key: fc.nat() }), { maxLength: 4 }),
});
export type WsCase = typeof wsCaseArb extends fc.Arbitrary<infer T> ? T : never;

function encode(c: WsCase): Buffer {
  const key = c.client ? null : c.key;
  const frames: Buffer[] = [];
  for (const p of c.parts) {
    if (p.kind === 'control') {
      frames.push(wsFrame({ op: p.op, payload: p.payload, key, width: p.width }));
    } else if (p.kind === 'stray') {
      const spec: WsFrameSpec = { op: p.op, fin: p.fin, rsv: p.rsv, payload: p.payload, width: p.top ? 64 : p.width, key: p.wrongMask ? (c.client ? c.key : null) : key };
      if (p.top) spec.declared = (1n << 63n) | BigInt(p.payload.length);
      frames.push(wsFrame(spec));
    } else {
      const payload = p.op === WS_TEXT ? p.text : p.binary;
      const at = [...new Set(p.cuts.map(x => x % (payload.length + 1)))].sort((a, b) => a - b);
      const pieces = [...at, payload.length].map((end, i, all) => payload.subarray(i ? all[i - 1] : 0, end));
      pieces.forEach((piece, i) => {
        frames.push(wsFrame({ op: i === 0 ? p.op : 0, fin: i === pieces.length - 1, payload: piece, key, width: p.width }));
        const ctl = p.controls[i];
        if (ctl && i < pieces.length - 1) frames.push(wsFrame({ op: ctl.op, payload: ctl.payload, key, width: ctl.width }));
      });
    }
  }
  return Buffer.concat(frames);
}

const spare: Partial<Record<CoreKind, Core>> = {};

export interface WsRun {
  /** Reads that took an rx ring again after shrink() gave it back. */
  retaken: number;
  error: number;
  items: number;
  /** A control frame came between the fragments of a message (listed before it: the core rotated them). */
  between: boolean;
}

export async function checkWsCase(c: WsCase): Promise<WsRun> {
  const maxWire = Math.max(c.maxFrame, 125) + 14;
  const rxRing = Math.max(2 ** c.rxPow, 2 ** Math.ceil(Math.log2(maxWire)));
  const options: CoreOptions = { framing: 'websocket', mode: 'handler', maxFrame: c.maxFrame, maxConnections: 1, rxRing, txRing: Math.max(rxRing, 1024), minRing: 2 ** c.minPow, frameListCapacity: c.frameCap };
  const stream = encode(c);
  const cuts = [...new Set(c.cuts.map(x => x % (stream.length + 1)))].sort((a, b) => a - b);
  const chunks = [...cuts, stream.length].map((end, i, all) => stream.subarray(i ? all[i - 1] : 0, end));
  const expected = wsDecode(stream, { maxFrame: c.maxFrame, rxSize: rxRing, client: c.client });
  const results = [];
  for (const kind of ['wasm', 'js'] as CoreKind[]) {
    const core = (spare[kind] = await createCore(kind, options, spare[kind]));
    const where = `${kind} core`;
    const slot = core.open();
    if (c.client) core.websocketClient(slot);
    const got = wsFeed(core, slot, chunks, c.defer, c.shrink);
    assert.equal(got.noMemory, false, `${where}: ran out of rings`);
    assert.deepEqual(got.items, expected.items, `${where}: entries`);
    assert.equal(got.error, expected.error, `${where}: error`);
    assert.equal(got.rule, expected.rule, `${where}: rule`);
    const stats = core.stats.snapshot();
    assert.equal(stats.framesIn, expected.items.length, `${where}: framesIn`);
    assert.equal(stats.errors, expected.error ? 1 : 0, `${where}: errors`);
    // Sends on a fresh slot: each frame whole, masked with the key given on a client slot.
    const tx = core.open();
    if (c.client) core.websocketClient(tx);
    let k = 0;
    (core as CoreBase).maskKey = () => c.sends[k]?.key ?? 0;
    const sent: { op: number; payload: Buffer }[] = [];
    const out: Buffer[] = [];
    const drain = () => {
      while (core.txPending(tx) > 0) {
        const chunk = core.txChunk(tx, 0);
        out.push(Buffer.from(chunk));
        core.release(tx, chunk.length);
      }
    };
    for (; k < c.sends.length; k++) {
      const s = c.sends[k]!;
      let r = core.send(tx, s.payload, s.op);
      if (r === SEND_FULL) {
        drain();
        r = core.send(tx, s.payload, s.op);
      }
      const bad = s.op === 3 || (s.op >= 8 && s.payload.length > 125);
      assert.equal(r, bad ? SEND_BAD_LENGTH : SEND_OK, `${where}: send of ${s.payload.length} bytes, opcode ${s.op}`);
      if (r === SEND_OK) sent.push({ op: s.op, payload: Buffer.from(s.payload) });
    }
    drain();
    const wire = Buffer.concat(out);
    // The peer's view: a server's frames read by a client, and the other way round (payloads unchecked: text sent need not be UTF-8).
    const back = wsDecode(wire, { maxFrame: 1 << 20, rxSize: 1 << 20, client: !c.client });
    const closeAt = sent.findIndex(f => f.op === WS_CLOSE);
    const upTo = closeAt < 0 ? sent : sent.slice(0, closeAt + 1);
    if (back.error === 0) assert.deepEqual(back.items.map(i => ({ op: i.kind, payload: i.payload })), upTo, `${where}: what it sent`);
    core.close(tx);
    core.close(slot);
    const r = core.config.regions;
    results.push({ got, stats: core.stats.snapshot(), wire, image: Buffer.from(new Uint8Array(core.memory, LAYOUT_BASE, r.total - LAYOUT_BASE)) });
  }
  const [w, j] = results;
  assert.deepEqual(w!.got, j!.got, 'the cores\' outcomes differ');
  assert.deepEqual(w!.stats, j!.stats, 'the cores\' stats differ');
  assert.ok(w!.wire.equals(j!.wire), 'the cores sent different bytes');
  assert.ok(w!.image.equals(j!.image), 'the cores\' memory images differ');
  const between = c.parts.some(p => p.kind === 'message' && p.controls.some((ctl, i) => ctl && i < new Set(p.cuts.map(x => x % ((p.op === WS_TEXT ? p.text : p.binary).length + 1))).size));
  return { error: expected.error, items: expected.items.length, between: between && expected.items.length > 1, retaken: w!.got.retaken };
}
