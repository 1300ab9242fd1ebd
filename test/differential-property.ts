// The differential property, shared by test/differential.test.ts (a fixed budget
// in every `npm test`) and scripts/fuzz.ts (as many runs as you ask for).
//
// A case is a framing and its limits, a list of segments (valid frames, frames one
// byte to eight over the limit, invalid length prefixes, garbage), the read
// splits, the drain pace and, in handler mode, which listings an "async handler"
// holds across the next read. Each case is checked three ways:
//   1. the generator against the oracle: when every segment up to the first
//      deliberate error is predictable, test/oracle.ts must decode the stream to
//      exactly the segments' payloads and that error, at that segment's start;
//   2. each core against the oracle: the same frames (handler mode) or the exact
//      wire bytes of those frames (echo), the same error at the same position,
//      and stats that count them;
//   3. the cores against each other: identical outcomes, stats, and memory images.
// Rings come from the pool (assembly/pool.ts): they start at 16 to 64 bytes and
// grow up to 16 to 512 bytes, shrink between reads when the case says so (an empty
// rx ring goes back entirely, and the next read takes the smallest one again:
// takeRx; with `squeeze`, other connections take the rest of the pool as soon as
// it does, so that first read finds none: R_NO_MEMORY), and
// share a pool that is sometimes as small as one connection's largest rings, with
// up to three other connections holding rings of it: then a ring the slot needs
// may not come (R_NO_MEMORY), and what was decoded before must still be right.
// After the stream every slot is closed: the pool must be whole again.
// In echo mode a case may be a relay: the slot forwards into a partner slot's tx
// ring (Core.forwardTo), which cuts frames through: the partner must receive what
// test/oracle.ts's relayForwards() says, with the same errors and stats.
// Rings are small (16 to 512 bytes) and frames up to 300 bytes long, so frames
// and delimiters straddle the rx ring's end and the SIMD scan's 16- and 64-byte
// blocks; delimiters of 1 to 4 bytes (sometimes 16) drawn from bytes that are
// common in payloads make partial matches the usual case.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { resolveConfig, type CoreOptions, type Framing } from '../src/core/config.ts';
import { fanoutRecordSize, putFanoutRecord, type Core, type CoreKind } from '../src/core/core.ts';
import { createCore } from '../src/core/create.ts';
import { LAYOUT_BASE, S_POOL_BYTES, SEND_DELIMITER, SEND_FULL, SEND_OK, SEND_TOO_LARGE } from '../src/core/layout.ts';
import { feed, lengthFrame, varintFrame } from './harness.ts';
import { BAD_LENGTH, FRAME_TOO_LARGE, decodeStream, relayForwards, sendsAsOneFrame, type Expected } from './oracle.ts';

const pow2 = (min: number) => fc.integer({ min: Math.ceil(Math.log2(min)), max: 9 }).map(e => 2 ** e);
const DELIM_BYTES = [10, 13, 0, 1];
const PAYLOAD_BYTES = [0, 1, 2, 10, 13, 0x80, 0xff];

const framingArb: fc.Arbitrary<Framing> = fc.oneof(
  fc.constant<Framing>({ kind: 'raw' }),
  fc.record({
    size: fc.constantFrom(1, 2, 3, 4, 8) as fc.Arbitrary<1 | 2 | 3 | 4 | 8>,
    endian: fc.constantFrom('be', 'le') as fc.Arbitrary<'be' | 'le'>,
    offset: fc.integer({ min: 0, max: 3 }),
    adjust: fc.integer({ min: -6, max: 3 }),
    stripPick: fc.nat(20),
  }).map(({ stripPick, ...f }) => ({ kind: 'length' as const, ...f, strip: stripPick % (f.offset + f.size + 2) })),
  fc.constant<Framing>({ kind: 'varint' }),
  fc.record({
    delimiter: fc.oneof(
      { weight: 9, arbitrary: fc.array(fc.constantFrom(...DELIM_BYTES), { minLength: 1, maxLength: 4 }) },
      { weight: 1, arbitrary: fc.array(fc.constantFrom(...DELIM_BYTES), { minLength: 16, maxLength: 16 }) },
    ).map(a => Uint8Array.from(a)),
    stripCR: fc.boolean(),
  }).map(f => ({ kind: 'delimiter' as const, ...f })),
  fc.integer({ min: 1, max: 24 }).map(size => ({ kind: 'fixed' as const, size })),
);

