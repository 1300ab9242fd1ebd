// An echo that keeps an audit log: every line a client sends is answered and
// appended to a file, one file per thread, opened when the thread starts and
// flushed and closed when it stops (after the drain: no frame comes after it).
//
//   node dist/cli.js serve --workers 2 --framing line --handler examples/audit-log.mjs \
//     --handler-options '{"dir":"/tmp"}'        (or @options.json)
//   → /tmp/audit-0.log and /tmp/audit-1.log, a line per frame each thread served
//
// onStart and onStop run once per thread, each thread with its own copy of the
// handler options; a throw in onStart fails the start, naming the module and thread.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';

let log; // this thread's file: each worker thread imports this module for itself

export async function onStart({ options, thread }) {
  if (typeof options?.dir !== 'string') throw new Error('give --handler-options \'{"dir":"<directory>"}\'');
  log = createWriteStream(path.join(options.dir, `audit-${thread}.log`), { flags: 'a' });
  await once(log, 'open'); // a directory that is not there fails the start, not the first frame
}

export function onFrame(frame, connection) {
  log.write(`${connection.remoteAddress}:${connection.remotePort} ${Buffer.from(frame)}\n`);
  connection.send(frame);
}

export async function onStop() {
  log.end();
  await once(log, 'finish'); // every line is in the file before the thread (and process) ends
}
