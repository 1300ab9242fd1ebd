// WebSocket frames in the core (RFC 6455 section 5), on both cores, as bytes in and
// entries or an error (with its close code) out. The cases follow the Autobahn
// test suite's map: framing (1.x), pings and pongs (2.x), reserved bits (3.x),
// opcodes (4.x), fragmentation (5.x), UTF-8 (6.x), close (7.x), limits (9.x),
// and masking. Each stream is fed whole, split at every byte boundary, one byte at a
// time, and with every listing held across the next read (an async handler), and
// must decode the same way each time; test/websocket-oracle.ts must agree too.
// Encoding: the RFC's own examples (section 5.7), byte for byte. Last, the
// differential property (test/websocket-property.ts) on a fixed budget; for more
// runs, or to replay a seed: npm run fuzz -- --runs N [--seed S]. Then the frames
// over real sockets on every core, read path and write path, after the upgrade.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CoreOptions } from '../src/core/config.ts';
import { type Core, type CoreBase } from '../src/core/core.ts';
import { createCore } from '../src/core/create.ts';
import {
  E_FRAME_TOO_LARGE, E_WEBSOCKET_PROTOCOL, E_WEBSOCKET_UTF8, SEND_BAD_LENGTH, SEND_OK, WS_BINARY, WS_CLOSE, WS_PING, WS_PONG, WS_RULE_CLOSE_CODE, WS_RULE_CLOSE_LENGTH,
  WS_RULE_CONTROL_FRAGMENTED, WS_RULE_CONTROL_LENGTH, WS_RULE_LENGTH, WS_RULE_MASKED, WS_RULE_MESSAGE_OPEN, WS_RULE_NO_MESSAGE, WS_RULE_OPCODE, WS_RULE_RESERVED_BITS,
  WS_RULE_UNMASKED, WS_TEXT,
} from '../src/core/layout.ts';
import { closePayload, readClose, websocketCloseCode, websocketRuleText } from '../src/core/websocket-close.ts';
import { CORES } from './harness.ts';
import { PATHS, collect, connect, startServer } from './net-helpers.ts';
import { wsFeed } from './websocket-driver.ts';
import { checkWsCase, wsCaseArb } from './websocket-property.ts';
import { wsDecode, wsFrame, type WsExpected, type WsFrameSpec, type WsItem } from './websocket-oracle.ts';

const MAX = 1000;
const OPTIONS: CoreOptions = { framing: 'websocket', mode: 'handler', maxFrame: MAX, minRing: 16, rxRing: 2048, txRing: 2048 };

const text = (s: string | Buffer): WsItem => ({ kind: WS_TEXT, payload: Buffer.from(s) });
const binary = (b: Uint8Array | string): WsItem => ({ kind: WS_BINARY, payload: Buffer.from(b) });
const ping = (b: Uint8Array | string = ''): WsItem => ({ kind: WS_PING, payload: Buffer.from(b) });
const pong = (b: Uint8Array | string = ''): WsItem => ({ kind: WS_PONG, payload: Buffer.from(b) });
const close = (b: Uint8Array = new Uint8Array(0)): WsItem => ({ kind: WS_CLOSE, payload: Buffer.from(b) });
const frames = (...specs: WsFrameSpec[]) => Buffer.concat(specs.map(wsFrame));
const T = 1, B = 2, C = 0; // opcodes for the specs: text, binary, continuation

