// The configuration of a core: framing spec, limits and mode, parsed from the
// compact CLI spelling or given as objects, validated once, resolved to numbers.
// Invariants enforced here (the cores rely on them and do not re-check):
//   - ring sizes are powers of two between 16 bytes and 1 GiB, minRing the smallest;
//   - a whole frame of the maximum length fits in the largest rx ring and its echo
//     in the largest tx ring, so a frame is always decodable and a reply always fits
//     once drained, when the pool can supply those rings;
//   - the arena (maxMemory, the bound on rings) is a whole number of the largest
//     segment and holds at least one connection's largest rings;
//   - the memory (header + slots + pool table + arena) fits in 4 GiB of WASM
//     memory, and its size in a u32 header word;
//   - slots = maxConnections + quarantineSlots: maxConnections caps live
//     connections (the endpoint counts them), the rest hold connections whose
//     socket is gone while a handler still holds a frame view (quarantined).

import { configError } from './errors.ts';
import {
  DELIM_MAX, FRAMING_DELIMITER, FRAMING_FIXED, FRAMING_LENGTH, FRAMING_RAW, FRAMING_VARINT, FRAMING_WEBSOCKET,
  MODE_ECHO, MODE_HANDLER, regionsFor, WS_CONTROL_MAX, WS_HEADER_MAX, type Regions,
} from './layout.ts';

export type Framing =
  | { kind: 'raw' }
  | {
      kind: 'length';
      /** Bytes before the length field. Default 0. */
      offset?: number;
      /** Width of the length field: 1, 2, 3, 4 or 8 bytes. Default 4. */
      size?: 1 | 2 | 3 | 4 | 8;
      /** Byte order of the length field. Default 'be'. */
      endian?: 'be' | 'le';
      /** Added to the field's value to get the bytes after the field. Default 0. */
      adjust?: number;
      /** Bytes removed from the start of each frame before the handler sees it. Default offset + size. */
      strip?: number;
    }
  | { kind: 'varint' }
  | {
      kind: 'delimiter';
      /** Delimiter bytes (1 to 16). Default "\n". */
      delimiter?: Uint8Array | string;
      /** Drop a '\r' that precedes the delimiter. Default false. */
      stripCR?: boolean;
    }
  | { kind: 'fixed'; size: number }
  /** RFC 6455 frames; maxFrame bounds a whole message. Handler mode only. */
  | { kind: 'websocket' };

export interface CoreOptions {
  framing?: Framing | string;
  /** Live connections (sockets) at once. Default 1024. */
  maxConnections?: number;
  /**
   * Slots beyond maxConnections for quarantined connections: closed (their socket
   * and descriptor gone) while a handler still holds a frame of their rx ring, so
   * their slot cannot be reused yet. Each costs SLOT_SIZE bytes of slot table; its
   * rings come from the pool (maxMemory), like everyone's. Default: maxConnections
   * (as many again: every live connection may hang once more before new ones are refused).
   */
  quarantineSlots?: number;
  /** Largest frame payload in bytes. Default 16384. */
  maxFrame?: number;
  /** The largest receive ring a connection grows to, bytes, a power of two. Default 65536 (or larger to fit maxFrame). */
  rxRing?: number;
  /** The largest transmit ring a connection grows to, bytes, a power of two. Default 65536 (or larger to fit maxFrame). */
  txRing?: number;
  /** The smallest ring (what a connection starts with), bytes, a power of two from 16. Default 1024 (or the largest rings, if smaller). */
  minRing?: number;
  /**
   * Bytes of rings this core may hand out (the pool's arena), rounded down to a whole
   * number of the largest segment. Default: every connection at its largest rings (what
   * fixed rings took), at most 1 GiB, at least two connections' worth.
   */
  maxMemory?: number;
  /** 'echo' runs the echo processor inside the core; 'handler' lists frames for onFrame. */
  mode?: 'echo' | 'handler';
  /** Frames listed per core call in handler mode. Default 1024. */
  frameListCapacity?: number;
}

