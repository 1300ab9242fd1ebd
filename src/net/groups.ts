// Topics and their local subscribers: the connections of this thread that joined
// each topic. A connection leaves every topic when it closes (Router.closed), so
// a topic never holds a closed connection, and an empty topic is forgotten.
// Publishing reaches other threads through their mailboxes (router.ts); this
// registry only knows its own thread's connections. A watcher (watch()) hears
// when a topic gets its first subscriber on this thread and when it loses its
// last: a cluster (cluster.ts) subscribes its host to the topic in Redis then;
// and of every join and leave (a count: the switchboard's shared subscriber table).

import type { Connection } from './connection.ts';

export class Groups {
  private readonly members = new Map<string, Set<Connection>>();
  private readonly joined = new Map<Connection, Set<string>>();
  private watcher: ((topic: string, active: boolean) => void) | undefined;
  private counter: ((topic: string, delta: number) => void) | undefined;

  /**
   * Tell watcher of every topic with subscribers now (active), and from now on of each
   * change; and counter of every subscriber now (+n), and from now on of each join (+1) and leave (-1).
   */
  watch(watcher: (topic: string, active: boolean) => void, counter?: (topic: string, delta: number) => void): void {
    this.watcher = watcher;
    this.counter = counter;
    for (const [topic, set] of this.members) {
      watcher(topic, true);
      counter?.(topic, set.size);
    }
  }

  /** Add connection to topic; false if it was already there. */
  join(connection: Connection, topic: string): boolean {
    let set = this.members.get(topic);
    if (!set) this.members.set(topic, (set = new Set()));
    if (set.has(connection)) return false;
    set.add(connection);
    if (set.size === 1) this.watcher?.(topic, true);
    this.counter?.(topic, 1);
    let topics = this.joined.get(connection);
    if (!topics) this.joined.set(connection, (topics = new Set()));
    topics.add(topic);
    return true;
  }

  /** Remove connection from topic; false if it was not there. */
  leave(connection: Connection, topic: string): boolean {
    const set = this.members.get(topic);
    if (!set?.delete(connection)) return false;
    this.counter?.(topic, -1);
    if (set.size === 0) this.forget(topic);
    const topics = this.joined.get(connection)!;
    topics.delete(topic);
    if (topics.size === 0) this.joined.delete(connection);
    return true;
  }

  /** Remove connection from every topic (it closed). */
  leaveAll(connection: Connection): void {
    const topics = this.joined.get(connection);
    if (!topics) return;
    for (const topic of topics) {
      const set = this.members.get(topic)!;
      set.delete(connection);
      this.counter?.(topic, -1);
      if (set.size === 0) this.forget(topic);
    }
    this.joined.delete(connection);
  }

  private forget(topic: string): void {
    this.members.delete(topic);
    this.watcher?.(topic, false);
  }

  /** The topics with subscribers on this thread. */
  topics(): IterableIterator<string> {
    return this.members.keys();
  }

  /** This thread's subscribers of topic (do not keep: it changes as they join and leave). */
  subscribers(topic: string): ReadonlySet<Connection> | undefined {
    return this.members.get(topic);
  }
}
