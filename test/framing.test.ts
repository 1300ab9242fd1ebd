// Framing edge cases, one per test, on both cores. Echo mode must give back the
// exact bytes of every whole frame; handler mode must list exactly the payloads.
import { describe, expect, it } from 'vitest';
import { CORES, bytes, coreWith, feed, lengthFrame, run, splitAt, varintFrame } from './harness.ts';
import { decodeStream, relayForwards } from './oracle.ts';
import { E_BAD_LENGTH, E_FRAME_TOO_LARGE, RELAY_RING } from '../src/core/layout.ts';
import { parseFraming, type CoreOptions } from '../src/core/config.ts';
import { R_BLOCKED } from '../src/core/core.ts';
import { createCore } from '../src/core/create.ts';
import type { Core } from '../src/core/core.ts';

const handler = (o: CoreOptions): CoreOptions => ({ ...o, mode: 'handler' });

/** Read bytes in as the spans the rx ring offers (it starts small and grows): the last received() result. */
function deliver(core: Core, slot: number, bytes: Uint8Array): number {
  let status = 0;
  for (let at = 0; at < bytes.length;) {
    const span = core.readSpan(slot);
    const n = Math.min(span.length, bytes.length - at);
    span.set(bytes.subarray(at, at + n));
    at += n;
    status = core.received(slot, n);
  }
  return status;
}