const segmentArb = fc.record({
  kind: fc.oneof(
    { weight: 16, arbitrary: fc.constant('frame' as const) },
    { weight: 1, arbitrary: fc.constant('oversize' as const) },
    { weight: 1, arbitrary: fc.constant('bad' as const) },
    { weight: 1, arbitrary: fc.constant('garbage' as const) },
  ),
  // Payload bytes, cycled to the chosen length.
  bytes: fc.array(fc.constantFrom(...PAYLOAD_BYTES), { maxLength: 48 }),
  // The payload length: exactly the limit, one under, or anything up to it.
  length: fc.oneof(fc.constant('max' as const), fc.constant('max-1' as const), fc.nat(400)),
  // Varint: extra continuation bytes in the prefix (up to the 10-byte maximum).
  pad: fc.nat(9),
  // Length framing: the bytes before the length field.
  prefix: fc.uint8Array({ minLength: 3, maxLength: 3 }),
});

export const caseArb = fc.record({
  framing: framingArb,
  maxFrame: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 40 }) }, { weight: 1, arbitrary: fc.integer({ min: 100, max: 300 }) }),
  rxPow: pow2(16),
  txPow: pow2(16),
  handler: fc.boolean(),
  // Echo mode: forward into a partner slot (a relay) instead of the slot's own tx ring.
  relay: fc.boolean(),
  frameCap: fc.integer({ min: 1, max: 4 }),
  segments: fc.array(segmentArb, { maxLength: 24 }),
  cuts: fc.array(fc.nat(4000), { maxLength: 12 }),
  releaseStep: fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }),
  lazyRelease: fc.boolean(),
  defer: fc.array(fc.boolean(), { maxLength: 4 }),
  // The pool: the smallest ring (2^minPow, at most the largest rings), its size (undefined:
  // the default, never short for one slot; else one connection's largest rings plus
  // `memory` - 1 of the largest segments), other connections that hold rings of it, and shrinks.
  minPow: fc.integer({ min: 4, max: 6 }),
  memory: fc.option(fc.integer({ min: 1, max: 2 }), { nil: undefined }),
  hogs: fc.array(fc.nat(3), { maxLength: 3 }),
  shrink: fc.array(fc.boolean(), { maxLength: 4 }),
  // With a small pool (`memory`): once a shrink gave the rx ring back, new connections take what is left of the pool.
  squeeze: fc.boolean(),
});

export type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;
type Segment = Case['segments'][number];

/** One segment on the wire, and what it must decode to when that is known from how it was made. */
interface Encoded {
  wire: Buffer;
  /** A valid frame's payload; an error the segment must raise at its start; or unknown (garbage). */
  is: { payload: Buffer } | { error: number } | 'unknown';
}

function payloadOf(s: Segment, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = s.bytes.length ? s.bytes[i % s.bytes.length]! : 0;
  return b;
}

function varintPadded(payload: Buffer, pad: number): Buffer {
  const minimal = varintFrame(payload);
  const head = minimal.length - payload.length;
  const extra = Math.min(pad, 10 - head);
  if (extra === 0) return minimal;
  // Set the continuation bit on the last prefix byte and append zero-valued groups.
  const prefix = Buffer.from(minimal.subarray(0, head));
  prefix[head - 1]! |= 0x80;
  const fill = Buffer.alloc(extra, 0x80);
  fill[extra - 1] = 0x00;
  return Buffer.concat([prefix, fill, payload]);
}

