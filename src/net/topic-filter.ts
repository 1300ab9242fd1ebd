// One place's topic filter: the topics that have subscribers on that place's
// thread, with how many, in shared memory that any thread reads without a lock.
// publish() sends a record to a place only if its filter holds the topic, and
// subscribers(topic) adds every place's count.
//
//   growable SharedArrayBuffer (Int32 words)
//   ┌─────────┬────────────┬─────────┬───────────┬──────────────────────────────────────────┐
//   │ seq @0  │ capacity @1│ used @2 │ untracked │ capacity entries × (h1, h2, count)        │
//   │ (even:  │ (a power   │         │ @3        │ open addressing, linear probing from      │
//   │ stable) │ of two)    │         │           │ h1 & (capacity - 1); (0, 0) is empty      │
//   └─────────┴────────────┴─────────┴───────────┴──────────────────────────────────────────┘
//
// Exact: a topic is matched on 64 bits of hash of its UTF-16 code units (two
// independent 32-bit hashes: FNV-1a and the same walk with another odd
// multiplier, each finished with murmur3's fmix32; h2 is never 0). Two topics
// that share both hashes share an entry: a publish to one reaches a worker that
// has only the other (its owner finds no subscriber), and subscribers() adds
// their counts; an entry never empties while either has a subscriber, so a
// collision never loses a publish. (None in 100,000 × 100,000 topics: the test.)
//
// One writer, any readers (a seqlock):
//   - Only the thread serving the place writes it (join and leave, through the
//     switchboard), or the parent once that thread has exited (clear()).
//   - Every change is bracketed by seq += 1 (odd: changing) and seq += 1 (even).
//     A reader notes seq, probes, and reads seq again: a different or odd seq
//     means it may have seen a half-made change, and it reads again, at most
//     SPINS times; then it answers "unknown" (-1), which publish() takes as
//     "send it" (the owner finds no subscriber and drops it, as without a
//     filter). So a writer that dies mid-change (worker.terminate()) can cost
//     extra records until the parent clears its table, never a lost one.
//   - Deletion shifts the entries after it back (no tombstones: join/leave churn
//     never lengthens the probes), which a seqlock makes safe for readers.
//   - The table grows (doubling, rehashed under the seqlock) to keep used ≤ half
//     of capacity, up to MAX_ENTRIES; it never shrinks (its memory is bounded by
//     the most topics the place ever had at once). Past MAX_ENTRIES, a new topic
//     is kept off the table and counted in `untracked`: while that is non-zero
//     every publish goes to this place (correct, no longer filtered), and
//     subscribers() does not count those topics.
//
// Ordering rule: a join has written the topic before it returns (the seq-cst
// stores of the bracket), so a publish() that starts after a join returned, on
// any thread, sees it and sends to that place; the record reaches the mailbox
// after it, and the owner delivers it to every subscriber the topic has then.
// A publish that started before the join returned may or may not reach it.

/** Readers retry a probe that overlapped a change this many times, then answer -1 (unknown). */
const SPINS = 64;
const SEQ = 0;
const CAPACITY = 1;
const USED = 2;
const UNTRACKED = 3;
const HEADER = 4;
const WORDS = 3;
const INITIAL_ENTRIES = 256;
/** 2^20 entries: 12 MiB of address space reserved per place, used only as topics need it. */
const MAX_ENTRIES = 1 << 20;

const bytesFor = (entries: number): number => 4 * (HEADER + entries * WORDS);

/** murmur3's 32-bit finaliser: every input bit reaches every output bit. */
function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/** A topic's two hashes, computed once and reused (no allocation per topic). */
export class TopicKey {
  h1 = 0;
  h2 = 1;
  private topic = '';

  /** Hash topic (again only when it differs from the last). Returns this. */
  of(topic: string): this {
    if (topic !== this.topic || this.topic === '') {
      let a = 0x811c9dc5;
      let b = 0x050c5d1f;
      for (let i = 0; i < topic.length; i++) {
        const c = topic.charCodeAt(i);
        a = Math.imul(a ^ c, 0x01000193);
        b = Math.imul(b ^ c, 0x5bd1e995);
      }
      this.h1 = fmix(a);
      this.h2 = fmix(b) | 1; // never 0: (0, 0) is an empty entry
      this.topic = topic;
    }
    return this;
  }
}

export class TopicFilter {
  readonly buffer: SharedArrayBuffer;
  /** The header words, which never move. */
  private readonly header: Int32Array;
  /**
   * The header and the table at the capacity last seen: a view of fixed length, made
   * again when the capacity changes (a length-tracking view of a growable buffer
   * made every access about 8 times slower on Node 24).
   */
  private w: Int32Array;
  /** The owner's topics kept off a full table, and their subscribers (only the owner's instance uses it). */
  private readonly off = new Map<string, number>();

