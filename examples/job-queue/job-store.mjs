// The jobs table in SQLite (node:sqlite), through one connection per thread:
// every thread reads with its own (GET), and the thread that writes commits
// whole batches with its own (write(), from group-commit.mjs).
//
// Invariants: a job's id is its row id, given in commit order; write() is one
// transaction, all or nothing; the schema is created once, by the first
// connection to take the write lock, however many threads open the file at once.
import { DatabaseSync } from 'node:sqlite';

export function openJobStore(file) {
  const db = new DatabaseSync(file);
  // The threads open the file together at start: wait for a lock rather than fail (SQLITE_BUSY).
  db.exec('PRAGMA busy_timeout = 10000');
  // WAL: the other threads read while the writer commits. Kept in the file, so set once really.
  setWal(db);
  // A commit is on disk (fsync) when it returns: an OK survives a power cut too. Group commit
  // pays it once per batch; NORMAL would survive a crash of the process, not of the machine.
  db.exec('PRAGMA synchronous = FULL');
  createSchema(db);
  const insert = db.prepare('INSERT INTO jobs (payload) VALUES (?)');
  const take = db.prepare(`UPDATE jobs SET state = 'taken'
    WHERE id = (SELECT id FROM jobs WHERE state = 'new' ORDER BY id LIMIT 1) RETURNING id, payload`);
  const get = db.prepare('SELECT id, state, payload FROM jobs WHERE id = ?');
  return {
    /** Run every item in one transaction: { put: payload } gives the new id, { take: true } the oldest new job (or null), now taken. */
    write(items) {
      db.exec('BEGIN IMMEDIATE');
      try {
        const results = items.map(item => (item.put !== undefined ? Number(insert.run(item.put).lastInsertRowid) : take.get() ?? null));
        db.exec('COMMIT');
        return results;
      } catch (err) {
        if (db.isTransaction) db.exec('ROLLBACK');
        throw err;
      }
    },
    /** { id, state, payload }, or undefined: read through this thread's connection. */
    get(id) {
      return get.get(id);
    },
    close() {
      db.close();
    },
  };
}

// Switching a fresh file to WAL needs it exclusively, and SQLite answers "database is
// locked" at once, without waiting busy_timeout, to a connection that would otherwise
// deadlock with another one switching it too (threads opening the file together at
// start: 2 of 160 opens failed so, 4 threads at a time). Try again after a few ms.
function setWal(db) {
  for (let attempt = 1; ; attempt++) {
    try {
      db.exec('PRAGMA journal_mode = WAL');
      return;
    } catch (err) {
      if (attempt >= 200 || (err.errcode & 0xff) !== 5) throw err; // SQLITE_BUSY (and its extended codes)
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5 + Math.random() * 10);
    }
  }
}

// One thread at a time takes the write lock (BEGIN IMMEDIATE waits for it): the first
// creates the table and sets user_version, the others find it set and do nothing.
function createSchema(db) {
  db.exec('BEGIN IMMEDIATE');
  try {
    if (db.prepare('PRAGMA user_version').get().user_version === 0) {
      db.exec(`CREATE TABLE jobs (id INTEGER PRIMARY KEY, payload TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'new');
               PRAGMA user_version = 1;`);
    }
    db.exec('COMMIT');
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw err;
  }
}