function encodeSegment(f: Framing, maxFrame: number, s: Segment): Encoded {
  const limit = s.length === 'max' ? maxFrame : s.length === 'max-1' ? Math.max(0, maxFrame - 1) : s.length % (maxFrame + 1);
  const garbage = (): Encoded => ({ wire: payloadOf(s, limit), is: 'unknown' });
  if (s.kind === 'garbage') return garbage();
  const over = s.kind === 'oversize';
  const length = over ? maxFrame + 1 + (typeof s.length === 'number' ? s.length % 8 : 0) : limit;
  switch (f.kind) {
    case 'length': {
      const { size = 4, offset = 0, adjust = 0, endian = 'be' } = f;
      const strip = f.strip ?? offset + size;
      const prefix = Buffer.from(s.prefix.subarray(0, offset));
      const head = offset + size;
      if (s.kind === 'bad') {
        // A field that adjusts below zero, else an empty frame shorter than the bytes to strip.
        if (adjust < 0) return { wire: lengthFrame(Buffer.alloc(0), { size, endian, prefix, adjust: adjust + 1 }), is: { error: BAD_LENGTH } };
        if (adjust === 0 && strip > head) return { wire: lengthFrame(Buffer.alloc(0), { size, endian, prefix }), is: { error: BAD_LENGTH } };
        return garbage();
      }
      const body = payloadOf(s, length);
      const value = length - adjust;
      if (value < 0 || value >= 2 ** (8 * size)) return garbage();
      const wire = lengthFrame(body, { size, endian, prefix, adjust });
      if (over) return { wire, is: { error: FRAME_TOO_LARGE } };
      return strip > wire.length ? { wire, is: { error: BAD_LENGTH } } : { wire, is: { payload: wire.subarray(strip) } };
    }
    case 'varint': {
      if (s.kind === 'bad') return { wire: Buffer.alloc(10, 0x80), is: { error: BAD_LENGTH } };
      const payload = payloadOf(s, length);
      return { wire: varintPadded(payload, s.pad), is: over ? { error: FRAME_TOO_LARGE } : { payload } };
    }
    case 'delimiter': {
      const d = Buffer.from(f.delimiter as Uint8Array);
      const payload = payloadOf(s, length);
      // Too long: a payload that cannot hold the delimiter's first byte, so nothing ends it early.
      if (over) for (let i = 0; i < payload.length; i++) if (payload[i] === d[0]) payload[i] = 2;
      const wire = Buffer.concat([payload, d]);
      if (over) return { wire, is: { error: FRAME_TOO_LARGE } };
      // A payload holding the delimiter (or the start of one that its end completes) is several frames.
      if (wire.indexOf(d) !== payload.length) return { wire, is: 'unknown' };
      const cr = f.stripCR && payload.length > 0 && payload[payload.length - 1] === 13;
      return { wire, is: { payload: payload.subarray(0, cr ? -1 : payload.length) } };
    }
    case 'fixed': {
      const payload = payloadOf(s, f.size);
      return { wire: payload, is: { payload } };
    }
    default:
      return { wire: payloadOf(s, limit), is: 'unknown' };
  }
}

/** What the segments say the stream decodes to, as far as they say it (undefined: garbage first). */
function predict(segments: Encoded[]): Expected | undefined {
  const frames: Buffer[] = [];
  let at = 0;
  for (const s of segments) {
    if (s.is === 'unknown') return undefined;
    if ('error' in s.is) return { frames, stopAt: at, error: s.is.error };
    frames.push(s.is.payload);
    at += s.wire.length;
  }
  return { frames, stopAt: at, error: 0 };
}

export interface CaseRun {
  stream: Buffer;
  expected: Expected;
  /** The segments predicted the result (check 1 ran). */
  predicted: boolean;
  /** A ring of the slot grew past the smallest. */
  grew: boolean;
  /** Bytes shrink() gave back to the pool. */
  shrunk: number;
  /** Reads that took the rx ring again after a shrink gave it back (takeRx). */
  retaken: number;
  /** The pool could not supply a ring the slot needed. */
  noMemory: boolean;
  /** ...at a read after idling: takeRx found no ring (the slot still has none). */
  noMemoryAtRead: boolean;
  /** A relay that forwarded part of an incomplete frame (cut-through). */
  cut: boolean;
}

/** Each kind's core from the last case: the next case's core reuses its memory (createCore's reuse). */
const spare: Partial<Record<CoreKind, Core>> = {};

