// The core's configuration, cached in globals at init() for the hot path. The
// header in memory holds the same values for the host and the contract test;
// these globals are never written after init().

export let slots: u32 = 0;
export let rxSize: u32 = 0;
export let txSize: u32 = 0;
export let framing: u32 = 0;
export let mode: u32 = 0;
export let maxFrame: u32 = 0;
export let lenOffset: u32 = 0;
export let lenSize: u32 = 0;
export let lenBig: bool = true;
export let lenAdjust: i32 = 0;
export let lenStrip: u32 = 0;
export let fixedSize: u32 = 0;
export let delimLen: u32 = 0;
export let stripCR: bool = false;
export let delimAddr: u32 = 0; // where the delimiter bytes live (in the header)
export let frameCap: u32 = 0;
export let statsOff: u32 = 0;
export let framesOff: u32 = 0;
export let rxPad: u32 = 0;
export let slotsOff: u32 = 0;
export let ringsOff: u32 = 0;

export function configure(
  nSlots: u32, rx: u32, tx: u32, kind: u32, m: u32, max: u32,
  offset: u32, size: u32, big: bool, adjust: i32, strip: u32, fixed: u32,
  dLen: u32, cr: bool, dAddr: u32, cap: u32,
  stats: u32, frames: u32, pad: u32, slotTable: u32, rings: u32,
): void {
  slots = nSlots; rxSize = rx; txSize = tx; framing = kind; mode = m; maxFrame = max;
  lenOffset = offset; lenSize = size; lenBig = big; lenAdjust = adjust; lenStrip = strip;
  fixedSize = fixed; delimLen = dLen; stripCR = cr; delimAddr = dAddr; frameCap = cap;
  statsOff = stats; framesOff = frames; rxPad = pad; slotsOff = slotTable; ringsOff = rings;
}
