// Topics and their local subscribers: the connections of this thread that joined
// each topic. A connection leaves every topic when it closes (Router.closed), so
// a topic never holds a closed connection, and an empty topic is forgotten.
// Publishing reaches other threads through their mailboxes (router.ts); this
// registry only knows its own thread's connections.

import type { Connection } from './connection.ts';

export class Groups {
  private readonly members = new Map<string, Set<Connection>>();
  private readonly joined = new Map<Connection, Set<string>>();

  /** Add connection to topic; false if it was already there. */
  join(connection: Connection, topic: string): boolean {
    let set = this.members.get(topic);
    if (!set) this.members.set(topic, (set = new Set()));
    if (set.has(connection)) return false;
    set.add(connection);
    let topics = this.joined.get(connection);
    if (!topics) this.joined.set(connection, (topics = new Set()));
    topics.add(topic);
    return true;
  }

  /** Remove connection from topic; false if it was not there. */
  leave(connection: Connection, topic: string): boolean {
    const set = this.members.get(topic);
    if (!set?.delete(connection)) return false;
    if (set.size === 0) this.members.delete(topic);
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
      if (set.size === 0) this.members.delete(topic);
    }
    this.joined.delete(connection);
  }

  /** This thread's subscribers of topic (do not keep: it changes as they join and leave). */
  subscribers(topic: string): ReadonlySet<Connection> | undefined {
    return this.members.get(topic);
  }

}