/** Check one case; throws (node:assert) on any disagreement. */
export async function checkCase(c: Case): Promise<CaseRun> {
  const relay = c.relay && !c.handler;
  let options: CoreOptions = { framing: c.framing, maxFrame: c.maxFrame, mode: c.handler ? 'handler' : 'echo', frameListCapacity: c.frameCap };
  // Grow the rings to what the limits need, keeping the random choice when it fits.
  const fit = Math.max(16, 2 ** Math.ceil(Math.log2(Math.max(resolveConfig(options).maxWire, 1))));
  const rxRing = Math.max(c.rxPow, fit), txRing = Math.max(c.txPow, fit);
  options = { ...options, maxConnections: 1 + (relay ? 1 : 0) + c.hogs.length, rxRing, txRing, minRing: Math.min(2 ** c.minPow, rxRing, txRing) };
  /** Slots the squeeze may open: as many as the pool has smallest rx rings. */
  let extra = 0;
  if (c.memory !== undefined) {
    const { maxSegment } = resolveConfig(options);
    const one = Math.ceil(((c.handler ? 2 : 1) * rxRing + txRing) / maxSegment) * maxSegment;
    options = { ...options, maxMemory: one + (c.memory - 1) * maxSegment };
    if (c.squeeze) {
      extra = options.maxMemory! / ((c.handler ? 2 : 1) * options.minRing!);
      options = { ...options, maxConnections: options.maxConnections! + extra };
    }
  }
  const segments = c.segments.map(s => encodeSegment(c.framing, c.maxFrame, s));
  const stream = Buffer.concat(segments.map(s => s.wire));
  const cuts = [...new Set(c.cuts.map(x => x % (stream.length + 1)))].sort((a, b) => a - b);
  const chunks = [...cuts, stream.length].map((end, i, all) => stream.subarray(i ? all[i - 1] : 0, end));

  // 1. The oracle against the generator.
  const expected = decodeStream(c.framing, c.maxFrame, stream);
  const prediction = c.framing.kind === 'raw' ? undefined : predict(segments);
  if (prediction) assert.deepEqual(expected, prediction, 'the oracle disagrees with the segments it was given');
  const forwards = relayForwards(c.framing, c.maxFrame, stream);

  // 2. Each core against the oracle.
  const results = [];
  for (const kind of ['wasm', 'js'] as CoreKind[]) {
    const core = (spare[kind] = await createCore(kind, options, spare[kind]));
    const where = `${kind} core`;
    const slot = core.open();
    assert.ok(slot >= 0, `${where}: the pool holds one connection's largest rings`);
    const partner = relay ? core.open() : slot;
    assert.ok(partner >= 0, `${where}: the pool holds the relay partner's smallest ring`);
    // Other connections: each holds the smallest rx ring and a tx ring a few times the smallest, if the pool has them.
    const hogs = c.hogs.map(n => {
      const hog = core.open();
      if (hog >= 0 && n > 0) {
        // A reply held in the tx ring, which then grows (growTx moves it) for one as large.
        const reply = Buffer.alloc(Math.max(0, Math.min(n * options.minRing! - 10, txRing / 2 - 10)), 0x41);
        core.send(hog, reply);
        core.growTx(hog, reply.length);
      }
      return hog;
    });
    const squeezed: number[] = [];
    const squeeze = () => {
      for (let s = core.open(); s >= 0; s = core.open()) squeezed.push(s); // until the pool (or the slots) run out
    };
    const before = core.stats.snapshot(); // the other connections' sends counted frames and bytes out
    const outcome = feed(core, slot, chunks, { releaseStep: c.releaseStep, lazyRelease: c.lazyRelease, defer: c.defer, shrink: c.shrink, to: partner, afterShrink: extra > 0 ? squeeze : undefined });
    const noMemoryAtRead = outcome.noMemory && core.rxSize(slot) === 0;
    const stats = core.stats.snapshot();
    const framesOut = stats.framesOut - before.framesOut, bytesOut = stats.bytesOut - before.bytesOut;
    const grew = core.rxSize(slot) > options.minRing! || core.txSize(partner) > options.minRing!;
    const open = [slot, ...(relay ? [partner] : []), ...hogs.filter(h => h >= 0), ...squeezed];
    const ringBytes = open.reduce((sum, s) => sum + (c.handler ? 2 : 1) * core.rxSize(s) + core.txSize(s), 0);
    assert.equal(core.stats.get(S_POOL_BYTES), ringBytes, `${where}: the pool counts the rings the slots hold`);
    if (outcome.noMemory) {
      // The pool ran short: what came before must still be right, and nothing wrong after it.
      assert.equal(outcome.error, 0, `${where}: no error with R_NO_MEMORY`);
      // Alone in a default pool (at least twice its largest rings: a ring grows into a new segment before it gives back the old one), a slot never runs short.
      assert.ok(c.memory !== undefined || c.hogs.length > 0, `${where}: R_NO_MEMORY from a pool that holds the slot's largest rings twice`);
      const n = outcome.frames.length;
      if (c.handler && c.framing.kind !== 'raw') assert.deepEqual(outcome.frames, expected.frames.slice(0, n), `${where}: frames before the pool ran short`);
      if (!c.handler) assert.deepEqual(outcome.out, stream.subarray(0, outcome.out.length), `${where}: echoed bytes before the pool ran short`);
      assert.ok(outcome.stopAt <= expected.stopAt, `${where}: stopped before the oracle did`);
    } else {
      assert.equal(outcome.error, expected.error, `${where}: error number`);
      assert.equal(outcome.stopAt, expected.stopAt, `${where}: where decoding stopped`);
      const frames = expected.frames.length;
      if (c.handler) {
        if (c.framing.kind === 'raw') assert.deepEqual(Buffer.concat(outcome.frames), stream, `${where}: raw frames`);
        else assert.deepEqual(outcome.frames, expected.frames, `${where}: frames`);
        assert.equal(outcome.out.length, 0, `${where}: handler mode sends nothing by itself`);
      } else if (relay) {
        const n = outcome.out.length;
        assert.ok(n >= forwards.least && n <= forwards.most, `${where}: forwarded ${n} bytes, not ${forwards.least} to ${forwards.most}`);
        assert.deepEqual(outcome.out, stream.subarray(0, n), `${where}: forwarded bytes`);
      } else {
        assert.deepEqual(outcome.out, stream.subarray(0, expected.stopAt), `${where}: echoed bytes`);
      }
      if (c.framing.kind !== 'raw') assert.equal(stats.framesIn, frames, `${where}: framesIn`);
      assert.equal(framesOut, c.handler ? 0 : stats.framesIn, `${where}: framesOut`);
      assert.equal(bytesOut, c.handler ? 0 : relay ? outcome.out.length : expected.stopAt, `${where}: bytesOut`);
      assert.equal(stats.errors, expected.error ? 1 : 0, `${where}: errors`);
      assert.deepEqual(Object.values(stats.errorsByCode), expected.error ? [1] : [], `${where}: errors by code`);
    }
    assert.equal(stats.bytesIn, outcome.delivered, `${where}: bytesIn`);
    // Every ring back: the pool is whole again, every segment merged with its buddy.
    for (const s of open) core.close(s);
    assert.equal(core.stats.get(S_POOL_BYTES), 0, `${where}: the pool is empty once every slot is closed`);
    const r = core.config.regions;
    const heads = new Uint32Array(core.memory, r.pool, 32);
    const top = Math.log2(core.config.maxSegment);
    for (let k = 0; k < top; k++) assert.equal(heads[k], 0, `${where}: a free segment of 2^${k} bytes was not merged back`);
    const image = Buffer.from(new Uint8Array(core.memory, LAYOUT_BASE, r.total - LAYOUT_BASE));
    results.push({ outcome, stats, image, grew, noMemoryAtRead });
  }

  // 3. The cores against each other.
  const [w, j] = results;
  assert.deepEqual(w!.outcome, j!.outcome, 'the cores\' outcomes differ');
  assert.deepEqual(w!.stats, j!.stats, 'the cores\' stats differ');
  assert.ok(w!.image.equals(j!.image), 'the cores\' memory images differ');
  const cut = w!.outcome.cuts > 0;
  return {
    stream, expected, predicted: prediction !== undefined, grew: w!.grew, shrunk: w!.outcome.shrunk, retaken: w!.outcome.retaken,
    noMemory: w!.outcome.noMemory, noMemoryAtRead: w!.noMemoryAtRead, cut,
  };
}

