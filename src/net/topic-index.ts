// This thread's topics that have subscribers, found from the UTF-8 bytes a publish
// record carries (router.ts) without making a string or a copy per record: a
// record's topic is hashed in place (FNV-1a) and compared byte for byte with the
// topics of that hash. A topic is encoded once, when it gets its first subscriber
// on this thread (add), and forgotten when it loses its last (delete): memory
// follows the topics with subscribers, never the messages. A record whose topic
// is not here (its subscribers left while it was on its way) finds nothing.

const encoder = new TextEncoder();

interface Entry {
  topic: string;
  bytes: Uint8Array;
}

export class TopicIndex {
  private readonly byHash = new Map<number, Entry[]>();

  add(topic: string): void {
    const bytes = encoder.encode(topic);
    const h = fnv1a(bytes, bytes.length);
    const list = this.byHash.get(h);
    if (list) list.push({ topic, bytes });
    else this.byHash.set(h, [{ topic, bytes }]);
  }

  delete(topic: string): void {
    const bytes = encoder.encode(topic);
    const h = fnv1a(bytes, bytes.length);
    const list = this.byHash.get(h);
    const i = list ? list.findIndex(e => e.topic === topic) : -1;
    if (i < 0) return;
    if (list!.length === 1) this.byHash.delete(h);
    else list!.splice(i, 1);
  }

  /** The topic whose UTF-8 bytes are body[0, length), if it has subscribers here. */
  find(body: Uint8Array, length: number): string | undefined {
    const list = this.byHash.get(fnv1a(body, length));
    if (!list) return undefined;
    for (const e of list) {
      const b = e.bytes;
      if (b.length !== length) continue;
      let i = 0;
      while (i < length && b[i] === body[i]) i++;
      if (i === length) return e.topic;
    }
    return undefined;
  }
}

/** FNV-1a (32 bits) of bytes[0, length). */
export function fnv1a(bytes: Uint8Array, length = bytes.length): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h;
}