describe.each(CORES)('%s core framing', kind => {
  describe('length', () => {
    const opts: CoreOptions = { framing: 'length:4:be', maxFrame: 64, rxRing: 128, txRing: 128 };
    const stream = Buffer.concat([lengthFrame(bytes('hello')), lengthFrame(bytes('')), lengthFrame(bytes('world!'))]);

    it('answers several frames given in one read', async () => {
      expect((await run(kind, opts, [stream])).out).toEqual(stream);
      expect((await run(kind, handler(opts), [stream])).frames.map(String)).toEqual(['hello', '', 'world!']);
    });

    it('gives the same result for every split point of a frame', async () => {
      for (let cut = 0; cut <= stream.length; cut++) {
        expect((await run(kind, opts, splitAt(stream, cut))).out).toEqual(stream);
        expect((await run(kind, handler(opts), splitAt(stream, cut))).frames.map(String)).toEqual(['hello', '', 'world!']);
      }
    });

    it('takes a stream delivered one byte at a time', async () => {
      const singles = [...stream].map(b => Uint8Array.of(b));
      expect((await run(kind, opts, singles)).out).toEqual(stream);
    });

    it('accepts zero-length frames', async () => {
      const zeros = Buffer.concat([lengthFrame(bytes('')), lengthFrame(bytes(''))]);
      expect((await run(kind, handler(opts), [zeros])).frames).toEqual([Buffer.alloc(0), Buffer.alloc(0)]);
    });

    it('accepts a frame of exactly the maximum length', async () => {
      const max = lengthFrame(Buffer.alloc(64, 7));
      const r = await run(kind, opts, [max]);
      expect(r.error).toBe(0);
      expect(r.out).toEqual(max);
    });

    it('rejects a frame one byte over the maximum, after answering the frames before it', async () => {
      const good = lengthFrame(bytes('ok'));
      const r = await run(kind, opts, [Buffer.concat([good, lengthFrame(Buffer.alloc(65, 7))])]);
      expect(r.error).toBe(E_FRAME_TOO_LARGE);
      expect(r.out).toEqual(good);
    });

    it('rejects an oversize frame from its header, before its body arrives', async () => {
      const r = await run(kind, opts, [lengthFrame(Buffer.alloc(1000)).subarray(0, 4)]);
      expect(r.error).toBe(E_FRAME_TOO_LARGE);
    });

    for (const size of [1, 2, 3, 4, 8] as const) {
      for (const endian of ['be', 'le'] as const) {
        it(`reads a ${size}-byte ${endian} length field`, async () => {
          const o: CoreOptions = { framing: `length:${size}:${endian}`, maxFrame: 300, rxRing: 1024, txRing: 1024 };
          const payload = Buffer.alloc(size === 1 ? 200 : 258, 3);
          const wire = Buffer.concat([lengthFrame(payload, { size, endian }), lengthFrame(bytes('x'), { size, endian })]);
          expect((await run(kind, o, [wire])).out).toEqual(wire);
          expect((await run(kind, handler(o), [wire])).frames).toEqual([payload, bytes('x')]);
        });
      }
    }

    it('treats a 2^40 value in an 8-byte field as too large, not as a small number', async () => {
      const wire = Buffer.from([0, 0, 1, 0, 0, 0, 0, 5, 1, 2, 3, 4, 5]);
      expect((await run(kind, { framing: 'length:8', maxFrame: 64, rxRing: 128, txRing: 128 }, [wire])).error).toBe(E_FRAME_TOO_LARGE);
    });

    it('applies the length adjustment (a field that counts itself)', async () => {
      const o: CoreOptions = { framing: 'length:2:be:adjust=-2', maxFrame: 64, rxRing: 128, txRing: 128 };
      const wire = lengthFrame(bytes('abc'), { size: 2, adjust: -2 });
      expect(wire.readUInt16BE(0)).toBe(5);
      expect((await run(kind, handler(o), [wire])).frames.map(String)).toEqual(['abc']);
      expect((await run(kind, o, [wire])).out).toEqual(wire);
    });

    it('rejects a length that adjusts below zero', async () => {
      const o: CoreOptions = { framing: 'length:2:be:adjust=-2', maxFrame: 64, rxRing: 128, txRing: 128 };
      expect((await run(kind, o, [Buffer.from([0, 1, 9])])).error).toBe(E_BAD_LENGTH);
    });

    it('strips the configured bytes and keeps the header when strip=0', async () => {
      const prefix = Buffer.from([0xca, 0xfe]);
      const wire = lengthFrame(bytes('body'), { size: 2, prefix });
      const keep = await run(kind, handler({ framing: 'length:2:offset=2:strip=0', maxFrame: 64, rxRing: 128, txRing: 128 }), [wire]);
      expect(keep.frames).toEqual([wire]);
      const some = await run(kind, handler({ framing: 'length:2:offset=2:strip=2', maxFrame: 64, rxRing: 128, txRing: 128 }), [wire]);
      expect(some.frames).toEqual([wire.subarray(2)]);
      const dflt = await run(kind, handler({ framing: 'length:2:offset=2', maxFrame: 64, rxRing: 128, txRing: 128 }), [wire]);
      expect(dflt.frames.map(String)).toEqual(['body']);
    });

    it('rejects a frame shorter than the bytes to strip', async () => {
      const o: CoreOptions = { framing: 'length:1:strip=4', maxFrame: 64, rxRing: 128, txRing: 128 };
      expect((await run(kind, o, [Buffer.from([1, 9])])).error).toBe(E_BAD_LENGTH);
      expect((await run(kind, handler(o), [Buffer.from([3, 9, 8, 7])])).frames).toEqual([Buffer.alloc(0)]);
    });

    it('hands a frame that wraps the rx ring to the handler whole', async () => {
      const o: CoreOptions = handler({ framing: 'length:1', maxFrame: 30, rxRing: 32, txRing: 32 });
      const core = await coreWith(kind, o);
      const slot = core.open();
      const a = lengthFrame(Buffer.alloc(20, 1), { size: 1 });
      const b = lengthFrame(bytes('0123456789abcdefghij'), { size: 1 });
      // First frame leaves the rx head at 21; keep 1 byte back so the ring does not reset.
      const first = feed(core, slot, [Buffer.concat([a, b.subarray(0, 1)])]);
      const second = feed(core, slot, [b.subarray(1)]);
      expect(first.frames).toEqual([Buffer.alloc(20, 1)]);
      expect(second.frames.map(String)).toEqual(['0123456789abcdefghij']);
    });
  });

  describe('varint', () => {
    const opts: CoreOptions = { framing: 'varint', maxFrame: 300, rxRing: 1024, txRing: 1024 };

    it('reads one- and two-byte prefixes at every split point', async () => {
      const stream = Buffer.concat([varintFrame(bytes('hi')), varintFrame(Buffer.alloc(200, 5)), varintFrame(bytes(''))]);
      for (let cut = 0; cut <= stream.length; cut += 7) {
        expect((await run(kind, opts, splitAt(stream, cut))).out).toEqual(stream);
      }
      expect((await run(kind, handler(opts), [stream])).frames.map(f => f.length)).toEqual([2, 200, 0]);
    });

    it('accepts exactly the maximum and rejects one byte more', async () => {
      expect((await run(kind, opts, [varintFrame(Buffer.alloc(300))])).error).toBe(0);
      expect((await run(kind, opts, [varintFrame(Buffer.alloc(301))])).error).toBe(E_FRAME_TOO_LARGE);
    });

    it('accepts a padded prefix and rejects ten continuation bytes', async () => {
      expect((await run(kind, handler(opts), [Buffer.from([0x83, 0x80, 0x00, 1, 2, 3])])).frames).toEqual([Buffer.from([1, 2, 3])]);
      expect((await run(kind, opts, [Buffer.alloc(10, 0x80)])).error).toBe(E_BAD_LENGTH);
      expect((await run(kind, opts, [Buffer.alloc(9, 0x80)])).error).toBe(0);
    });
  });

  describe('delimiter', () => {
    it('splits lines and keeps the delimiter in the echo', async () => {
      const wire = bytes('one\ntwo\r\n\nthree\n');
      expect((await run(kind, { framing: 'line' }, [wire])).out).toEqual(wire);
      expect((await run(kind, handler({ framing: 'line' }), [wire])).frames.map(String)).toEqual(['one', 'two\r', '', 'three']);
      expect((await run(kind, handler({ framing: 'line:cr' }), [wire])).frames.map(String)).toEqual(['one', 'two', '', 'three']);
    });

    it('finds a multi-byte delimiter split across reads', async () => {
      const wire = bytes('GET a\r\n\r\nGET b\r\n\r\n');
      const o = handler({ framing: 'delimiter:\\r\\n\\r\\n' });
      for (let cut = 0; cut <= wire.length; cut++) {
        expect((await run(kind, o, splitAt(wire, cut))).frames.map(String)).toEqual(['GET a', 'GET b']);
      }
    });

    it('accepts a line of exactly the maximum length and rejects one byte more', async () => {
      const o: CoreOptions = { framing: 'line', maxFrame: 10, rxRing: 64, txRing: 64 };
      expect((await run(kind, o, [bytes('0123456789\n')])).error).toBe(0);
      const over = await run(kind, o, [bytes('ok\n0123456789A\n')]);
      expect(over.error).toBe(E_FRAME_TOO_LARGE);
      expect(String(over.out)).toBe('ok\n');
      // Known too long before the delimiter arrives.
      expect((await run(kind, o, [bytes('0123456789A')])).error).toBe(E_FRAME_TOO_LARGE);
      expect((await run(kind, o, [bytes('0123456789')])).error).toBe(0);
    });

    it('finds a delimiter that straddles the end of the rx ring', async () => {
      const o: CoreOptions = handler({ framing: 'delimiter:\\r\\n', maxFrame: 20, rxRing: 32, txRing: 32 });
      const core = await coreWith(kind, o);
      const slot = core.open();
      // 31 bytes: a 28-byte line, its CRLF, and one byte held back so the ring keeps its place.
      feed(core, slot, [bytes('abcdefghijklmnopqrs\r\n0123456789')]);
      const r = feed(core, slot, [bytes('\r\nz\r\n')]);
      expect(r.frames.map(String)).toEqual(['0123456789', 'z']);
    });

    // The scan compares 16 bytes at a time (64 while nothing matches) over the
    // runs of the ring before and after its end. For each delimiter, a line of
    // every length from 0 to 140 (so the delimiter falls in every lane of the
    // first nine 16-byte blocks) starts at offsets that put the delimiter across
    // the ring's end at each of its bytes, and at unaligned offsets; its payload
    // holds the delimiter's first byte wherever that cannot end the line early.
    it('finds delimiters in every SIMD lane and across the ring\'s end, 1 to 16 bytes long', async () => {
      const RING = 256;
      let spare: Core | undefined;
      for (const delimiter of ['\n', '\r\n', 'abc', '0123456789abcdef'].map(d => bytes(d))) {
        const d = delimiter.length;
        const framing = { kind: 'delimiter' as const, delimiter };
        for (const mode of ['echo', 'handler'] as const) {
          for (let length = 0; length <= 140; length++) {
            const line = Buffer.alloc(length, 'x');
            if (d > 1) for (let i = 3; i < length; i += 7) line[i] = delimiter[0]!;
            const ends = Array.from({ length: d + 1 }, (_, k) => RING - length - k).filter(o => o >= d + 1);
            for (const start of [d + 1, 37, 64 + 9, ...ends]) {
              // Filler lines (at most 128 bytes each) bring the line's start to `start`; the
              // line's first byte comes with them, so the ring does not go back to 0 first.
              const parts = Math.ceil(start / 128);
              const sizes = Array.from({ length: parts }, (_, i) => Math.floor((start + i) / parts));
              const fillers = sizes.map(n => Buffer.concat([Buffer.alloc(n - d, 'f'), delimiter]));
              const stream = Buffer.concat([...fillers, line, delimiter]);
              const core = (spare = await createCore(kind, { framing, mode, maxFrame: 200, rxRing: RING, txRing: RING, maxConnections: 1 }, spare));
              const r = feed(core, core.open(), splitAt(stream, start + 1));
              const want = decodeStream(framing, 200, stream);
              const at = `${JSON.stringify(String(delimiter))} ${mode} line ${length} from ${start}`;
              expect(want.frames.length, `${at}: the oracle sees every line`).toBe(sizes.length + 1);
              if (mode === 'echo') expect(r.out.equals(stream), at).toBe(true);
              else expect(r.frames, at).toEqual(want.frames);
            }
          }
        }
      }
    });
  });

  describe('fixed and raw', () => {
    it('cuts fixed-size frames at every split point', async () => {
      const wire = bytes('aaaabbbbcccc');
      for (let cut = 0; cut <= wire.length; cut++) {
        expect((await run(kind, handler({ framing: 'fixed:4' }), splitAt(wire, cut))).frames.map(String)).toEqual(['aaaa', 'bbbb', 'cccc']);
      }
    });

    it('echoes a raw stream through small rings exactly', async () => {
      const wire = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff));
      const r = await run(kind, { framing: 'raw', rxRing: 64, txRing: 16 }, splitAt(wire, 1, 100, 2000, 4999), { releaseStep: 5 });
      expect(r.out).toEqual(wire);
    });
  });

  describe('handler mode: frames live until consumed', () => {
    const o: CoreOptions = handler({ framing: 'length:1', maxFrame: 30, rxRing: 32, txRing: 32, maxConnections: 2 });
    /** Copy bytes into the slot's rx ring as a read would, and call received(). */
    const deliver = (core: Awaited<ReturnType<typeof coreWith>>, slot: number, b: Uint8Array) => {
      const span = core.readSpan(slot);
      expect(span.length).toBeGreaterThanOrEqual(b.length);
      span.set(b);
      return core.received(slot, b.length);
    };

    it('keeps a listed frame intact while later reads arrive, until it is consumed', async () => {
      const core = await coreWith(kind, o);
      const slot = core.open();
      deliver(core, slot, lengthFrame(bytes('first'), { size: 1 }));
      expect(core.frameCount()).toBe(1);
      const held = core.frame(0);
      const end = core.frameEnd(0);
      core.hold(slot, true);
      // While held, reads land after the frame and nothing is listed.
      deliver(core, slot, lengthFrame(bytes('XXXXX'), { size: 1 }));
      expect(core.frameCount()).toBe(0);
      expect(String(Buffer.from(held))).toBe('first');
      expect(core.rxBuffered(slot)).toBe(12);
      core.hold(slot, false);
      core.consume(slot, end);
      expect(core.process(slot)).toBe(0);
      expect(core.frameCount()).toBe(1);
      expect(String(Buffer.from(core.frame(0)))).toBe('XXXXX');
      core.consume(slot, core.frameEnd(0));
      expect(core.rxBuffered(slot)).toBe(0);
      // Everything consumed: the next read starts at the ring's start again.
      expect(core.readSpan(slot).length).toBe(32);
    });

    it('counts the whole frames read while held (bufferedFrames), not the listed ones nor an incomplete one, and changes nothing', async () => {
      const core = await coreWith(kind, o);
      const slot = core.open();
      deliver(core, slot, Buffer.concat([lengthFrame(bytes('one'), { size: 1 }), lengthFrame(bytes('two'), { size: 1 })]));
      expect(core.frameCount()).toBe(2);
      expect(core.bufferedFrames(slot)).toBe(0); // listed: the host's to count
      core.hold(slot, true);
      // Two whole frames and the first byte of a third.
      deliver(core, slot, Buffer.concat([lengthFrame(bytes('three'), { size: 1 }), lengthFrame(bytes('four'), { size: 1 }), Buffer.from([9])]));
      expect(core.bufferedFrames(slot)).toBe(2);
      core.consume(slot, core.frameEnd(1));
      deliver(core, slot, bytes('ninebyte'));
      expect(core.bufferedFrames(slot)).toBe(2); // the third is one byte short
      deliver(core, slot, bytes('s'));
      expect(core.bufferedFrames(slot)).toBe(3);
      core.hold(slot, false);
      expect(core.process(slot)).toBe(0);
      expect([0, 1, 2].map(i => String(Buffer.from(core.frame(i))))).toEqual(['three', 'four', 'ninebytes']);
      expect(core.bufferedFrames(slot)).toBe(0);
    });

    it('keeps a wrapped frame of one connection whole while another connection lists its own wrapped frame', async () => {
      const core = await coreWith(kind, o);
      const [s1, s2] = [core.open(), core.open()];
      const wrapped = new Map<number, Uint8Array>();
      for (const [slot, fill] of [[s1, 0x41], [s2, 0x61]] as const) {
        // A 20-byte frame, consumed, and the next frame's length byte at position 20:
        // its 20-byte payload runs from 21 over the 32-byte ring's end.
        deliver(core, slot, Buffer.concat([lengthFrame(Buffer.alloc(19, 0), { size: 1 }), Buffer.from([20])]));
        core.consume(slot, core.frameEnd(0));
        const frame = Buffer.alloc(20, fill);
        deliver(core, slot, frame.subarray(0, 11));
        deliver(core, slot, frame.subarray(11));
        expect(core.frameCount()).toBe(1);
        wrapped.set(slot, core.frame(0));
      }
      expect(Buffer.from(wrapped.get(s1)!)).toEqual(Buffer.alloc(20, 0x41));
      expect(Buffer.from(wrapped.get(s2)!)).toEqual(Buffer.alloc(20, 0x61));
    });
  });

  describe('errors', () => {
    it('keeps the payload length an oversize length field declared, for the error message', async () => {
      for (const [framing, wire, size] of [
        ['length:2', lengthFrame(Buffer.alloc(101), { size: 2 }), 101],
        ['length:8', Buffer.from([0, 0, 0, 1, 0, 0, 0, 0]), 0xffffffff], // 2^32: clamped
        ['varint', Buffer.from([0xff, 0xff, 0x7f]), 0],                   // not known for a varint
      ] as const) {
        const core = await coreWith(kind, { framing, maxFrame: 100 });
        const slot = core.open();
        expect(feed(core, slot, [wire]).error, framing).toBe(E_FRAME_TOO_LARGE);
        expect(core.errorSize(slot), framing).toBe(size);
      }
    });
  });

  describe('forwarding (a relay: one slot\'s frames into another\'s tx ring)', () => {
    const o: CoreOptions = { framing: 'length:1', maxFrame: 20, rxRing: 64, txRing: 32, maxConnections: 2 };
    const drain = (core: Awaited<ReturnType<typeof coreWith>>, slot: number) => {
      const out: number[] = [];
      while (core.txPending(slot) > 0) {
        const c = core.txChunk(slot, 0);
        out.push(...c);
        core.release(slot, c.length);
      }
      return Buffer.from(out);
    };
    it('puts frames, exactly as they arrived, in the peer\'s tx ring (an incomplete one cut through), and blocks when it is full', async () => {
      const core = await coreWith(kind, o);
      const [a, b] = [core.open(), core.open()];
      core.forwardTo(a, b);
      const frames = Array.from({ length: 6 }, (_, i) => lengthFrame(Buffer.alloc(9, i), { size: 1 }));
      const wire = Buffer.concat(frames); // 60 bytes: the peer's 32-byte tx ring takes 3 frames at a time
      expect(deliver(core, a, wire)).toBe(R_BLOCKED);
      expect(core.txPending(a)).toBe(0);
      const out = [drain(core, b)];
      // The 32-byte rx ring's first read: three frames, and the fourth's first 2 bytes (its header
      // validated, cut through); then the tx ring is full.
      expect(out[0]!.length).toBe(32);
      expect(core.process(a)).toBe(0);
      out.push(drain(core, b));
      expect(Buffer.concat(out)).toEqual(wire);
      // Pointed back at itself: the echo again.
      core.forwardTo(a, a);
      core.readSpan(a).set(frames[0]!);
      core.received(a, frames[0]!.length);
      expect(drain(core, a)).toEqual(frames[0]);
      expect(core.txPending(b)).toBe(0);
    });
  });

  describe('cut-through (a relay forwards a frame\'s bytes as they arrive)', () => {
    const relay = async (o: CoreOptions) => {
      const core = await coreWith(kind, { maxConnections: 2, ...o });
      const [a, b] = [core.open(), core.open()];
      return { core, a, b };
    };
    /** The stream in reads of `step` bytes, forwarded from a to b: what b's tx ring got, and the rings' largest sizes. */
    const pass = (core: Core, a: number, b: number, wire: Uint8Array, step: number) => {
      const chunks = Array.from({ length: Math.ceil(wire.length / step) }, (_, i) => wire.subarray(i * step, (i + 1) * step));
      return feed(core, a, chunks, { to: b });
    };

    it('checks a length header against maxFrame, then forwards the frame as it arrives: the rings stay at RELAY_RING', async () => {
      const max = 1 << 20;
      const { core, a, b } = await relay({ framing: 'length:4', maxFrame: max });
      const frame = lengthFrame(Buffer.alloc(max, 7));
      core.forwardTo(a, b);
      // 100 bytes in: all of them go, 4 + max - 100 are still to come, none waits in the rx ring.
      core.readSpan(a).set(frame.subarray(0, 100));
      expect(core.received(a, 100)).toBe(0);
      expect([core.cutThrough(a), core.cutLeft(a), core.rxBuffered(a), core.txPending(b)]).toEqual([100, frame.length - 100, 0, 100]);
      const r = pass(core, a, b, frame.subarray(100), 9000);
      expect(r.error).toBe(0);
      expect(r.out.equals(frame)).toBe(true); // the first 100 bytes were still in b's tx ring
      expect([core.cutThrough(a), core.cutLeft(a)]).toEqual([0, 0]);
      expect(core.stats.snapshot().framesIn).toBe(1);
      expect(core.rxSize(a)).toBeLessThanOrEqual(RELAY_RING);
      expect(core.txSize(b)).toBeLessThanOrEqual(RELAY_RING);
      // One past the limit: refused from its header, not one byte of it forwarded.
      const over = lengthFrame(Buffer.alloc(max + 1, 8));
      const bad = pass(core, a, b, over, 9000);
      expect(bad.error).toBe(E_FRAME_TOO_LARGE);
      expect(bad.out.length).toBe(0);
    });

    it('delimiter: forwards what it scanned without finding the delimiter, counted toward maxFrame; one byte past: ERR_FRAME_TOO_LARGE', async () => {
      const max = 200_000;
      const { core, a, b } = await relay({ framing: 'delimiter:\r\n', maxFrame: max });
      const line = Buffer.concat([Buffer.alloc(max, 'x'), Buffer.from('\r\n')]);
      const r = pass(core, a, b, line, 7001);
      expect(r.error).toBe(0);
      expect(r.out.equals(line)).toBe(true);
      expect(core.rxSize(a)).toBeLessThanOrEqual(RELAY_RING);
      const long = Buffer.concat([Buffer.alloc(max + 1, 'y'), Buffer.from('\r\n')]);
      const bad = pass(core, a, b, long, 7001);
      expect(bad.error).toBe(E_FRAME_TOO_LARGE);
      // What went before the limit proved it too large: a prefix of the line, at most maxFrame bytes.
      expect(bad.out.length).toBeGreaterThan(0);
      expect(bad.out.length).toBeLessThanOrEqual(max);
      expect(bad.out.equals(long.subarray(0, bad.out.length))).toBe(true);
    });

    it('forwards exactly the bytes the oracle says, for every split of a stream into two reads and three', async () => {
      const words = ['hello', 'a\rb', '', 'world, and more'].map(t => Buffer.from(t));
      const streams = {
        'length:2': Buffer.concat(words.map(p => lengthFrame(p, { size: 2 }))),
        varint: Buffer.concat(words.map(p => varintFrame(p))),
        'delimiter:\r\n': Buffer.concat(words.map(p => Buffer.concat([p, Buffer.from('\r\n')]))),
        'fixed:5': Buffer.from('hello, and more bytes'),
      };
      for (const [framing, wire] of Object.entries(streams)) {
        const { core } = await relay({ framing, maxFrame: 30, rxRing: 64, txRing: 64 });
        for (let i = 0; i <= wire.length; i++) {
          for (let j = i; j <= wire.length; j++) {
            // A fresh pair of slots each time (the last pair's are closed, their rings back in the pool).
            core.close(0);
            core.close(1);
            const [a, b] = [core.open(), core.open()];
            const r = feed(core, a, [wire.subarray(0, i), wire.subarray(i, j)], { to: b });
            // After the first two reads: what the oracle lets a relay send of wire[0, j).
            expect(r.out.length, `${framing} split ${i}/${j}`).toBe(relayForwards(parseFraming(framing), 30, wire.subarray(0, j)).least);
            const rest = feed(core, a, [wire.subarray(j)], { to: b });
            expect(Buffer.concat([r.out, rest.out]).equals(wire), `${framing} split ${i}/${j}`).toBe(true);
          }
        }
      }
    });
  });

  describe('backpressure', () => {
    it('stops decoding when the tx ring is full and resumes in order once it drains', async () => {
      const o: CoreOptions = { framing: 'length:1', maxFrame: 20, rxRing: 64, txRing: 32 };
      const frames = Array.from({ length: 40 }, (_, i) => lengthFrame(Buffer.alloc(i % 20, i), { size: 1 }));
      const wire = Buffer.concat(frames);
      const r = await run(kind, o, splitAt(wire, 50, 120, 300), { lazyRelease: true, releaseStep: 3 });
      expect(r.blocked).toBeGreaterThan(0);
      expect(r.out).toEqual(wire);
    });

    it('counts the whole frames a full tx ring keeps from the echo (bufferedFrames); raw framing counts a run', async () => {
      for (const [framing, wire, whole] of [
        ['length:1', Buffer.concat([lengthFrame(Buffer.alloc(20, 1), { size: 1 }), lengthFrame(Buffer.alloc(20, 2), { size: 1 }), lengthFrame(Buffer.alloc(3, 3), { size: 1 }), Buffer.from([5, 0])]), 2],
        ['raw', Buffer.alloc(50, 7), 1],
      ] as const) {
        const core = await coreWith(kind, { framing, maxFrame: 20, rxRing: 64, txRing: 32 });
        const slot = core.open();
        expect(deliver(core, slot, wire), framing).toBe(R_BLOCKED);
        expect(core.bufferedFrames(slot), framing).toBe(whole);
        core.release(slot, core.txPending(slot));
        core.process(slot);
        expect(core.bufferedFrames(slot), framing).toBe(0); // echoed once the ring had room
      }
    });
  });
});