/** Everything a core needs, as numbers, validated. */
export interface CoreConfig {
  framing: number;
  framingText: string;
  mode: number;
  /** Live connections at once (CoreOptions.maxConnections): the endpoint refuses past it. */
  maxConnections: number;
  /** Slots in the slot table: maxConnections + quarantineSlots. */
  slots: number;
  maxFrame: number;
  /** The largest rx and tx rings (a ring grows up to these). */
  rxSize: number;
  txSize: number;
  /** The smallest ring, and the smallest segment of the pool. */
  minRing: number;
  /** The largest segment: an rx ring (handler mode: with its pad, twice the ring) or a tx ring. */
  maxSegment: number;
  lenOffset: number;
  lenSize: number;
  lenBig: number;
  lenAdjust: number;
  lenStrip: number;
  fixed: number;
  delimiter: Uint8Array;
  stripCR: number;
  frameCap: number;
  /** The longest frame on the wire (header or delimiter included); 0 for raw. */
  maxWire: number;
  /** Where each region of the memory starts; regions.total is the bytes needed from address 0. */
  regions: Regions;
}

export const DEFAULTS = { maxConnections: 1024, maxFrame: 16384, ring: 65536, minRing: 1024, frameListCapacity: 1024, maxMemory: 2 ** 30 } as const;
const MIN_RING = 16;
const MAX_RING = 1 << 30;
const MAX_MEMORY = 4 * 1024 * 1024 * 1024;

/**
 * Parse the CLI spelling of a framing:
 *   raw | varint | fixed:N | line | line:cr | delimiter:<bytes>[:cr]
 *   length[:<1|2|3|4|8>][:<be|le>][:offset=N][:adjust=N][:strip=N]
 * Delimiter bytes take escapes: \n \r \t \0 \\ \xHH (write a colon as \x3a).
 */
export function parseFraming(spec: string): Framing {
  const [kind = '', ...parts] = spec.split(':');
  const bad = (why: string) => configError(`bad framing "${spec}": ${why}`);
  switch (kind) {
    case 'raw':
    case 'varint':
    case 'websocket':
      if (parts.length) throw bad(`${kind} takes no parameters`);
      return { kind };
    case 'fixed': {
      if (parts.length !== 1) throw bad('write fixed:N');
      return { kind: 'fixed', size: integer(parts[0]!, bad) };
    }
    case 'line':
      if (parts.length > 1 || (parts.length === 1 && parts[0] !== 'cr')) throw bad('write line or line:cr');
      return { kind: 'delimiter', delimiter: '\n', stripCR: parts[0] === 'cr' };
    case 'delimiter': {
      const cr = parts.at(-1) === 'cr' && parts.length > 1;
      const text = (cr ? parts.slice(0, -1) : parts).join(':');
      if (!text) throw bad('write delimiter:<bytes>');
      return { kind: 'delimiter', delimiter: unescape(text, bad), stripCR: cr };
    }
    case 'length': {
      const f: Extract<Framing, { kind: 'length' }> = { kind: 'length' };
      for (const p of parts) {
        const eq = p.indexOf('=');
        if (p === 'be' || p === 'le') f.endian = p;
        else if (eq < 0) f.size = integer(p, bad) as 1 | 2 | 3 | 4 | 8;
        else {
          const key = p.slice(0, eq);
          const value = integer(p.slice(eq + 1), bad, true);
          if (key === 'offset') f.offset = value;
          else if (key === 'adjust') f.adjust = value;
          else if (key === 'strip') f.strip = value;
          else throw bad(`unknown parameter ${key}`);
        }
      }
      return f;
    }
    default:
      throw bad('framing is one of raw, length, varint, line, delimiter, fixed, websocket');
  }
}

function integer(text: string, bad: (why: string) => Error, signed = false): number {
  if (!(signed ? /^-?\d+$/ : /^\d+$/).test(text)) throw bad(`"${text}" is not an integer`);
  return Number(text);
}

function unescape(text: string, bad: (why: string) => Error): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '\\') {
      out.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const e = text[++i];
    if (e === 'n') out.push(10);
    else if (e === 'r') out.push(13);
    else if (e === 't') out.push(9);
    else if (e === '0') out.push(0);
    else if (e === '\\') out.push(92);
    else if (e === 'x') {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw bad(`\\x needs two hex digits (\\x00 to \\xff), got "${hex}"`);
      out.push(parseInt(hex, 16));
      i += 2;
    } else if (e === undefined) throw bad('a lone \\ at the end: write \\\\ for a backslash');
    else throw bad(`unknown escape \\${e}: the escapes are \\n \\r \\t \\0 \\\\ and \\xHH`);
  }
  return Uint8Array.from(out);
}

const isPow2 = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
const nextPow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(n, 1)));

