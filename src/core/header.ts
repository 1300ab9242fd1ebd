// The configuration header, host side: the one table that says which value of a
// resolved configuration goes into each configuration word. Both cores get their
// configuration only from these words (init() reads them: loadConfig() in
// assembly/config.ts, readHeaderConfig() in the twin), so a field added to the
// contract must be given a value here or this file does not type-check.

import type { CoreConfig } from './config.ts';
import { LAYOUT_VERSION, MAGIC, writeHeaderConfig, type HeaderConfig } from './layout.ts';

export function headerFor(c: CoreConfig): HeaderConfig {
  const r = c.regions;
  return {
    magic: MAGIC,
    version: LAYOUT_VERSION,
    slots: c.slots,
    rxSize: c.rxSize,
    txSize: c.txSize,
    minRing: c.minRing,
    framing: c.framing,
    mode: c.mode,
    maxFrame: c.maxFrame,
    lenOffset: c.lenOffset,
    lenSize: c.lenSize,
    lenBig: c.lenBig !== 0,
    lenAdjust: c.lenAdjust,
    lenStrip: c.lenStrip,
    fixed: c.fixed,
    delimLen: c.delimiter.length,
    stripCR: c.stripCR !== 0,
    delim: c.delimiter,
    frameCap: c.frameCap,
    statsOff: r.stats,
    framesOff: r.frames,
    slotsOff: r.slots,
    poolOff: r.pool,
    arenaOff: r.arena,
    arenaSize: r.arenaSize,
    total: r.total,
    wsOff: r.ws,
  };
}

/** Write a configuration's header into a fresh core memory, before init(). */
export function writeHeader(memory: SharedArrayBuffer, c: CoreConfig): void {
  writeHeaderConfig(memory, headerFor(c));
}
