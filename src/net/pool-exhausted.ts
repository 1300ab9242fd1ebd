// ERR_MEMORY_EXHAUSTED: the core's ring pool (bounded by maxMemory) could not
// supply a ring a connection needed: to open (OPEN_NO_MEMORY: refused), or to go
// on with a frame or a reply that needs a larger ring (R_NO_MEMORY,
// SEND_NO_MEMORY: that connection closes; the others never notice). The message
// says how full the pool is, so the fix (raise maxMemory, or lower the rings)
// can be read off it.

import type { Core } from '../core/core.ts';
import { E_MEMORY_EXHAUSTED, ringwireError, type RingwireError } from '../core/errors.ts';

const mib = (n: number) => `${(n / 2 ** 20).toFixed(n < 2 ** 20 ? 3 : 1)} MiB`;

/** The error for a connection the pool had no ring for; `doing` says what it was doing (opening, reading a frame, replying). */
export function poolExhausted(core: Core, doing: string): RingwireError {
  const arena = core.config.regions.arenaSize;
  return ringwireError(E_MEMORY_EXHAUSTED, `no ring for this connection ${doing}: ${mib(core.stats.snapshot().pool.bytes)} of the ${mib(arena)} ring pool (maxMemory) in use; raise maxMemory (--max-memory), or lower maxFrame or the largest rings`);
}