// ---- send() on delimiter framings: a payload the peer would not read back as one frame is refused ----
//
// A case is a delimiter framing, a tx ring, a filler already in it (so the payload's
// place in the ring wraps), and one payload: random bytes from the delimiter's and
// other common bytes, or a clean run (no byte equal to the delimiter's first) with the
// delimiter, or a part of it, placed near the 1024-byte pieces check() copies a payload
// through. The payload is sent from outside the core's memory or from inside it (a
// view of an rx ring, as a forwarded frame), and check()ed. Both cores must agree with
// test/oracle.ts (sendsAsOneFrame) and with each other.

export const sendCaseArb = fc.record({
  delimiter: fc.oneof(
    { weight: 9, arbitrary: fc.array(fc.constantFrom(...DELIM_BYTES), { minLength: 1, maxLength: 4 }) },
    { weight: 1, arbitrary: fc.array(fc.constantFrom(...DELIM_BYTES), { minLength: 16, maxLength: 16 }) },
  ).map(a => Uint8Array.from(a)),
  stripCR: fc.boolean(),
  txPow: pow2(16).map(n => n * 8), // 128 … 4096: some payloads fit, some stream (larger than the ring)
  filler: fc.nat(4096),
  shape: fc.oneof(
    fc.record({ kind: fc.constant('random' as const), bytes: fc.array(fc.constantFrom(...DELIM_BYTES, ...PAYLOAD_BYTES), { maxLength: 64 }) }),
    fc.record({
      kind: fc.constant('placed' as const),
      // Where the delimiter (or its first `part` bytes) goes: around a piece boundary, or anywhere.
      at: fc.oneof(fc.integer({ min: 1000, max: 1030 }), fc.integer({ min: 2030, max: 2060 }), fc.nat(3000)),
      part: fc.nat(16),
    }),
  ),
  length: fc.oneof(fc.nat(300), fc.integer({ min: 1000, max: 3100 })),
  inMemory: fc.boolean(),
});