describe.each(CORES)('%s core, websocket', kind => {
  const cores: Record<string, Core> = {};
  const coreFor = async (o: CoreOptions) => (cores[JSON.stringify(o)] ??= await createCore(kind, o));

  /** Feed `stream` every way (see the header) on a fresh slot each time: always `items`, then `error` (and `rule`). */
  async function expectStream(stream: Buffer, items: WsItem[], error = 0, rule = 0, o: { client?: boolean; options?: CoreOptions; everySplit?: boolean } = {}) {
    const options = o.options ?? OPTIONS;
    const core = await coreFor(options);
    const want: WsExpected = { items, error, rule };
    expect(wsDecode(stream, { maxFrame: options.maxFrame!, rxSize: core.config.rxSize, client: o.client })).toEqual(want);
    const ways: { chunks: Buffer[]; defer?: boolean[] }[] = [{ chunks: [stream] }, { chunks: [stream], defer: [true] }];
    if (o.everySplit ?? stream.length <= 400) {
      for (let cut = 1; cut < stream.length; cut++) ways.push({ chunks: [stream.subarray(0, cut), stream.subarray(cut)] }, { chunks: [stream.subarray(0, cut), stream.subarray(cut)], defer: [true, false] });
      ways.push({ chunks: [...stream].map(b => Buffer.of(b)) }, { chunks: [...stream].map(b => Buffer.of(b)), defer: [true] });
    }
    for (const way of ways) {
      const slot = core.open();
      if (o.client) core.websocketClient(slot);
      const got = wsFeed(core, slot, way.chunks, way.defer);
      core.close(slot);
      expect({ items: got.items, error: got.error, rule: got.rule }, `${way.chunks.length} reads${way.defer ? ', held' : ''}`).toEqual(want);
    }
  }

  describe('framing (Autobahn 1.x)', () => {
    for (const n of [0, 1, 125, 126, 127, 128, 1000]) {
      it(`takes a text and a binary message of ${n} bytes`, async () => {
        const t = Buffer.alloc(n, 'a'), b = Buffer.alloc(n, 0xfe);
        await expectStream(frames({ op: T, payload: t }, { op: B, payload: b }), [text(t), binary(b)], 0, 0, { everySplit: n <= 128 });
      });
    }

    it('takes lengths written longer than they need (16 and 64 bits for 5 bytes), as the RFC allows', async () => {
      await expectStream(frames({ op: T, payload: 'hello', width: 16 }, { op: B, payload: 'world', width: 64 }), [text('hello'), binary('world')]);
    });

    it('takes 65535 and 65536 bytes (the 16- and 64-bit lengths), split where their headers end', async () => {
      const options = { ...OPTIONS, maxFrame: 70000, rxRing: 131072, txRing: 131072, maxConnections: 2 };
      for (const n of [65535, 65536]) {
        const p = Buffer.alloc(n, 0x5a);
        const wire = frames({ op: B, payload: p });
        await expectStream(wire, [binary(p)], 0, 0, { options, everySplit: false });
        const core = await coreFor(options);
        for (const cut of [2, 4, 14, wire.length - 1]) {
          const slot = core.open();
          expect(wsFeed(core, slot, [wire.subarray(0, cut), wire.subarray(cut)]).items).toEqual([binary(p)]);
          core.close(slot);
        }
      }
    });

    it('refuses a 64-bit length with its top bit set (1002), after the messages before it', async () => {
      await expectStream(frames({ op: T, payload: 'ok' }, { op: B, payload: 'x', width: 64, declared: (1n << 63n) | 1n }), [text('ok')], E_WEBSOCKET_PROTOCOL, WS_RULE_LENGTH);
    });
  });

  describe('pings and pongs (Autobahn 2.x)', () => {
    it('lists pings and pongs with their payloads, empty or 125 bytes, text or binary', async () => {
      const full = Buffer.alloc(125, 0xaa);
      await expectStream(
        frames({ op: 9 }, { op: 9, payload: 'Hello, world!' }, { op: 9, payload: Uint8Array.of(0, 0xff, 0xfe, 0xfd) }, { op: 9, payload: full }, { op: 10, payload: 'unsolicited' }),
        [ping(), ping('Hello, world!'), ping(Uint8Array.of(0, 0xff, 0xfe, 0xfd)), ping(full), pong('unsolicited')],
      );
    });

    it('lists ten pings in a row, in order', async () => {
      const ten = Array.from({ length: 10 }, (_, i) => `ping ${i}`);
      await expectStream(frames(...ten.map(p => ({ op: 9, payload: p }))), ten.map(p => ping(p)));
    });

    it('refuses a ping of 126 bytes (1002)', async () => {
      await expectStream(frames({ op: T, payload: 'a' }, { op: 9, payload: Buffer.alloc(126) }), [text('a')], E_WEBSOCKET_PROTOCOL, WS_RULE_CONTROL_LENGTH);
    });
  });

  describe('reserved bits (Autobahn 3.x)', () => {
    for (const [rsv, name] of [[0x40, 'RSV1'], [0x20, 'RSV2'], [0x10, 'RSV3'], [0x70, 'all three']] as const) {
      it(`refuses ${name} on a text frame, and on a ping (1002), after what came before`, async () => {
        await expectStream(frames({ op: T, payload: 'before' }, { op: T, payload: 'bad', rsv }), [text('before')], E_WEBSOCKET_PROTOCOL, WS_RULE_RESERVED_BITS);
        await expectStream(frames({ op: 9, rsv }), [], E_WEBSOCKET_PROTOCOL, WS_RULE_RESERVED_BITS);
      });
    }
  });

  describe('opcodes (Autobahn 4.x)', () => {
    for (const op of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
      it(`refuses opcode ${op} (1002), after what came before`, async () => {
        await expectStream(frames({ op: T, payload: 'x' }, { op, payload: 'reserved' }, { op: 9 }), [text('x')], E_WEBSOCKET_PROTOCOL, WS_RULE_OPCODE);
      });
    }
  });

  describe('fragmentation (Autobahn 5.x)', () => {
    it('refuses a fragmented ping or pong (1002)', async () => {
      await expectStream(frames({ op: 9, fin: false, payload: 'frag' }, { op: C, payload: 'ment' }), [], E_WEBSOCKET_PROTOCOL, WS_RULE_CONTROL_FRAGMENTED);
      await expectStream(frames({ op: 10, fin: false }), [], E_WEBSOCKET_PROTOCOL, WS_RULE_CONTROL_FRAGMENTED);
    });

    it('reassembles a text and a binary message from two fragments into one view', async () => {
      await expectStream(frames({ op: T, fin: false, payload: 'frag' }, { op: C, payload: 'ment1' }, { op: B, fin: false, payload: 'frag' }, { op: C, payload: 'ment2' }), [text('fragment1'), binary('fragment2')]);
    });

    it('lists pings and pongs between fragments before the message, and the message whole', async () => {
      await expectStream(
        frames({ op: T, fin: false, payload: 'one ' }, { op: 9, payload: 'p1' }, { op: C, fin: false, payload: 'two ' }, { op: 10, payload: 'p2' }, { op: 9 }, { op: C, payload: 'three' }, { op: B, payload: 'after' }),
        [ping('p1'), pong('p2'), ping(), text('one two three'), binary('after')],
      );
    });

    it('reassembles a message of many one-byte and empty fragments', async () => {
      const word = 'fragmentation';
      const specs: WsFrameSpec[] = [{ op: B, fin: false }];
      for (const ch of word) specs.push({ op: C, fin: false, payload: ch }, { op: C, fin: false });
      specs.push({ op: C });
      await expectStream(frames(...specs), [binary(word)], 0, 0, { everySplit: false });
    });

    it('refuses a continuation with no message open (1002)', async () => {
      await expectStream(frames({ op: T, payload: 'whole' }, { op: C, payload: 'orphan' }), [text('whole')], E_WEBSOCKET_PROTOCOL, WS_RULE_NO_MESSAGE);
      await expectStream(frames({ op: C, fin: false, payload: 'orphan' }), [], E_WEBSOCKET_PROTOCOL, WS_RULE_NO_MESSAGE);
    });

    it('refuses a new text or binary frame while a message is open (1002)', async () => {
      await expectStream(frames({ op: T, fin: false, payload: 'open' }, { op: 9 }, { op: B, payload: 'new' }), [ping()], E_WEBSOCKET_PROTOCOL, WS_RULE_MESSAGE_OPEN);
    });

    it('lists an empty ping between fragments with an end past the last one consumed, so a held ping pins the ring', async () => {
      // Held across the next read, the ping must keep the ring from growing (moving) under it; its end once equalled the
      // message's start, so the core took the ring for unpinned and moved it (then consume() of the old end broke it).
      // (The case the differential property found: one entry per listing, every listing held, a 16-byte ring.)
      const options = { ...OPTIONS, frameListCapacity: 1 };
      const stream = frames(
        { op: T, fin: false }, { op: 9 }, { op: C },
        { op: T, fin: false, width: 16 }, { op: C, width: 16 },
        { op: T, fin: false, width: 16 }, { op: 9 }, { op: C, fin: false, payload: 'aa', width: 16 }, { op: C, width: 16 },
      );
      const items = [ping(), text(''), text(''), ping(), text('aa')];
      await expectStream(stream, items, 0, 0, { options });
      const core = await coreFor(options);
      const slot = core.open();
      expect(wsFeed(core, slot, [stream.subarray(0, 34), stream.subarray(34)], [true]).items).toEqual(items);
      core.close(slot);
    });

    it('keeps every listed view valid until it is consumed while later fragments and pings are moved', async () => {
      // Pings between fragments of a message larger than the smallest ring: the ring grows and wraps meanwhile.
      const parts = ['a'.repeat(40), 'b'.repeat(30), 'c'.repeat(50)];
      const stream = frames({ op: B, fin: false, payload: parts[0] }, { op: 9, payload: 'x'.repeat(20) }, { op: C, fin: false, payload: parts[1] }, { op: 9, payload: 'y' }, { op: C, payload: parts[2] }, { op: T, payload: 'z'.repeat(60) });
      await expectStream(stream, [ping('x'.repeat(20)), ping('y'), binary(parts.join('')), text('z'.repeat(60))]);
    });
  });

  describe('UTF-8 (Autobahn 6.x)', () => {
    const greek = Buffer.from('κόσμε'); // the RFC 3629 example (11 bytes)
    it('takes valid text of 1- to 4-byte characters, fragmented at every byte', async () => {
      const t = Buffer.from('Hello-µ@ßöäüàá-UTF-8!! κόσμε €𝄞');
      await expectStream(frames({ op: T, payload: t }), [text(t)]);
      for (let cut = 0; cut <= t.length; cut++) {
        await expectStream(frames({ op: T, fin: false, payload: t.subarray(0, cut) }, { op: 9 }, { op: C, payload: t.subarray(cut) }), [ping(), text(t)], 0, 0, { everySplit: false });
      }
    });

    for (const [name, bad] of [
      ['a lone continuation byte', [0x80]],
      ['an overlong NUL (C0 80)', [0xc0, 0x80]],
      ['an overlong 3-byte form (E0 80 80)', [0xe0, 0x80, 0x80]],
      ['a surrogate (ED A0 80)', [0xed, 0xa0, 0x80]],
      ['a code point above U+10FFFF (F4 90 80 80)', [0xf4, 0x90, 0x80, 0x80]],
      ['F5', [0xf5]],
      ['FF', [0xff]],
    ] as const) {
      it(`refuses ${name} in a text message (1007)`, async () => {
        await expectStream(frames({ op: T, payload: 'fine' }, { op: T, payload: Buffer.concat([greek, Buffer.from(bad), greek]) }), [text('fine')], E_WEBSOCKET_UTF8);
      });
    }

    it('takes invalid UTF-8 in a binary message', async () => {
      await expectStream(frames({ op: B, payload: Uint8Array.of(0xc0, 0x80, 0xff) }), [binary(Uint8Array.of(0xc0, 0x80, 0xff))]);
    });

    it('refuses a text message that ends inside a character (1007), even when its frames are whole', async () => {
      await expectStream(frames({ op: T, payload: greek.subarray(0, 3) }), [], E_WEBSOCKET_UTF8);
      await expectStream(frames({ op: T, fin: false, payload: greek.subarray(0, 3) }, { op: C, payload: Buffer.alloc(0) }), [], E_WEBSOCKET_UTF8);
    });

    it('fails fast: at the first bad byte, before the rest of its frame (or message) arrives', async () => {
      const core = await coreFor(OPTIONS);
      const wire = frames({ op: T, payload: Buffer.concat([greek, Buffer.of(0xed, 0xa0, 0x80), Buffer.alloc(500, 'a')]) });
      // Up to the byte that makes it invalid (0xA0 after 0xED), in three reads: no more of the frame.
      const upTo = 4 + 4 + greek.length + 2;
      for (const reads of [[wire.subarray(0, upTo)], [wire.subarray(0, 8), wire.subarray(8, upTo - 1), wire.subarray(upTo - 1, upTo)]]) {
        const slot = core.open();
        expect(wsFeed(core, slot, reads).error).toBe(E_WEBSOCKET_UTF8);
        core.close(slot);
      }
      // One byte less: nothing wrong yet.
      const slot = core.open();
      expect(wsFeed(core, slot, [wire.subarray(0, upTo - 1)])).toEqual({ items: [], error: 0, rule: 0, noMemory: false, retaken: 0 });
      core.close(slot);
      // Across fragments: the first ends inside a character, and the byte that opens the second cannot continue it.
      const two = frames({ op: T, fin: false, payload: greek.subarray(0, 1) }, { op: C, payload: Buffer.concat([Buffer.of(0x41), Buffer.alloc(300, 'a')]) });
      const s2 = core.open();
      expect(wsFeed(core, s2, [two.subarray(0, 7 + 8 + 1)]).error).toBe(E_WEBSOCKET_UTF8);
      core.close(s2);
    });
  });

  describe('close (Autobahn 7.x)', () => {
    it('lists a close frame and nothing after it', async () => {
      await expectStream(frames({ op: T, payload: 'last' }, { op: 8, payload: closePayload(1000, 'bye') }, { op: T, payload: 'after close' }, { op: 9 }), [text('last'), close(closePayload(1000, 'bye'))]);
      await expectStream(frames({ op: 8 }, { op: 42 & 0xf, payload: 'anything' }), [close()]);
    });

    it('lists a close between fragments and nothing after it', async () => {
      await expectStream(frames({ op: T, fin: false, payload: 'half' }, { op: 8, payload: closePayload(1001) }, { op: C, payload: 'never' }), [close(closePayload(1001))]);
    });

    for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
      it(`takes close code ${code}`, async () => {
        await expectStream(frames({ op: 8, payload: closePayload(code, 'reason') }), [close(closePayload(code, 'reason'))], 0, 0, { everySplit: false });
      });
    }

    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
      it(`refuses close code ${code} (1002)`, async () => {
        await expectStream(frames({ op: 8, payload: Uint8Array.of(code >> 8, code & 0xff) }), [], E_WEBSOCKET_PROTOCOL, WS_RULE_CLOSE_CODE, { everySplit: false });
      });
    }

    it('refuses a close payload of one byte (1002) and a reason that is not UTF-8 (1007)', async () => {
      await expectStream(frames({ op: 8, payload: Uint8Array.of(0x03) }), [], E_WEBSOCKET_PROTOCOL, WS_RULE_CLOSE_LENGTH);
      await expectStream(frames({ op: 8, payload: Buffer.concat([closePayload(1000), Buffer.of(0xce, 0xba, 0xe1, 0xbd)]) }), [], E_WEBSOCKET_UTF8);
    });

    it('reads a listed close, and maps the errors to their close codes', () => {
      expect(readClose(closePayload(4001, 'κόσμε'))).toEqual({ code: 4001, reason: 'κόσμε' });
      expect(readClose(new Uint8Array(0))).toEqual({ code: 1005, reason: '' });
      expect([E_WEBSOCKET_PROTOCOL, E_WEBSOCKET_UTF8, E_FRAME_TOO_LARGE, 0].map(websocketCloseCode)).toEqual([1002, 1007, 1009, 1011]);
      expect(websocketRuleText(WS_RULE_UNMASKED)).toBe('a frame from the client without a mask (close code 1002)');
    });
  });

  describe('limits (Autobahn 9.x)', () => {
    it('takes a message of exactly maxFrame bytes, whole or in fragments', async () => {
      const p = Buffer.alloc(MAX, 'm');
      await expectStream(frames({ op: T, payload: p }), [text(p)], 0, 0, { everySplit: false });
      await expectStream(frames({ op: B, fin: false, payload: p.subarray(0, 600) }, { op: 9 }, { op: C, payload: p.subarray(600) }), [ping(), binary(p)], 0, 0, { everySplit: false });
    });

    it('refuses a message one byte over maxFrame (1009) from its header, before its payload arrives', async () => {
      await expectStream(frames({ op: T, payload: 'ok' }, { op: B, payload: Buffer.alloc(MAX + 1) }).subarray(0, 8 + 8), [text('ok')], E_FRAME_TOO_LARGE);
    });

    it('refuses a fragmented message at the fragment that takes it over maxFrame (1009)', async () => {
      const wire = frames({ op: B, fin: false, payload: Buffer.alloc(600) }, { op: C, fin: false, payload: Buffer.alloc(400) }, { op: C, payload: Buffer.alloc(1) });
      await expectStream(wire.subarray(0, wire.length - 1), [], E_FRAME_TOO_LARGE, 0, { everySplit: false });
    });

    it('refuses a message whose fragments, headers included, cannot fit the largest rx ring (1009)', async () => {
      // 2048-byte ring: 400 empty fragments take 2400 bytes of headers.
      const wire = frames({ op: B, fin: false }, ...Array.from({ length: 400 }, () => ({ op: C, fin: false })));
      await expectStream(wire, [], E_FRAME_TOO_LARGE, 0, { everySplit: false });
    });
  });

  describe('masking', () => {
    it('refuses an unmasked frame from a client (1002)', async () => {
      await expectStream(frames({ op: T, payload: 'masked' }, { op: T, payload: 'bare', key: null }), [text('masked')], E_WEBSOCKET_PROTOCOL, WS_RULE_UNMASKED);
    });

    it('on a client slot, takes unmasked frames and refuses a masked one (1002)', async () => {
      await expectStream(frames({ op: T, payload: 'bare', key: null }, { op: 9, key: null }, { op: B, payload: 'masked' }), [text('bare'), ping()], E_WEBSOCKET_PROTOCOL, WS_RULE_MASKED, { client: true });
    });

    it('unmasks with every key phase across the ring\'s wrap and the SIMD blocks', async () => {
      const keys = [Uint8Array.of(0, 0, 0, 0), Uint8Array.of(0xff, 0xff, 0xff, 0xff), Uint8Array.of(1, 2, 3, 4)];
      for (const key of keys) {
        const specs = [1, 3, 15, 16, 17, 33, 63, 64, 65, 100].map(n => ({ op: B, payload: Buffer.from(Array.from({ length: n }, (_, i) => (i * 7) & 0xff)), key }));
        await expectStream(frames(...specs), specs.map(s => binary(s.payload)), 0, 0, { everySplit: false });
      }
    });
  });

  it('counts the whole frames it has not listed (the drain\'s bufferedFrames): from an open message\'s next frame, none after a close', async () => {
    const core = await coreFor(OPTIONS);
    const slot = core.open();
    const feed = (b: Buffer) => {
      core.readSpan(slot).set(b);
      return core.received(slot, b.length);
    };
    core.hold(slot, true);
    feed(frames({ op: T, fin: false, payload: 'ab' }, { op: 9 }, { op: C, fin: false, payload: 'c' }).subarray(0, 16));
    expect(core.bufferedFrames(slot)).toBe(2); // a fragment and the ping; the second fragment is not whole
    core.hold(slot, false);
    core.process(slot);
    expect(core.frameCount()).toBe(1); // the ping
    core.consume(slot, core.frameEnd(0));
    expect(core.bufferedFrames(slot)).toBe(0);
    feed(frames({ op: C, fin: false, payload: 'c' }).subarray(2));
    core.hold(slot, true);
    feed(frames({ op: 8 }, { op: 9 }));
    expect(core.bufferedFrames(slot)).toBe(2); // the close and the ping after it, not yet listed
    core.hold(slot, false);
    core.process(slot);
    expect(core.frameCount()).toBe(1);
    expect(core.frameKind(0)).toBe(WS_CLOSE);
    expect(core.bufferedFrames(slot)).toBe(0);
    core.close(slot);
  });

  describe('encoding', () => {
    async function sent(client: boolean, sends: [Uint8Array, number][], key = 0x3d21fa37): Promise<Buffer> {
      const core = await coreFor(OPTIONS);
      (core as CoreBase).maskKey = () => key;
      const slot = core.open();
      if (client) core.websocketClient(slot);
      for (const [payload, k] of sends) expect(core.send(slot, payload, k)).toBe(SEND_OK);
      const out = Buffer.from(core.txChunk(slot, 0));
      core.release(slot, out.length);
      core.close(slot);
      return out;
    }

    it('writes the RFC\'s examples (section 5.7): unmasked and masked "Hello", a ping, a 256-byte binary', async () => {
      expect(await sent(false, [[Buffer.from('Hello'), WS_TEXT]])).toEqual(Buffer.from('810548656c6c6f', 'hex'));
      // Masked with 37 fa 21 3d: the key read little-endian is 0x3d21fa37.
      expect(await sent(true, [[Buffer.from('Hello'), WS_TEXT]])).toEqual(Buffer.from('818537fa213d7f9f4d5158', 'hex'));
      expect(await sent(false, [[Buffer.from('Hello'), WS_PING]])).toEqual(Buffer.from('890548656c6c6f', 'hex'));
      const b = await sent(false, [[Buffer.alloc(256, 1), WS_BINARY]]);
      expect(b.subarray(0, 4)).toEqual(Buffer.from('827e0100', 'hex'));
      expect(b.length).toBe(260);
    });

    it('writes a 64-bit length for 64 KiB, and streams a masked frame through beginFrame piece by piece as send() would', async () => {
      const options = { ...OPTIONS, maxFrame: 70000, rxRing: 131072, txRing: 131072, maxConnections: 2 };
      const core = await coreFor(options);
      (core as CoreBase).maskKey = () => 0x04030201;
      const p = Buffer.from(Array.from({ length: 65536 }, (_, i) => i & 0xff));
      const slot = core.open();
      core.websocketClient(slot);
      expect(core.send(slot, p, WS_BINARY)).toBe(SEND_OK);
      const whole = Buffer.from(core.txChunk(slot, 0));
      core.release(slot, whole.length);
      expect(whole.subarray(0, 14)).toEqual(Buffer.from('82ff000000000001000001020304', 'hex'));
      expect(core.beginFrame(slot, p.length, WS_BINARY)).toBe(SEND_OK);
      for (const [a, z] of [[0, 1], [1, 7], [7, 30000], [30000, 65536]] as const) expect(core.putPiece(slot, p.subarray(a, z))).toBe(z - a);
      const streamed = Buffer.from(core.txChunk(slot, 0));
      core.release(slot, streamed.length);
      core.close(slot);
      expect(streamed).toEqual(whole);
      expect(wsDecode(whole, { maxFrame: 70000, rxSize: 131072 }).items).toEqual([binary(p)]);
    });

    it('refuses a control frame over 125 bytes and an unknown kind (SEND_BAD_LENGTH)', async () => {
      const core = await coreFor(OPTIONS);
      const slot = core.open();
      expect(core.send(slot, Buffer.alloc(126), WS_PING)).toBe(SEND_BAD_LENGTH);
      expect(core.send(slot, Buffer.alloc(1), 3)).toBe(SEND_BAD_LENGTH);
      expect(core.check(Buffer.alloc(126), WS_CLOSE)).toBe(SEND_BAD_LENGTH);
      expect(core.check(Buffer.alloc(125), WS_PONG)).toBe(SEND_OK);
      expect(core.txPending(slot)).toBe(0);
      core.close(slot);
    });
  });
});

