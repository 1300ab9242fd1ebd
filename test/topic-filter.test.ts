// The publish filter as docs/workers.md describes it: a worker with subscribers of
// a topic always gets its publishes; a worker without gets them too when another of
// its topics hashes into the same of 1,024 buckets, so with 1,000 topics on a worker
// about 62% of publishes to topics it has none of still reach it, and none reach a
// worker with no topics. When the filter becomes exact, this test and that page change together.
import { describe, expect, it } from 'vitest';
import { Switchboard } from '../src/net/switchboard.ts';

/** How many of these topics' publishes land in place's mailbox (one 1-byte record each). */
function reaching(board: Switchboard, place: number, topics: string[]): number {
  let n = 0;
  for (const topic of topics) {
    expect(board.publish(topic, new Uint8Array([1]))).toBe('sent');
    n += board.mailboxes[place]!.take(10, () => {});
  }
  return n;
}

describe('the publish filter (docs/workers.md)', () => {
  it('exact for a worker\'s own topics, a hash filter for the rest: ~62% pass at 1,000 topics a worker', () => {
    const board = Switchboard.create({ places: 2, slots: 4, mailbox: 1 << 20 });
    board.attach(0, 1);
    board.attach(1, 2);
    const subscribed = Array.from({ length: 1000 }, (_, i) => `room-${i}`);
    for (const topic of subscribed) board.topic(1, topic, true);
    expect(reaching(board, 1, subscribed)).toBe(1000);
    const others = Array.from({ length: 1000 }, (_, i) => `elsewhere-${i}`);
    const passed = reaching(board, 1, others) / others.length;
    // 1 - (1 - 1/1024)^1000 = 0.62: the figure the page gives.
    expect(passed).toBeGreaterThan(0.55);
    expect(passed).toBeLessThan(0.7);
    expect(reaching(board, 0, others)).toBe(0); // a worker with no topics gets nothing
  });
});