export type SendCase = typeof sendCaseArb extends fc.Arbitrary<infer T> ? T : never;

function sendPayload(c: SendCase): Buffer {
  const d = c.delimiter;
  if (c.shape.kind === 'random') {
    const bytes = c.shape.bytes.length ? c.shape.bytes : [0];
    return Buffer.from(Array.from({ length: c.length }, (_, i) => bytes[i % bytes.length]!));
  }
  // Clean: no byte equal to the delimiter's first, so no delimiter starts anywhere but where it is placed.
  const clean = [...new Set([...DELIM_BYTES, ...PAYLOAD_BYTES, 0x41])].filter(b => b !== d[0]);
  const payload = Buffer.from(Array.from({ length: c.length }, (_, i) => clean[i % clean.length]!));
  const part = d.subarray(0, 1 + (c.shape.part % d.length));
  if (c.shape.at + part.length <= payload.length) payload.set(part, c.shape.at);
  return payload;
}

/** Each kind's core from the last send case, reused as checkCase does. */
const spareSend: Partial<Record<CoreKind, Core>> = {};

/** Check one send case; throws (node:assert) on any disagreement. */
export async function checkSendCase(c: SendCase): Promise<{ refused: boolean }> {
  const framing: Framing & { kind: 'delimiter' } = { kind: 'delimiter', delimiter: c.delimiter, stripCR: c.stripCR };
  const payload = sendPayload(c);
  const frame = Buffer.concat([payload, Buffer.from(c.delimiter)]);
  const ok = sendsAsOneFrame(framing, payload);
  const txSize = c.txPow;
  const filler = c.filler % (txSize - c.delimiter.length); // sent, not released: the payload starts mid-ring
  const free = txSize - (filler > 0 ? filler + c.delimiter.length : 0);
  const expected = !ok ? SEND_DELIMITER : frame.length > txSize ? SEND_TOO_LARGE : frame.length > free ? SEND_FULL : SEND_OK;
  const results = [];
  for (const kind of ['wasm', 'js'] as CoreKind[]) {
    // maxFrame bounds only what the core decodes, and the tx ring must hold one: sends are not bound by it.
    // The tx ring is at its largest from the first send (minRing), as expected above.
    const core: Core = (spareSend[kind] = await createCore(kind, { framing, mode: 'handler', maxConnections: 2, maxFrame: txSize - 16, rxRing: 4096, txRing: txSize, minRing: txSize }, spareSend[kind]));
    const slot = core.open();
    const where = `${kind} core`;
    if (filler > 0) assert.equal(core.send(slot, Buffer.alloc(filler, 0x41)), SEND_OK, `${where}: filler`); // never a delimiter byte
    let view: Uint8Array = payload;
    if (c.inMemory) {
      // Bytes in the core's memory, as a frame a handler forwards is: the end of the pool's arena, which no ring reaches here.
      view = new Uint8Array(core.memory, core.config.regions.total - payload.length, payload.length);
      view.set(payload);
    }
    assert.equal(core.check(view), ok ? (frame.length > txSize ? SEND_TOO_LARGE : SEND_OK) : SEND_DELIMITER, `${where}: check()`);
    const before = core.txPending(slot);
    assert.equal(core.send(slot, view), expected, `${where}: send()`);
    const added: Buffer[] = [];
    for (let got = before; got < core.txPending(slot);) {
      const chunk = core.txChunk(slot, got);
      added.push(Buffer.from(chunk));
      got += chunk.length;
    }
    assert.ok(Buffer.concat(added).equals(expected === SEND_OK ? frame : Buffer.alloc(0)), `${where}: what went into the ring`);
    results.push(core.stats.snapshot());
  }
  assert.deepEqual(results[0], results[1], 'the cores\' stats differ');
  return { refused: !ok };
}

