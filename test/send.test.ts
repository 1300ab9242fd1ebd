// send(): each framing's encoder writes the oracle's bytes, and what it encodes
// decodes back to the same payload; payloads the framing cannot carry are refused.
import { describe, expect, it } from 'vitest';
import { CORES, bytes, coreWith, feed, lengthFrame, varintFrame } from './harness.ts';
import { SCRATCH_SIZE, SEND_BAD_LENGTH, SEND_DELIMITER, SEND_FULL, SEND_OK, SEND_TOO_LARGE } from '../src/core/layout.ts';
import type { Core } from '../src/core/core.ts';

function sent(core: Core, slot: number): Buffer {
  const out: Buffer[] = [];
  while (core.txPending(slot)) {
    const c = core.txChunk(slot, 0);
    out.push(Buffer.from(c));
    core.release(slot, c.length);
  }
  return Buffer.concat(out);
}

describe.each(CORES)('%s core send()', kind => {
  const cases: [string, Uint8Array, Buffer][] = [
    ['raw', bytes('abc'), bytes('abc')],
    ['length:4:be', bytes('hello'), lengthFrame(bytes('hello'))],
    ['length:2:le:adjust=-2', bytes('hi'), lengthFrame(bytes('hi'), { size: 2, endian: 'le', adjust: -2 })],
    ['length:3:be:offset=1', bytes('xyz'), lengthFrame(bytes('xyz'), { size: 3, offset: 1 })],
    ['length:8:be', bytes('q'), lengthFrame(bytes('q'), { size: 8 })],
    ['varint', Buffer.alloc(300, 1), varintFrame(Buffer.alloc(300, 1))],
    ['line', bytes('a line'), bytes('a line\n')],
    ['delimiter:\\r\\n', bytes('x'), bytes('x\r\n')],
    ['fixed:3', bytes('abc'), bytes('abc')],
  ];
  for (const [framing, payload, wire] of cases) {
    it(`encodes ${framing} as the spec says, and decodes it back`, async () => {
      const core = await coreWith(kind, { framing, mode: 'handler', maxFrame: 400 });
      const slot = core.open();
      expect(core.send(slot, payload)).toBe(SEND_OK);
      const out = sent(core, slot);
      expect(out).toEqual(wire);
      const back = await coreWith(kind, { framing, mode: 'handler', maxFrame: 400 });
      if (framing !== 'raw') expect(feed(back, back.open(), [out]).frames).toEqual([Buffer.from(payload)]);
    });
  }

  it('streams a reply larger than the tx ring: prefix, pieces as the ring drains, trailer', async () => {
    const payload = Buffer.alloc(1000, 7);
    const streamed: [string, Buffer][] = [
      ['length:4:be', lengthFrame(payload)],
      ['length:2:le:offset=1:adjust=-2', lengthFrame(payload, { size: 2, endian: 'le', offset: 1, adjust: -2 })],
      ['varint', varintFrame(payload)],
      ['delimiter:\\r\\n', Buffer.concat([payload, bytes('\r\n')])],
      ['raw', payload],
    ];
    const filler = Buffer.alloc(40, 9);
    for (const [framing, wire] of streamed) {
      const core = await coreWith(kind, { framing, mode: 'handler', maxFrame: 48, rxRing: 64, txRing: 64 });
      const slot = core.open();
      expect(core.check(payload), framing).toBe(SEND_TOO_LARGE);
      expect(core.send(slot, payload)).toBe(SEND_TOO_LARGE);
      expect(core.send(slot, filler)).toBe(SEND_OK); // in the ring, unsent: the stream starts mid-ring and wraps
      expect(core.beginFrame(slot, payload.length)).toBe(SEND_OK);
      const out: Buffer[] = [];
      for (let at = 0; at < payload.length;) {
        const n = core.putPiece(slot, payload.subarray(at));
        expect(n).toBeGreaterThan(0);
        at += n;
        out.push(sent(core, slot));
      }
      expect(core.endFrame(slot)).toBe(SEND_OK);
      out.push(sent(core, slot));
      const alone = await coreWith(kind, { framing, mode: 'handler', maxFrame: 48, txRing: 128 });
      const a = alone.open();
      alone.send(a, filler);
      expect(Buffer.concat(out).equals(Buffer.concat([sent(alone, a), wire])), framing).toBe(true);
    }
  });

  it('waits for room for a streamed frame\'s prefix and trailer', async () => {
    const line = await coreWith(kind, { framing: 'delimiter:\\r\\n', mode: 'handler', maxFrame: 8, rxRing: 16, txRing: 16 });
    const slot = line.open();
    expect(line.beginFrame(slot, 31)).toBe(SEND_OK); // no prefix: always room
    expect(line.putPiece(slot, Buffer.alloc(31, 1))).toBe(16);
    expect(line.putPiece(slot, Buffer.alloc(15, 1))).toBe(0);
    line.release(slot, 16);
    expect(line.putPiece(slot, Buffer.alloc(15, 1))).toBe(15);
    expect(line.endFrame(slot)).toBe(SEND_FULL); // 1 byte of room, a 2-byte delimiter
    line.release(slot, 1);
    expect(line.endFrame(slot)).toBe(SEND_OK);
    expect(sent(line, slot)).toEqual(Buffer.concat([Buffer.alloc(14, 1), bytes('\r\n')]));
    const varint = await coreWith(kind, { framing: 'varint', mode: 'handler', maxFrame: 4, rxRing: 16, txRing: 16 });
    const v = varint.open();
    expect(varint.send(v, Buffer.alloc(14))).toBe(SEND_OK);
    expect(varint.beginFrame(v, 300)).toBe(SEND_FULL); // a 2-byte prefix, 1 byte of room
    varint.release(v, 1);
    expect(varint.beginFrame(v, 300)).toBe(SEND_OK);
  });

  it('writes a payload that wraps the tx ring', async () => {
    const core = await coreWith(kind, { framing: 'length:1', mode: 'handler', maxFrame: 20, rxRing: 32, txRing: 32 });
    const slot = core.open();
    core.send(slot, Buffer.alloc(20, 1));
    core.release(slot, 20); // leave the tail at 20, one byte pending
    expect(core.send(slot, bytes('0123456789ab'))).toBe(SEND_OK);
    expect(sent(core, slot)).toEqual(Buffer.concat([Buffer.alloc(1, 1), lengthFrame(bytes('0123456789ab'), { size: 1 })]));
  });

  it('sends a frame it listed (a view of its own memory) in one call, as it sends a copy, also wrapping the tx ring', async () => {
    const payload = bytes('0123456789ab');
    const wires: [string, Buffer][] = [['length:1', lengthFrame(payload, { size: 1 })], ['varint', varintFrame(payload)], ['line', bytes('0123456789ab\n')]];
    for (const [framing, wire] of wires) {
      const core = await coreWith(kind, { framing, mode: 'handler', maxFrame: 20, rxRing: 32, txRing: 32 });
      const slot = core.open();
      core.readSpan(slot).set(wire);
      core.received(slot, wire.length);
      expect(core.frameCount()).toBe(1);
      const view = core.frame(0);
      expect(view.buffer).toBe(core.memory);
      expect(core.send(slot, Buffer.alloc(19, 1))).toBe(SEND_OK); // 20 bytes on the wire
      core.release(slot, 19); // one byte left at 19: the reply goes at 20 and wraps the 32-byte ring
      expect(core.send(slot, view), framing).toBe(SEND_OK);
      const out = sent(core, slot);
      expect(out.length, framing).toBe(1 + wire.length);
      expect(out.subarray(1), framing).toEqual(wire);
    }
  });

  it('refuses what the framing cannot carry and what the ring cannot hold', async () => {
    const fixed = await coreWith(kind, { framing: 'fixed:3', mode: 'handler' });
    expect(fixed.send(fixed.open(), bytes('ab'))).toBe(SEND_BAD_LENGTH);
    const one = await coreWith(kind, { framing: 'length:1', mode: 'handler', maxFrame: 8, rxRing: 16, txRing: 512 });
    expect(one.send(one.open(), Buffer.alloc(256))).toBe(SEND_BAD_LENGTH);
    const small = await coreWith(kind, { framing: 'raw', mode: 'handler', rxRing: 16, txRing: 16 });
    const s = small.open();
    expect(small.send(s, Buffer.alloc(17))).toBe(SEND_TOO_LARGE);
    expect(small.send(s, Buffer.alloc(10))).toBe(SEND_OK);
    expect(small.send(s, Buffer.alloc(7))).toBe(SEND_FULL);
    expect(small.send(s, Buffer.alloc(6))).toBe(SEND_OK);
  });

  it('refuses a payload its delimiter framing would not carry as one frame (SEND_DELIMITER), in the ring, waiting for room, or streamed', async () => {
    const cases: [string, string[], string[]][] = [
      ['line', ['ab', 'a\rb', 'ab\r', ''], ['a\nb', '\n', 'ab\n']],
      ['line:cr', ['a\rb', '\rab'], ['ab\r', '\r', 'a\r\nb']],
      ['delimiter:\\r\\n', ['a\r', '\nb', 'a\n\r'], ['a\r\nb', '\r\n']],
      // Self-overlapping: 'ab' then the delimiter is 'ababa', where 'aba' starts inside the payload.
      ['delimiter:aba', ['xa', 'ba', 'abba'], ['xab', 'ab', 'xabay']],
    ];
    for (const [framing, good, bad] of cases) {
      const core = await coreWith(kind, { framing, mode: 'handler', maxFrame: 48, rxRing: 64, txRing: 64 });
      const slot = core.open();
      for (const p of good) {
        expect(core.check(bytes(p)), `${framing} ${JSON.stringify(p)}`).toBe(SEND_OK);
        expect(core.send(slot, bytes(p)), `${framing} ${JSON.stringify(p)}`).toBe(SEND_OK);
        sent(core, slot);
      }
      for (const p of bad) {
        expect(core.check(bytes(p)), `${framing} ${JSON.stringify(p)}`).toBe(SEND_DELIMITER);
        expect(core.send(slot, bytes(p)), `${framing} ${JSON.stringify(p)}`).toBe(SEND_DELIMITER);
        expect(core.txPending(slot)).toBe(0); // nothing went in
      }
      // With no room now, and larger than the ring: refused all the same, so what waits or streams can be sent.
      expect(core.send(slot, Buffer.alloc(60, 0x41))).toBe(SEND_OK);
      expect(core.send(slot, bytes(`${good[0]}`.padEnd(10, 'z')))).toBe(SEND_FULL);
      expect(core.send(slot, bytes(bad[0]!))).toBe(SEND_DELIMITER);
      expect(core.send(slot, bytes(`${'z'.repeat(100)}${bad[0]}`))).toBe(SEND_DELIMITER);
      expect(core.send(slot, bytes('z'.repeat(100)))).toBe(SEND_TOO_LARGE);
    }
  });

  it('finds the delimiter in a payload checked piece by piece, also across the boundary of two pieces', async () => {
    const core = await coreWith(kind, { framing: 'delimiter:\\r\\n', mode: 'handler', maxFrame: 48, rxRing: 64, txRing: 64 });
    const clean = Buffer.alloc(3 * SCRATCH_SIZE, 0x41);
    expect(core.check(clean)).toBe(SEND_TOO_LARGE);
    for (const at of [SCRATCH_SIZE - 2, SCRATCH_SIZE - 1, SCRATCH_SIZE, 2 * SCRATCH_SIZE - 2, 3 * SCRATCH_SIZE - 2]) {
      const p = Buffer.from(clean);
      p.write('\r\n', at, 'latin1');
      expect(core.check(p), `at ${at}`).toBe(SEND_DELIMITER);
      p.write('\rA', at, 'latin1'); // half of it: fine
      expect(core.check(p), `half at ${at}`).toBe(SEND_TOO_LARGE);
    }
  });

  it('checks a payload in its own memory (a frame a handler forwards) where it is', async () => {
    const core = await coreWith(kind, { framing: 'line', mode: 'handler', maxConnections: 2, maxFrame: 48, rxRing: 64, txRing: 64 });
    const from = core.open();
    const to = core.open();
    core.readSpan(from).set(bytes('a\rb\n'));
    core.received(from, 4);
    expect(core.frameCount()).toBe(1);
    const frame = core.frame(0);
    expect(frame.buffer).toBe(core.memory);
    expect(core.send(to, frame)).toBe(SEND_OK);
    expect(sent(core, to)).toEqual(bytes('a\rb\n'));
    // The same memory holding a newline: a view of the rx ring over the frame and its delimiter.
    const withDelimiter = new Uint8Array(core.memory, frame.byteOffset, 4);
    expect(core.check(withDelimiter)).toBe(SEND_DELIMITER);
    expect(core.send(to, withDelimiter)).toBe(SEND_DELIMITER);
  });
});