  static create(): SharedArrayBuffer {
    const buffer = new SharedArrayBuffer(bytesFor(INITIAL_ENTRIES), { maxByteLength: bytesFor(MAX_ENTRIES) });
    new Int32Array(buffer)[CAPACITY] = INITIAL_ENTRIES;
    return buffer;
  }

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.header = new Int32Array(buffer, 0, HEADER);
    this.w = this.header;
  }

  /** The view of the table at its current capacity (the owner grows the buffer before it stores a larger capacity). */
  private table(): Int32Array {
    const capacity = Atomics.load(this.header, CAPACITY);
    if (this.w.length !== HEADER + capacity * WORDS) this.w = new Int32Array(this.buffer, 0, HEADER + capacity * WORDS);
    return this.w;
  }

  // ---- any thread ----

  /** Subscribers of the topic on this place: ≥ 0, or -1 when a change kept overlapping the read (treat as "maybe"). */
  count(key: TopicKey): number {
    const header = this.header;
    for (let spin = 0; spin < SPINS; spin++) {
      const seq = Atomics.load(header, SEQ);
      if ((seq & 1) !== 0) continue;
      const n = this.probe(this.table(), key.h1, key.h2);
      if (Atomics.load(header, SEQ) === seq) return n;
    }
    return -1;
  }

  /** Does a publish to this topic have to go to this place? (It has subscribers, may have, or topics the table could not hold.) */
  wants(key: TopicKey): boolean {
    return Atomics.load(this.header, UNTRACKED) !== 0 || this.count(key) !== 0;
  }

  /** The count in the entry for (h1, h2), 0 if none; what it reads may be torn: count() checks seq around it. */
  private probe(w: Int32Array, h1: number, h2: number): number {
    const capacity = (w.length - HEADER) / WORDS;
    const mask = capacity - 1;
    let i = h1 & mask;
    for (let n = 0; n < capacity; n++, i = (i + 1) & mask) {
      const e = HEADER + i * WORDS;
      const a = Atomics.load(w, e);
      const b = Atomics.load(w, e + 1);
      if (a === h1 && b === h2) return Atomics.load(w, e + 2);
      if (a === 0 && b === 0) return 0;
    }
    return 0;
  }

  // ---- the owner of the place ----

  /** One of this place's connections joined the topic (delta 1), left it (-1), or n were there already (n). */
  add(topic: string, key: TopicKey, delta: number): void {
    const w = this.table();
    const off = this.off.get(topic);
    if (off !== undefined) {
      if (off + delta > 0) this.off.set(topic, off + delta);
      else {
        this.off.delete(topic);
        Atomics.store(w, UNTRACKED, this.off.size);
      }
      return;
    }
    const { h1, h2 } = key;
    const mask = w[CAPACITY]! - 1;
    let i = h1 & mask;
    for (;;) {
      const e = HEADER + i * WORDS;
      const a = w[e]!;
      const b = w[e + 1]!;
      if (a === h1 && b === h2) {
        const n = w[e + 2]! + delta;
        if (n > 0) Atomics.store(w, e + 2, n); // one word: a reader sees the old count or the new, both true a moment apart
        else this.remove(i);
        return;
      }
      if (a === 0 && b === 0) break;
      i = (i + 1) & mask;
    }
    if (delta <= 0) return;
    if (2 * (w[USED]! + 1) > w[CAPACITY]! && !this.grow()) {
      this.off.set(topic, delta);
      Atomics.store(w, UNTRACKED, this.off.size);
      return;
    }
    this.begin();
    this.place(h1, h2, delta);
    w[USED]!++;
    this.end();
  }

  /** Empty the table (its thread attaches, detaches, or has exited). */
  clear(): void {
    const w = this.table();
    const seq = Atomics.load(w, SEQ);
    Atomics.store(w, SEQ, seq | 1); // odd even if a dead writer left it odd
    w.fill(0, HEADER, HEADER + w[CAPACITY]! * WORDS);
    w[USED] = 0;
    w[UNTRACKED] = 0;
    this.off.clear();
    Atomics.store(w, SEQ, (seq | 1) + 1);
  }

  private begin(): void {
    Atomics.add(this.header, SEQ, 1);
  }

  private end(): void {
    Atomics.add(this.header, SEQ, 1);
  }

  /** Put (h1, h2, n) in the first empty entry of its probe (inside begin()/end(), or on a private table). */
  private place(h1: number, h2: number, n: number): void {
    const w = this.table();
    const mask = w[CAPACITY]! - 1;
    let i = h1 & mask;
    while (w[HEADER + i * WORDS] !== 0 || w[HEADER + i * WORDS + 1] !== 0) i = (i + 1) & mask;
    const e = HEADER + i * WORDS;
    w[e] = h1;
    w[e + 1] = h2;
    w[e + 2] = n;
  }

  /** Delete entry i: move back each later entry of the run that may sit at i (linear probing, no tombstones). */
  private remove(i: number): void {
    const w = this.table();
    const mask = w[CAPACITY]! - 1;
    this.begin();
    let hole = i;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const e = HEADER + j * WORDS;
      if (w[e] === 0 && w[e + 1] === 0) break;
      const home = w[e]! & mask;
      // Entry j may move to the hole if its home is not in (hole, j] (cyclically).
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (stays) continue;
      w.copyWithin(HEADER + hole * WORDS, e, e + WORDS);
      hole = j;
    }
    w.fill(0, HEADER + hole * WORDS, HEADER + (hole + 1) * WORDS);
    w[USED]!--;
    this.end();
  }

  /** Double the table and rehash it; false at MAX_ENTRIES. */
  private grow(): boolean {
    const capacity = this.header[CAPACITY]!;
    if (capacity >= MAX_ENTRIES) return false;
    const old = this.table().slice(HEADER); // the owner's private copy: a rare step (a doubling)
    this.buffer.grow(bytesFor(2 * capacity));
    this.begin();
    Atomics.store(this.header, CAPACITY, 2 * capacity);
    this.table().fill(0, HEADER);
    for (let e = 0; e < old.length; e += WORDS) {
      if (old[e] !== 0 || old[e + 1] !== 0) this.place(old[e]!, old[e + 1]!, old[e + 2]!);
    }
    this.end();
    return true;
  }
}