export function describeFraming(f: Framing): string {
  switch (f.kind) {
    case 'length': {
      const size = f.size ?? 4;
      const offset = f.offset ?? 0;
      const extra = [
        offset ? `offset=${offset}` : '',
        f.adjust ? `adjust=${f.adjust}` : '',
        (f.strip ?? offset + size) !== offset + size ? `strip=${f.strip}` : '',
      ].filter(Boolean);
      return ['length', size, f.endian ?? 'be', ...extra].join(':');
    }
    case 'delimiter': {
      const d = typeof f.delimiter === 'string' ? Buffer.from(f.delimiter) : (f.delimiter ?? Buffer.from('\n'));
      const shown = [...d].map(b => (b === 10 ? '\\n' : b === 13 ? '\\r' : b >= 33 && b < 127 && b !== 58 && b !== 92 ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
      if (shown === '\\n') return f.stripCR ? 'line:cr' : 'line';
      return `delimiter:${shown}${f.stripCR ? ':cr' : ''}`;
    }
    case 'fixed':
      return `fixed:${f.size}`;
    default:
      return f.kind;
  }
}

/** Validate options and resolve every number the cores need. Throws ERR_BAD_CONFIG. */
export function resolveConfig(options: CoreOptions = {}): CoreConfig {
  const framing = typeof options.framing === 'string' ? parseFraming(options.framing) : (options.framing ?? { kind: 'raw' });
  const maxConnections = options.maxConnections ?? DEFAULTS.maxConnections;
  const quarantineSlots = options.quarantineSlots ?? maxConnections;
  const maxFrame = options.maxFrame ?? DEFAULTS.maxFrame;
  const frameCap = options.frameListCapacity ?? DEFAULTS.frameListCapacity;
  const mode = options.mode === 'handler' ? MODE_HANDLER : MODE_ECHO;
  if (!Number.isInteger(maxConnections) || maxConnections < 1 || maxConnections > 1 << 20) throw configError(`maxConnections must be an integer from 1 to ${1 << 20}, got ${maxConnections}`);
  if (!Number.isInteger(quarantineSlots) || quarantineSlots < 0 || quarantineSlots > 1 << 20) throw configError(`quarantineSlots must be an integer from 0 to ${1 << 20}, got ${quarantineSlots}`);
  const slots = maxConnections + quarantineSlots;
  if (!Number.isInteger(maxFrame) || maxFrame < 1 || maxFrame > MAX_RING / 2) throw configError(`maxFrame must be an integer from 1 to ${MAX_RING / 2}, got ${maxFrame}`);
  if (!Number.isInteger(frameCap) || frameCap < 1 || frameCap > 1 << 20) throw configError(`frameListCapacity must be an integer from 1 to ${1 << 20}`);

  const c = {
    framing: FRAMING_RAW, framingText: describeFraming(framing), mode, maxConnections, slots, maxFrame,
    lenOffset: 0, lenSize: 0, lenBig: 1, lenAdjust: 0, lenStrip: 0, fixed: 0,
    delimiter: new Uint8Array(0) as Uint8Array, stripCR: 0, frameCap,
  };
  // The longest frame on the wire: it must fit in either ring.
  let maxWire = 0;
  switch (framing.kind) {
    case 'raw':
      break;
    case 'length': {
      c.framing = FRAMING_LENGTH;
      c.lenSize = framing.size ?? 4;
      c.lenOffset = framing.offset ?? 0;
      c.lenBig = (framing.endian ?? 'be') === 'be' ? 1 : 0;
      c.lenAdjust = framing.adjust ?? 0;
      c.lenStrip = framing.strip ?? c.lenOffset + c.lenSize;
      if (![1, 2, 3, 4, 8].includes(c.lenSize)) throw configError(`length field size must be 1, 2, 3, 4 or 8, got ${c.lenSize}`);
      if (!Number.isInteger(c.lenOffset) || c.lenOffset < 0 || c.lenOffset > 1024) throw configError('length offset must be from 0 to 1024');
      if (!Number.isInteger(c.lenAdjust) || Math.abs(c.lenAdjust) > 1 << 30) throw configError('length adjustment must be an integer within +-2^30');
      maxWire = c.lenOffset + c.lenSize + maxFrame;
      if (!Number.isInteger(c.lenStrip) || c.lenStrip < 0 || c.lenStrip > maxWire) throw configError(`bytes to strip must be from 0 to ${maxWire}`);
      break;
    }
    case 'varint':
      c.framing = FRAMING_VARINT;
      maxWire = maxFrame + 10; // a LEB128 prefix may be padded to 10 bytes
      break;
    case 'delimiter': {
      c.framing = FRAMING_DELIMITER;
      const d = framing.delimiter ?? '\n';
      c.delimiter = typeof d === 'string' ? new Uint8Array(Buffer.from(d, 'utf8')) : d;
      c.stripCR = framing.stripCR ? 1 : 0;
      if (c.delimiter.length < 1 || c.delimiter.length > DELIM_MAX) throw configError(`delimiter must be 1 to ${DELIM_MAX} bytes`);
      maxWire = maxFrame + c.delimiter.length;
      break;
    }
    case 'fixed':
      c.framing = FRAMING_FIXED;
      c.fixed = framing.size;
      if (!Number.isInteger(c.fixed) || c.fixed < 1 || c.fixed > MAX_RING) throw configError(`fixed frame size must be from 1 to ${MAX_RING}`);
      maxWire = c.fixed;
      break;
    case 'websocket':
      c.framing = FRAMING_WEBSOCKET;
      // Pings and close frames need an answer the core does not write: the host's (its WebSocket session) does, and a handler takes the messages.
      if (mode !== MODE_HANDLER) throw configError('websocket framing needs handler mode: a handler (onFrame, or ringwire serve --handler) answers its messages (the host answers pings and closes)');
      // One frame of a whole message, or a control frame (up to WS_CONTROL_MAX bytes whatever maxFrame);
      // a message in fragments takes more (their headers), up to the largest rx ring.
      maxWire = Math.max(maxFrame, WS_CONTROL_MAX) + WS_HEADER_MAX;
      break;
    default:
      throw configError(`unknown framing ${(framing as { kind: string }).kind}`);
  }
  const ring = (given: number | undefined, name: string) => {
    if (given === undefined) return Math.max(DEFAULTS.ring, nextPow2(maxWire));
    if (!isPow2(given) || given < MIN_RING || given > MAX_RING) throw configError(`${name} must be a power of two from ${MIN_RING} to ${MAX_RING}, got ${given}`);
    if (given < maxWire) throw configError(`${name} of ${given} bytes cannot hold a whole frame of ${maxWire} bytes (max frame ${maxFrame} plus framing); use ${nextPow2(maxWire)} or more`);
    return given;
  };
  const rxSize = ring(options.rxRing, 'rx ring');
  const txSize = ring(options.txRing, 'tx ring');
  const minRing = options.minRing ?? Math.min(DEFAULTS.minRing, rxSize, txSize);
  if (!isPow2(minRing) || minRing < MIN_RING || minRing > Math.min(rxSize, txSize)) {
    throw configError(`minRing must be a power of two from ${MIN_RING} to the smaller ring (${Math.min(rxSize, txSize)}), got ${minRing}`);
  }
  // Handler mode: an rx ring's segment holds the ring and, after it, its pad, where a listed frame that wraps the ring's end continues.
  const rxSegment = mode === MODE_HANDLER ? 2 * rxSize : rxSize;
  const maxSegment = Math.max(rxSegment, txSize);
  const oneConnection = Math.ceil((rxSegment + txSize) / maxSegment) * maxSegment;
  let maxMemory = options.maxMemory;
  // Sized for the live connections: a quarantined one keeps only the rx ring its handler's frame is in.
  if (maxMemory === undefined) maxMemory = Math.max(oneConnection * 2, Math.min(DEFAULTS.maxMemory, maxConnections * (rxSegment + txSize)));
  else if (!Number.isInteger(maxMemory) || maxMemory < oneConnection) {
    throw configError(`maxMemory must be an integer of at least ${oneConnection} bytes (one connection's largest rings: ${rxSegment} rx${mode === MODE_HANDLER ? ' with its pad' : ''} + ${txSize} tx, in whole segments of ${maxSegment}), got ${maxMemory}`);
  }
  const arenaSize = Math.floor(maxMemory / maxSegment) * maxSegment;
  const regions = regionsFor(slots, frameCap, minRing, arenaSize, c.framing === FRAMING_WEBSOCKET);
  if (regions.total >= MAX_MEMORY) {
    throw configError(`${slots} connection slots and ${(arenaSize / 2 ** 30).toFixed(2)} GiB of rings (maxMemory) need ${(regions.total / 2 ** 30).toFixed(2)} GiB; the limit is 4 GiB`);
  }
  return { ...c, rxSize, txSize, minRing, maxSegment, maxWire, regions };
}
