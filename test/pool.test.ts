// The ring pool at its limits, on both cores: rings start small, grow to what a
// frame needs, go back when idle, and when the pool (maxMemory) cannot supply a
// ring the slot that needed it, and only that slot, hears it: OPEN_NO_MEMORY,
// R_NO_MEMORY (also from takeRx(), an idle slot's rx ring taken again) or SEND_NO_MEMORY (the host's ERR_MEMORY_EXHAUSTED). Each limit is
// tested exactly at the bound and one step past it.
import { describe, expect, it } from 'vitest';
import type { CoreOptions } from '../src/core/config.ts';
import { OPEN_NO_MEMORY, OPEN_NO_SLOT, R_DONE, R_NO_MEMORY, SEND_NO_MEMORY, SEND_OK, type Core } from '../src/core/core.ts';
import { HANDOFF_MIN, S_POOL_BYTES, S_POOL_EXHAUSTED } from '../src/core/layout.ts';
import { CORES, coreWith, feed, lengthFrame } from './harness.ts';

/** Smallest ring 1 KiB, largest 4 KiB, a pool of exactly one connection's largest rings (4 KiB rx + 4 KiB tx). */
const tight: CoreOptions = { framing: 'length:4', maxFrame: 4000, rxRing: 4096, txRing: 4096, minRing: 1024, maxMemory: 8192, maxConnections: 16 };

/** Echo one frame through the slot; what came back, and whether the pool ran short. */
function echo(core: Core, slot: number, frame: Buffer) {
  return feed(core, slot, [frame]);
}

