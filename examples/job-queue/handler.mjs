// A job queue on worker threads and SQLite (node:sqlite). Line framing; run it with
//
//   node dist/cli.js serve --workers 2 --framing line --concurrency 64 \
//     --handler examples/job-queue/handler.mjs --handler-options '{"db":"/tmp/jobs.db"}'
//   nc 127.0.0.1 7000
//
// Commands (one per line):
//   PUT <payload>    queue a job: "OK <id>" once it is committed and announced to SUB
//   TAKE             the oldest job not taken yet, now taken: "JOB <id> <payload>", or "NONE"
//   GET <id>         "JOB <id> <new|taken> <payload>", or "ERR no job <id>"
//   SUB              "OK SUB", then "NEW <id> <payload>" for every job committed from now on
//   QUIT             "BYE", and the connection closes
//
// Handler options: db (the file, required), commitEvery (ms to gather writes before a
// commit; default 0: each turn of the writer's event loop), maxBatch (writes per
// transaction at most; default 1000), writeTimeout (ms a write may wait for the
// writer's answer, and the writer for room to publish its notification; default
// 30000: past it the write's connection is closed, ERR_HANDLER). At stop the writer
// prints how many jobs it wrote in how many transactions. node:sqlite: Node 22.13 or
// later; Node 22 warns that it is experimental, once per thread (node
// --disable-warning=ExperimentalWarning turns that off; Node 24 does not warn).
//
// How it is built (docs/workers.md walks through it):
// - Every thread opens its own connection to the database in onStart (WAL: all of
//   them read at once) and closes it in onStop, after the drain; the file's path
//   comes from the handler options.
// - Writes (PUT, TAKE) go to one thread, the owner of the key "jobs", through
//   router.ask from any thread. There a group commit (group-commit.mjs) puts
//   every write that came in during one turn of its event loop in one transaction:
//   one commit (one fsync) for many connections' commands. With --concurrency N a
//   connection's pipelined commands are out together and share commits too; their
//   replies still leave in the order the commands came.
// - After the commit the writer publishes "NEW <id> <payload>" to the topic "jobs"
//   (publishAsync: it waits for room in a busy mailbox), and only then answers the
//   ask: an "OK <id>" means the job is on disk and its notification is on its way to
//   every subscriber, on every thread. SIGTERM drains: every command read is answered
//   and every notification delivered before any connection's FIN.
import { GroupCommit } from './group-commit.mjs';
import { openJobStore } from './job-store.mjs';

const WRITER = 'jobs'; // the key whose owner thread writes: router.owner(WRITER)
const TOPIC = 'jobs';

let store; // this thread's connection to the database
let router; // this thread's router: publishAsync from onAsk, which has no connection
let commits; // on the writer's thread only
let writeTimeout; // ms a PUT or TAKE waits for the writer (router.ask's timeout)

export function onStart({ options, server, thread }) {
  if (typeof options?.db !== 'string') throw new Error('give --handler-options \'{"db":"<file>"}\'');
  store = openJobStore(options.db);
  router = server.router;
  writeTimeout = options.writeTimeout ?? 30_000; // under load a write waits its turn rather than fail at 5 s, the default
  if (router.owner(WRITER) === thread) {
    commits = new GroupCommit(items => store.write(items), { every: options.commitEvery ?? 0, max: options.maxBatch ?? 1000 });
  }
}

export function onOpen(c) {
  c.data = { written: Promise.resolve() }; // this connection's last write, settled once committed
}

export async function onFrame(frame, c) {
  const line = Buffer.from(frame).toString();
  const [word, rest] = split(line);
  if ((word === 'PUT' && rest) || line === 'TAKE') {
    const answer = c.router.ask(WRITER, frame, { timeout: writeTimeout }); // the writer answers after its commit
    c.data.written = answer.then(() => {}, () => {});
    c.send(await answer);
  } else if (word === 'GET' && /^\d+$/.test(rest)) {
    // Pipelined (--concurrency), this GET runs while the connection's earlier PUTs are
    // still out: wait for them, so that a connection always reads its own writes.
    await c.data.written;
    c.send(Buffer.from(describe(Number(rest))));
  } else if (line === 'SUB') {
    c.router.join(c, TOPIC);
    c.send(Buffer.from('OK SUB'));
  } else if (line === 'QUIT') {
    c.send(Buffer.from('BYE'));
    c.close();
  } else c.send(Buffer.from('ERR unknown command'));
}

// On the writer's thread, for the PUTs and TAKEs of every thread.
export async function onAsk(request) {
  const [word, payload] = split(Buffer.from(request).toString());
  if (word === 'PUT') {
    const id = await commits.add({ put: payload });
    await router.publishAsync(TOPIC, Buffer.from(`NEW ${id} ${payload}`), { timeout: writeTimeout }); // before the OK: an OK implies the notification
    return Buffer.from(`OK ${id}`);
  }
  const job = await commits.add({ take: true });
  return Buffer.from(job ? `JOB ${job.id} ${job.payload}` : 'NONE');
}

export function onStop({ thread }) {
  store.close(); // after the drain: no command is left to answer
  if (commits?.commits > 0) console.log(`job-queue: thread ${thread} wrote ${commits.items} jobs in ${commits.commits} transactions`);
}

function describe(id) {
  const job = store.get(id);
  return job ? `JOB ${job.id} ${job.state} ${job.payload}` : `ERR no job ${id}`;
}

function split(line) {
  const space = line.indexOf(' ');
  return space < 0 ? [line, ''] : [line.slice(0, space), line.slice(space + 1)];
}