describe('wasm core, js core and the websocket oracle', () => {
  it('agree on random messages, fragments, control frames between them, bad frames, reads, held listings, rings given back while idle, and sends', async () => {
    let errors = 0;
    let between = 0;
    let clean = 0;
    let retaken = 0;
    await fc.assert(
      fc.asyncProperty(wsCaseArb, async c => {
        const run = await checkWsCase(c);
        if (run.error) errors++;
        else if (run.items > 0) clean++;
        if (run.between) between++;
        if (run.retaken) retaken++;
      }),
      { numRuns: 2000 },
    );
    // The generator keeps reaching streams that end in an error, streams that decode whole, and control frames between fragments.
    expect(errors).toBeGreaterThan(500);
    expect(clean).toBeGreaterThan(300);
    expect(between).toBeGreaterThan(200);
    expect(retaken).toBeGreaterThan(8);
  });
});

// The frames over real sockets, after the HTTP upgrade (the host's stage: see
// websocket-upgrade.test.ts): a handler that answers each message with a binary frame
// of its bytes, the host answering the ping between fragments with a pong, a peer that
// breaks a rule closed with its code and message, the others untouched. The handler
// API itself (kinds, close handshake) is websocket-messages.test.ts.
const UPGRADE = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
/** What a server sent after its 101. */
const afterHead = (b: Buffer): Buffer => b.subarray(b.indexOf('\r\n\r\n') + 4);
describe.each(PATHS)('websocket framing over sockets, core=$core zeroCopy=$zeroCopy write=$writePath', ({ core, zeroCopy, writePath }) => {
  it('delivers whole messages, answers the ping between fragments, and closes only the connection whose frame breaks a rule, with its code', async () => {
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'websocket', maxFrame: 1000,
      onFrame(frame, c) {
        c.send(frame);
      },
    });
    const messages: string[] = [];
    server.on('clientError', e => messages.push(`${e.code}: ${e.message}`));
    const bystander = await connect(port);
    const seen = collect(bystander);
    bystander.write(UPGRADE);
    const offender = await connect(port);
    const answered = collect(offender);
    const hello = frames({ op: T, fin: false, payload: 'hel' }, { op: 9, payload: 'ping' }, { op: C, payload: 'lo' });
    offender.write(Buffer.concat([UPGRADE, hello, wsFrame({ op: T, payload: 'bare', key: null }), wsFrame({ op: T, payload: 'never' })]));
    // A server's frames, unmasked: the pong first, then the message, then the close with 1002.
    const back = afterHead(await answered.done);
    expect(wsDecode(back, { maxFrame: 1000, rxSize: 4096, client: true }).items).toEqual([pong('ping'), binary('hello'), close(closePayload(1002))]);
    expect(messages).toEqual(['ERR_WEBSOCKET_PROTOCOL: a frame from the client without a mask (close code 1002)']);
    bystander.end(frames({ op: B, payload: 'still here' }));
    expect(wsDecode(afterHead(await seen.done), { maxFrame: 1000, rxSize: 4096, client: true }).items).toEqual([binary('still here')]);
    expect(server.stats().total.errorsByCode).toEqual({ ERR_WEBSOCKET_PROTOCOL: 1 });
    await server.close();
  });
});