// ---- fan-out: a batch of payloads encoded once into many tx rings ----
//
// A case is a framing, a tx ring, a batch of payloads (some the framing cannot
// carry, some larger than the ring), and subscribers whose rings already hold
// replies not yet released (so the batch lands mid-ring and wraps), some closed,
// in a pool that is sometimes too small for every ring to grow. Checked:
//   1. against the spec: the records fanout() says it encoded are exactly those
//      before the first that check() refuses (or none, the pool being short); what
//      each subscriber's ring gained is its first `took` frames as docs/framing.md
//      encodes them (encodeFrame), nothing more, and the next one would not have fit;
//      encodeFanout() gives those frames' bytes for the whole batch, or null when
//      check() refuses any of its records;
//   2. the cores against each other: the same answers, stats and memory image, and
//      the pool whole again once the stage is given back and every slot closed.

export const fanoutCaseArb = fc.record({
  framing: framingArb,
  txPow: pow2(16),
  minPow: fc.integer({ min: 4, max: 6 }),
  payloads: fc.array(fc.record({
    bytes: fc.array(fc.constantFrom(...PAYLOAD_BYTES, ...DELIM_BYTES), { maxLength: 8 }),
    // 'fit': the fixed framing's size (others: up to 8 bytes); now and then one too large for a small ring
    length: fc.oneof({ weight: 2, arbitrary: fc.constant('fit' as const) }, { weight: 4, arbitrary: fc.nat(24) }, { weight: 1, arbitrary: fc.nat(90) }),
  }), { minLength: 1, maxLength: 8 }),
  subscribers: fc.array(fc.record({
    filler: fc.nat(600),
    released: fc.nat(600),
    closed: fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  }), { minLength: 1, maxLength: 6 }),
  // The pool: undefined, the default; else one connection's largest rings and memory - 1 of the largest segments.
  memory: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
  unstage: fc.boolean(),
});

export type FanoutCase = typeof fanoutCaseArb extends fc.Arbitrary<infer T> ? T : never;

/**
 * A payload as one frame on the wire (docs/framing.md), for a framing that can carry
 * it: length framing's bytes before `strip` are zero but for the length field,
 * written over them (with strip below the field's end, over the payload's first bytes).
 */
function encodeFrame(f: Framing, payload: Buffer): Buffer {
  switch (f.kind) {
    case 'length': {
      const offset = f.offset ?? 0, size = f.size ?? 4, strip = f.strip ?? offset + size;
      const wire = Buffer.concat([Buffer.alloc(strip), payload]);
      let value = BigInt(wire.length - offset - size - (f.adjust ?? 0));
      for (let i = 0; i < size; i++, value >>= 8n) wire[(f.endian ?? 'be') === 'be' ? offset + size - 1 - i : offset + i] = Number(value & 0xffn);
      return wire;
    }
    case 'varint': return varintFrame(payload);
    case 'delimiter': return Buffer.concat([payload, Buffer.from(f.delimiter as Uint8Array)]);
    default: return payload;
  }
}

/** Each kind's core from the last fan-out case, reused as checkCase does. */
const spareFanout: Partial<Record<CoreKind, Core>> = {};

