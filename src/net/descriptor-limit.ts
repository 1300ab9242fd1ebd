// How many file descriptors a server needs, and what the process may open.
// Every connection is one descriptor, in whichever thread serves it; the
// process also holds its own (stdio, each event loop's epoll and wake-up fds,
// libuv's spare for the EMFILE trick, pipes to worker threads, files). If
// slots × threads + that headroom is over RLIMIT_NOFILE, the server reaches
// EMFILE with slots still free: accepts fail while the server believes it has
// room. So the limit is compared at start (the CLI raises it or adapts: cli.ts),
// with the descriptors of the metrics listener counted (its connections are capped).
// Linux reads /proc/self; elsewhere the check reports nothing (null).

import fs from 'node:fs';

export interface DescriptorLimit {
  soft: number;
  /** Infinity for "unlimited". */
  hard: number;
}

export interface DescriptorBudget {
  /** slots × threads + headroom. */
  needed: number;
  slots: number;
  threads: number;
  /** Listening sockets per thread (listener-set.ts), counted in the headroom. */
  listeners: number;
  /** Descriptors open now plus what each thread and the process add later (other included). */
  headroom: number;
  /** Descriptors the process holds besides connections and listeners: the metrics listener and its connections. */
  other: number;
}

/** Descriptors each thread opens for itself (epoll, eventfds, the spare, a message port), measured 5 on Node 24, plus one. */
const PER_THREAD = 6;
/** For whatever else the process opens while it runs (files, DNS, a handler's own sockets). */
const SPARE = 8;

/** RLIMIT_NOFILE of this process, or null where /proc/self/limits does not exist. */
export function descriptorLimit(): DescriptorLimit | null {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return null;
  }
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(text);
  if (!m) return null;
  const n = (v: string) => (v === 'unlimited' ? Infinity : Number(v));
  return { soft: n(m[1]!), hard: n(m[2]!) };
}

/** Descriptors open in this process now (0 where /proc/self/fd does not exist). */
function openDescriptors(): number {
  try {
    return fs.readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}

/**
 * What `slots` connections and `listeners` listening sockets in each of `threads`
 * event loops need, from what is open now, with `other` descriptors held besides
 * (the metrics listener and the connections it takes at most: without them, its
 * scrapers could take the descriptors the data port's clients need).
 */
export function descriptorBudget(slots: number, threads: number, listeners = 1, other = 0): DescriptorBudget {
  const headroom = openDescriptors() + (PER_THREAD + listeners) * (threads + 1) + SPARE + other;
  return { needed: slots * threads + headroom, slots, threads, listeners, headroom, other };
}

/** The most slots per thread that fit under `limit` descriptors with this headroom (at least 0). */
export function slotsThatFit(limit: number, threads: number, headroom: number): number {
  return Math.max(0, Math.floor((limit - headroom) / threads));
}
