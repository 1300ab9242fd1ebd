// Group commit: the writes that arrive in one turn of the event loop (or within
// `every` ms) share one transaction, and each learns its result only once that
// transaction has committed. A commit costs about the same for one row as for a
// thousand (with synchronous=FULL it is an fsync), so under load the rows per
// commit grow with the load instead of the commits.
//
// Invariants: add() resolves after the commit that holds its item, never before;
// items commit in the order add() was called; a failed commit rejects every item
// of its batch and none of them is in the database (the transaction rolled back).
export class GroupCommit {
  #commit;
  #every;
  #max;
  #pending = [];
  #timer = null;
  /** Transactions committed, and the items in them. */
  commits = 0;
  items = 0;

  /** commit(items) writes items in one transaction and returns their results, in order; it runs synchronously (DatabaseSync). */
  constructor(commit, { every = 0, max = 1000 } = {}) {
    this.#commit = commit;
    this.#every = every;
    this.#max = max;
  }

  /** The item's result, once the transaction that holds it has committed. */
  add(item) {
    return new Promise((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      if (this.#pending.length >= this.#max) this.flush();
      // setImmediate runs after this turn's I/O: every ask the mailbox delivered in it is in the batch.
      else this.#timer ??= this.#every > 0 ? setTimeout(() => this.flush(), this.#every) : setImmediate(() => this.flush());
    });
  }

  /** Commit what is pending now. */
  flush() {
    if (this.#every > 0) clearTimeout(this.#timer);
    else clearImmediate(this.#timer);
    this.#timer = null;
    const batch = this.#pending.splice(0);
    if (batch.length === 0) return;
    let results;
    try {
      results = this.#commit(batch.map(p => p.item));
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    this.commits++;
    this.items += batch.length;
    batch.forEach((p, i) => p.resolve(results[i]));
  }
}