/** Check one fan-out case; throws (node:assert) on any disagreement. */
export async function checkFanoutCase(c: FanoutCase): Promise<{ encoded: number; partial: number }> {
  const maxFrame = 100;
  const payloads = c.payloads.map(p => {
    const len = p.length === 'fit' ? (c.framing.kind === 'fixed' ? c.framing.size : p.bytes.length) : p.length;
    return Buffer.from(Array.from({ length: len }, (_, i) => (p.bytes.length ? p.bytes[i % p.bytes.length]! : 0x41)));
  });
  const records = Buffer.alloc(payloads.reduce((n, p) => n + fanoutRecordSize(p.length), 0));
  let len = 0;
  for (const p of payloads) len = putFanoutRecord(records, len, p);
  let options: CoreOptions = { framing: c.framing, maxFrame, mode: 'handler', maxConnections: c.subscribers.length };
  const fit = Math.max(16, 2 ** Math.ceil(Math.log2(Math.max(resolveConfig(options).maxWire, 1))));
  const txRing = Math.max(c.txPow, fit);
  options = { ...options, rxRing: fit, txRing, minRing: Math.min(2 ** c.minPow, fit, txRing) };
  // One connection's largest rings, and memory - 1 more of the largest segments; by default room for every ring, the stage and the encoding.
  const { maxSegment } = resolveConfig(options);
  const pool = c.memory === undefined ? 4 * c.subscribers.length + 4 : Math.ceil((2 * fit + txRing) / maxSegment) + c.memory - 1;
  options = { ...options, maxMemory: pool * maxSegment };
  const results = [];
  let partial = 0;
  for (const kind of ['wasm', 'js'] as CoreKind[]) {
    const core = (spareFanout[kind] = await createCore(kind, options, spareFanout[kind]));
    const where = `${kind} core`;
    const slots: number[] = [];
    const closed: boolean[] = [];
    for (const s of c.subscribers) {
      const slot = core.open();
      if (slot < 0) continue; // the pool has no rx ring for it
      // Replies already in its ring, part of them released: the batch starts mid-ring.
      const filler = Buffer.alloc(c.framing.kind === 'fixed' ? c.framing.size : s.filler % (txRing / 2), 0x41);
      for (let k = 0; k < 64 && core.txPending(slot) < s.filler && core.send(slot, filler) === SEND_OK; k++);
      core.release(slot, Math.min(s.released, core.txPending(slot)));
      slots.push(slot);
      closed.push(s.closed);
    }
    // Closed after every open, so that no slot is listed twice.
    slots.forEach((slot, i) => closed[i] && core.close(slot));
    const before = slots.map((slot, i) => (closed[i] ? 0 : core.txPending(slot)));
    const list = Uint32Array.from(slots);
    const stats0 = core.stats.snapshot();
    const wire = core.encodeFanout(records, len);
    const carriesAll = payloads.every(p => core.check(p) === SEND_OK);
    assert.ok(carriesAll ? wire !== null && Buffer.from(wire).equals(Buffer.concat(payloads.map(p => encodeFrame(c.framing, p)))) : wire === null,
      `${where}: encodeFanout() gives every frame's bytes, or null when check() refuses one (${carriesAll ? 'all' : 'not all'} can be)`);
    const encoded = core.fanout(records, len, list, slots.length);
    const stats1 = core.stats.snapshot();
    // 1. Against the oracle.
    // Encoded: the records before the first check() refuses, while they fit the largest segment encoded; none when the batch does not fit one staged.
    let carried = 0;
    for (let wire = 0; carried < payloads.length && core.check(payloads[carried]!) === SEND_OK; carried++) {
      wire += encodeFrame(c.framing, payloads[carried]!).length;
      if (wire > maxSegment) break;
    }
    if (4 * slots.length + len > maxSegment) carried = 0;
    assert.ok(encoded === carried || (encoded === 0 && c.memory !== undefined), `${where}: encoded ${encoded} of ${payloads.length} records, ${carried} can be`);
    let frames = 0, bytes = 0;
    slots.forEach((slot, i) => {
      const took = list[i]!;
      assert.ok(took <= encoded, `${where}: subscriber ${i} took ${took} of ${encoded}`);
      if (closed[i]) return assert.equal(took, 0, `${where}: a closed slot took nothing`);
      const added: Buffer[] = [];
      for (let got = before[i]!; got < core.txPending(slot);) {
        const chunk = core.txChunk(slot, got);
        added.push(Buffer.from(chunk));
        got += chunk.length;
      }
      const gained = Buffer.concat(added);
      assert.ok(gained.equals(Buffer.concat(payloads.slice(0, took).map(p => encodeFrame(c.framing, p)))), `${where}: subscriber ${i}'s bytes are its first ${took} frames`);
      if (took < encoded) {
        partial++;
        assert.ok(core.txPending(slot) + encodeFrame(c.framing, payloads[took]!).length > core.txSize(slot), `${where}: subscriber ${i} took ${took} of ${encoded} with room for the next`);
      }
      frames += took;
      bytes += gained.length;
    });
    assert.equal(stats1.framesOut - stats0.framesOut, frames, `${where}: framesOut`);
    assert.equal(stats1.bytesOut - stats0.bytesOut, bytes, `${where}: bytesOut`);
    const answers = { encoded, took: [...list], pending: slots.map(s => core.txPending(s)), sizes: slots.map(s => core.txSize(s)) };
    if (c.unstage) core.unstage();
    const image = Buffer.from(new Uint8Array(core.memory, LAYOUT_BASE, core.config.regions.total - LAYOUT_BASE));
    core.unstage();
    slots.forEach((slot, i) => closed[i] || core.close(slot));
    assert.equal(core.stats.get(S_POOL_BYTES), 0, `${where}: the pool is empty once the stage is given back and every slot closed`);
    results.push({ answers, stats: core.stats.snapshot(), image });
  }
  // 2. The cores against each other.
  const [w, j] = results;
  assert.deepEqual(w!.answers, j!.answers, 'the cores\' answers differ');
  assert.deepEqual(w!.stats, j!.stats, 'the cores\' stats differ');
  assert.ok(w!.image.equals(j!.image), 'the cores\' memory images differ');
  return { encoded: w!.answers.encoded, partial };
}