describe.each(CORES)('%s core: the ring pool', kind => {
  it('opens as many connections as the pool has smallest rings, and refuses the next with OPEN_NO_MEMORY; a close makes room', async () => {
    const core = await coreWith(kind, tight);
    const slots = Array.from({ length: 8 }, () => core.open());
    expect(slots.every(s => s >= 0)).toBe(true);
    expect(core.stats.get(S_POOL_BYTES)).toBe(8192);
    expect(core.open()).toBe(-OPEN_NO_MEMORY);
    expect(core.stats.get(S_POOL_EXHAUSTED)).toBe(1);
    core.close(slots[3]!);
    expect(core.open()).toBeGreaterThanOrEqual(0);
    // The slot count is its own limit, apart from memory.
    const few = await coreWith(kind, { ...tight, maxConnections: 1, quarantineSlots: 0 });
    expect(few.open()).toBe(0);
    expect(few.open()).toBe(-OPEN_NO_SLOT);
  });

  it('grows both rings to their largest for a frame that needs them, with the pool exactly full, and echoes it byte for byte', async () => {
    const core = await coreWith(kind, tight);
    const slot = core.open();
    expect([core.rxSize(slot), core.txSize(slot)]).toEqual([1024, 0]);
    const frame = lengthFrame(Buffer.alloc(4000, 0x5a));
    const r = echo(core, slot, frame);
    expect(r.noMemory).toBe(false);
    expect(r.out).toEqual(frame);
    expect([core.rxSize(slot), core.txSize(slot)]).toEqual([4096, 4096]);
    expect(core.stats.get(S_POOL_BYTES)).toBe(8192);
    expect(core.stats.get(S_POOL_EXHAUSTED)).toBe(0);
  });

  it('says R_NO_MEMORY to the slot whose ring cannot grow one smallest ring past the bound, and leaves the other slot alone', async () => {
    const core = await coreWith(kind, tight);
    const slot = core.open();
    const other = core.open(); // holds 1 KiB: the pool is one smallest ring short of the frame's rings
    const frame = lengthFrame(Buffer.alloc(4000, 0x5a));
    const r = echo(core, slot, frame);
    expect(r.noMemory).toBe(true);
    expect(r.out.length).toBe(0);
    expect(core.stats.get(S_POOL_EXHAUSTED)).toBe(1);
    // The other slot still echoes what fits its rings.
    const small = lengthFrame(Buffer.from('still here'));
    core.close(slot);
    expect(echo(core, other, small).out).toEqual(small);
  });

  it('says SEND_NO_MEMORY when the tx ring must grow for a reply and the pool has no segment for it', async () => {
    const core = await coreWith(kind, { ...tight, maxMemory: 8192 });
    const slots = Array.from({ length: 5 }, () => core.open()); // 5 KiB of rx rings: no 4 KiB segment is left whole
    expect(core.send(slots[0]!, Buffer.alloc(1000, 1))).toBe(SEND_OK); // a 1 KiB tx ring fits
    core.release(slots[0]!, core.txPending(slots[0]!));
    expect(core.send(slots[0]!, Buffer.alloc(3000, 1))).toBe(SEND_NO_MEMORY);
    // One smallest ring freed beside the empty tx ring: given back first, the tx ring merges into a whole 4 KiB.
    core.close(slots[4]!);
    expect(core.send(slots[0]!, Buffer.alloc(3000, 1))).toBe(SEND_OK);
    expect(core.txSize(slots[0]!)).toBe(4096);
  });

  it('gives an idle connection\'s rings back with shrink(), the rx ring entirely, and is whole again once every slot is closed', async () => {
    const core = await coreWith(kind, tight);
    const slot = core.open();
    echo(core, slot, lengthFrame(Buffer.alloc(4000, 0x5a)));
    expect(core.shrink(slot)).toBe(4096 + 4096);
    expect([core.rxSize(slot), core.txSize(slot)]).toEqual([0, 0]);
    expect(core.stats.get(S_POOL_BYTES)).toBe(0);
    // No ring: nothing to read into, nothing to decode, nothing more to give back.
    expect(core.readSpan(slot).length).toBe(0);
    expect(core.process(slot)).toBe(R_DONE);
    expect(core.shrink(slot)).toBe(0);
    // Shrunk, it takes the smallest rx ring at its next read (feed() calls takeRx()) and grows again when a frame needs it.
    const frame = lengthFrame(Buffer.alloc(3000, 7));
    expect(echo(core, slot, frame).out).toEqual(frame);
    core.close(slot);
    expect(core.stats.get(S_POOL_BYTES)).toBe(0);
    // Whole again: one connection's largest rings fit once more.
    const again = core.open();
    expect(echo(core, again, lengthFrame(Buffer.alloc(4000, 1))).noMemory).toBe(false);
  });

  it('takes the smallest rx ring again for an idle slot with takeRx(): the pool\'s last one at the bound, R_NO_MEMORY one slot past it, and only that slot hears it', async () => {
    const core = await coreWith(kind, tight);
    const idle = core.open();
    expect(core.shrink(idle)).toBe(1024);
    const others = Array.from({ length: 7 }, () => core.open());
    expect(others.every(s => s >= 0)).toBe(true);
    // At the bound: the pool's last smallest ring.
    expect(core.takeRx(idle)).toBe(R_DONE);
    expect(core.rxSize(idle)).toBe(1024);
    expect(core.readSpan(idle).length).toBe(1024);
    expect(core.takeRx(idle)).toBe(R_DONE); // it has one: nothing changes
    expect(core.stats.get(S_POOL_BYTES)).toBe(8192);
    expect(core.stats.snapshot().pool.segments).toEqual({ 1024: 8 });
    // One past it: given back, then another slot takes it.
    expect(core.shrink(idle)).toBe(1024);
    const eighth = core.open();
    expect(eighth).toBeGreaterThanOrEqual(0);
    expect(core.takeRx(idle)).toBe(R_NO_MEMORY);
    expect(core.rxSize(idle)).toBe(0);
    expect(core.stats.get(S_POOL_EXHAUSTED)).toBe(1);
    // Only that slot heard it: another reads on, and echoes once two slots closed and left room for its tx ring.
    const frame = lengthFrame(Buffer.from('others'));
    const r = feed(core, others[0]!, [frame.subarray(0, 3)]);
    expect(r.noMemory).toBe(false);
    core.close(idle);
    core.close(eighth);
    expect(feed(core, others[0]!, [frame.subarray(3)]).out).toEqual(frame);
  });

  it('does not move an rx ring while a handler holds a frame of it; it grows once the frame is consumed', async () => {
    const core = await coreWith(kind, { ...tight, mode: 'handler', maxMemory: 16384 });
    const slot = core.open();
    const first = lengthFrame(Buffer.from('held'));
    const big = lengthFrame(Buffer.alloc(2000, 9));
    const stream = Buffer.concat([first, big]);
    let span = core.readSpan(slot);
    span.set(stream.subarray(0, span.length));
    let at = span.length;
    expect(core.received(slot, at)).toBe(R_DONE);
    expect(core.frameCount()).toBe(1);
    const view = core.frame(0);
    const end = core.frameEnd(0);
    core.hold(slot, true); // an async handler has it
    // The ring is full (the rest of `big` waits): it does not grow, and does not move.
    expect(core.readSpan(slot).length).toBe(0);
    expect(core.process(slot)).toBe(R_DONE);
    expect(core.rxSize(slot)).toBe(1024);
    expect(core.shrink(slot)).toBe(0);
    expect(Buffer.from(view).toString()).toBe('held');
    // Settled: consumed, released, and then the ring grows for the rest.
    core.consume(slot, end);
    core.hold(slot, false);
    for (;;) {
      span = core.readSpan(slot);
      const n = Math.min(span.length, stream.length - at);
      span.set(stream.subarray(at, at + n));
      at += n;
      const r = core.received(slot, n);
      expect(r).not.toBe(R_NO_MEMORY);
      if (core.frameCount() > 0) break;
    }
    expect(Buffer.from(core.frame(0))).toEqual(Buffer.alloc(2000, 9));
    expect(core.rxSize(slot)).toBe(2048); // grown to what big's header asked for (2004 bytes) once the held frame was consumed
  });

  // A large frame's rings: the move into pages no ring has touched yet is what stalls
  // a thread (tens of µs a page on a VM), so each is made once and small, or not at all.
  const large: CoreOptions = { framing: 'length:4', maxFrame: 3 << 20, maxConnections: 4 };
  const MiB = 1 << 20;

  it('grows the rx ring straight to what a frame\'s header says it needs, moving only the bytes buffered so far to the ring\'s start', async () => {
    const core = await coreWith(kind, large);
    const slot = core.open();
    const before = lengthFrame(Buffer.from('first'));
    const frame = lengthFrame(Buffer.alloc(3 * MiB - 100, 7));
    const stream = Buffer.concat([before, frame]);
    const head = stream.subarray(0, before.length + 10); // the first frame, then the large one's header and 6 bytes
    core.readSpan(slot).set(head);
    expect(core.received(slot, head.length)).toBe(R_DONE);
    expect(core.rxSize(slot)).toBe(4 * MiB); // not 1 KiB, then 4 KiB, 16 KiB...: one step
    expect(core.rxBuffered(slot)).toBe(10);
    const span = core.readSpan(slot);
    expect(span.length).toBe(4 * MiB - 10); // the 10 bytes sit at the new ring's start: the rest is one span
    const out = feed(core, slot, [stream.subarray(head.length)]);
    expect(out.noMemory).toBe(false);
    expect(out.out.equals(stream)).toBe(true); // both frames, the first still in the tx ring when feed() began
  });

  it('echoes a large frame by handing its rx ring\'s segment to the empty tx ring, not by copying it; what followed it goes on in a small ring', async () => {
    const core = await coreWith(kind, large);
    const slot = core.open();
    const frame = lengthFrame(Buffer.alloc(3 * MiB - 100, 7).map((_, i) => i * 31));
    const after = lengthFrame(Buffer.from('after'));
    const first = frame.subarray(0, 1024); // fills the smallest ring
    core.readSpan(slot).set(first);
    expect(core.received(slot, first.length)).toBe(R_DONE);
    expect(core.rxSize(slot)).toBe(4 * MiB);
    const rxRing = core.readSpan(slot).byteOffset - first.length; // the 4 MiB rx ring's start
    const rest = Buffer.concat([frame.subarray(first.length), after]);
    core.readSpan(slot).set(rest);
    expect(core.received(slot, rest.length)).toBe(R_DONE);
    // The frame is in the tx ring where it was read: the segment moved, not the bytes.
    const sent = core.txChunk(slot, 0);
    expect(sent.byteOffset).toBe(rxRing);
    expect(core.txSize(slot)).toBe(4 * MiB);
    // The rx side took a small ring for what followed the frame, and echoed it after.
    expect(core.rxSize(slot)).toBe(1024);
    expect(core.stats.get(S_POOL_BYTES)).toBe(4 * MiB + 1024);
    expect(takeTx(core, slot).equals(Buffer.concat([frame, after]))).toBe(true);
  });

  it('hands over a frame of exactly HANDOFF_MIN wire bytes, and copies one of a byte less', async () => {
    for (const wireBytes of [HANDOFF_MIN, HANDOFF_MIN - 1]) {
      const core = await coreWith(kind, large);
      const slot = core.open();
      const frame = lengthFrame(Buffer.alloc(wireBytes - 4).map((_, i) => i * 7));
      expect(frame.length).toBe(wireBytes);
      const first = frame.subarray(0, 1024);
      core.readSpan(slot).set(first);
      expect(core.received(slot, first.length)).toBe(R_DONE);
      const rxRing = core.readSpan(slot).byteOffset - first.length;
      const rest = frame.subarray(first.length);
      core.readSpan(slot).set(rest);
      expect(core.received(slot, rest.length)).toBe(R_DONE);
      const handed = core.txChunk(slot, 0).byteOffset === rxRing;
      expect(handed, `${wireBytes} wire bytes`).toBe(wireBytes >= HANDOFF_MIN);
      expect(takeTx(core, slot).equals(frame)).toBe(true);
    }
  });
});

/** Everything the slot's tx ring holds, released as it is read (what a socket's writes would take). */
function takeTx(core: Core, slot: number): Buffer {
  const wire = Buffer.alloc(core.txPending(slot));
  for (let at = 0; at < wire.length; ) {
    const chunk = core.txChunk(slot, 0);
    wire.set(chunk, at);
    at += chunk.length;
    core.release(slot, chunk.length);
  }
  return wire;
}
