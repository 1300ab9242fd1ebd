// The publish filter as docs/workers.md describes it (src/net/topic-filter.ts):
// exact per worker. A worker gets a publish's record only if it has a subscriber of
// the topic, at 10 or 100,000 topics; leaving, detaching and a thread's exit clear
// it; and a join that has returned on one thread is seen by a publish that starts
// after it on another, while the table grows and shifts under the reads.
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { Switchboard } from '../src/net/switchboard.ts';
import { Mailbox } from '../src/net/mailbox.ts';
import { bundledFixture } from './fixture-bundle.ts';

const JOINER = bundledFixture(new URL('./fixtures/topic-joiner.mjs', import.meta.url));
const ONE = new Uint8Array([1]);
const skip = () => {};

/** How many of these topics' publishes land in place's mailbox (one record each at most; the other mailboxes are emptied). */
function reaching(board: Switchboard, place: number, topics: Iterable<string>): number {
  let n = 0;
  let refused = 0;
  for (const topic of topics) {
    if (board.publish(topic, ONE) !== 'sent') refused++;
    Mailbox.sealAll(); // the end of the tick: this thread's publish batches are handed on
    for (let p = 0; p < board.mailboxes.length; p++) {
      const taken = board.mailboxes[p]!.take(10, skip);
      if (p === place) n += taken;
    }
  }
  expect(refused).toBe(0);
  return n;
}

const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

/** A deterministic PRNG (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

describe('the topic filter (docs/workers.md)', () => {
  it.each([10, 1000, 100_000])('exact at %i topics on a worker: its own topics reach it, no other topic does', topics => {
    const board = Switchboard.create({ places: 2, slots: 4, mailbox: 1 << 16 });
    board.attach(0, 1);
    board.attach(1, 2);
    const subscribed = names('room', topics);
    for (const topic of subscribed) board.subscribed(1, topic, 1);
    expect(reaching(board, 1, subscribed)).toBe(topics);
    expect(reaching(board, 0, subscribed)).toBe(0); // a worker with no topics gets nothing
    expect(reaching(board, 1, names('elsewhere', 100_000))).toBe(0); // no false positive
    expect(board.subscribers('room-0')).toBe(1);
    expect(board.subscribers('elsewhere-0')).toBe(0);
  });

  it('counts follow joins and leaves through churn, and a topic whose last subscriber left reaches no one', () => {
    const board = Switchboard.create({ places: 2, slots: 4 });
    board.attach(0, 1);
    board.attach(1, 2);
    const next = random(23);
    const topics = names('t', 3000);
    const counts = [new Map<string, number>(), new Map<string, number>()];
    for (let step = 0; step < 60_000; step++) {
      const place = next() < 0.5 ? 0 : 1;
      const topic = topics[Math.floor(next() * topics.length)]!;
      const n = counts[place]!.get(topic) ?? 0;
      const delta = n > 0 && next() < 0.55 ? -1 : 1;
      board.subscribed(place, topic, delta);
      counts[place]!.set(topic, n + delta);
    }
    for (const topic of topics) {
      expect(board.subscribers(topic)).toBe((counts[0]!.get(topic) ?? 0) + (counts[1]!.get(topic) ?? 0));
    }
    for (const place of [0, 1]) {
      const mine = topics.filter(t => (counts[place]!.get(t) ?? 0) > 0);
      expect(reaching(board, place, topics)).toBe(mine.length);
      // Everyone leaves: nothing reaches this place any more.
      for (const t of mine) board.subscribed(place, t, -counts[place]!.get(t)!);
      expect(reaching(board, place, topics)).toBe(0);
    }
  });

  it('past 524,288 topics on a worker (a full table) every publish goes to it until the topics kept off the table are gone', () => {
    const board = Switchboard.create({ places: 2, slots: 4 });
    board.attach(0, 1);
    board.attach(1, 2);
    const fit = 524_288; // 2^20 entries, at most half of them used
    const topics = names('room', fit + 1000);
    for (const topic of topics) board.subscribed(1, topic, 1);
    expect(reaching(board, 1, ['nobody-has-this'])).toBe(1); // not filtered while topics are off the table
    expect(reaching(board, 0, ['room-0'])).toBe(0);
    expect(board.subscribers('room-0')).toBe(1);
    for (const topic of topics.slice(fit)) board.subscribed(1, topic, -1);
    expect(reaching(board, 1, ['nobody-has-this'])).toBe(0); // exact again
    expect(reaching(board, 1, [topics[fit - 1]!])).toBe(1);
  }, 120_000);

  it('a thread that detaches, or exits, leaves nothing behind: its successor starts with an empty filter', async () => {
    const board = Switchboard.create({ places: 1, slots: 4 });
    board.attach(0, 1);
    board.subscribed(0, 'room', 1);
    board.detach(0, 1);
    board.attach(0, 2);
    expect(reaching(board, 0, ['room'])).toBe(0);
    board.detach(0, 2);

    // A thread terminated in the middle of joining and leaving (a change may be half made): the parent detaches it.
    const progress = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(JOINER, { workerData: { init: board.init, place: 0, count: 1_000_000, window: 100, progress: progress.buffer } });
    while (Atomics.load(progress, 0) < 5000) await new Promise(resolve => setTimeout(resolve, 5));
    const tid = worker.threadId;
    await worker.terminate();
    board.detach(0, tid);
    board.attach(0, 3);
    expect(reaching(board, 0, Array.from({ length: Atomics.load(progress, 0) }, (_, i) => `t${i}`))).toBe(0);
    board.subscribed(0, 'room', 1); // and the filter works on
    expect(reaching(board, 0, ['room', 'other'])).toBe(1);
  });

  it('a join that returned on one thread is seen by every publish that starts after it on another, while the table grows and shifts', async () => {
    const board = Switchboard.create({ places: 1, slots: 4, mailbox: 1 << 20 });
    const progress = new Int32Array(new SharedArrayBuffer(4));
    const count = 300_000;
    const window = 50;
    const worker = new Worker(JOINER, { workerData: { init: board.init, place: 0, count, window, progress: progress.buffer } });
    try {
      let checked = 0;
      let missed = 0;
      for (;;) {
        const p = Atomics.load(progress, 0);
        if (p > 0) {
          // "t<p-1>" was joined before p was stored; it is left only once progress passes p - 1 + window.
          const sent = reaching(board, 0, [`t${p - 1}`]);
          if (Atomics.load(progress, 0) < p - 1 + window) {
            checked++;
            missed += 1 - sent;
          }
        }
        if (p === count) break;
        if (checked % 4096 === 0) await new Promise(resolve => setImmediate(resolve));
      }
      expect(missed).toBe(0);
      expect(checked).toBeGreaterThan(100);
    } finally {
      await worker.terminate();
    }
  });
});
