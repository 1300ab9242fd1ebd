// The differential properties (test/differential-property.ts: decoding, what a
// delimiter framing's send() refuses, and fan-out into many tx rings; and
// test/websocket-property.ts: WebSocket frames decoded and sent) far beyond the test suite's budget:
//   npm run fuzz -- --runs 1000000 [--seed S] [--time 60s] [--jobs N] [--only websocket]
// (--only websocket: the WebSocket property alone, each run one WebSocket stream.)
// Runs are split over N worker threads (default: one per CPU), job i using seed
// S + i. It prints runs per second as it goes and, on a failure, the shrunk
// counterexample and the seed and path that replay it on one thread
// (npm run fuzz -- --jobs 1 --seed S --path P). --time stops early, without
// failing, once that much time has passed: CI runs such a slice with a fresh
// seed each time, printed first.
import fc from 'fast-check';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { caseArb, checkCase, checkFanoutCase, checkSendCase, fanoutCaseArb, sendCaseArb } from '../test/differential-property.ts';
import { checkWsCase, wsCaseArb } from '../test/websocket-property.ts';

interface Job {
  /** Only the WebSocket property (--only websocket). */
  websocket: boolean;
  seed: number;
  runs: number;
  path?: string;
  /** Milliseconds before stopping early (not a failure). */
  limit?: number;
}

type Report =
  | { type: 'progress'; done: number; predicted: number; errors: number; retaken: number; noMemoryAtRead: number }
  | { type: 'end'; failure?: string; seed: number; path?: string };

/** One job: fc.check over its share of the runs, reporting counts every half second. */
async function runJob(job: Job, report: (r: Report) => void): Promise<void> {
  let done = 0;
  let predicted = 0;
  let errors = 0;
  let retaken = 0;
  let noMemoryAtRead = 0;
  let last = performance.now();
  const settings = { numRuns: job.runs, seed: job.seed, path: job.path, interruptAfterTimeLimit: job.limit, markInterruptAsFailure: false };
  const websocketOnly = () => fc.check(fc.asyncProperty(wsCaseArb, async w => {
    const run = await checkWsCase(w);
    done++;
    if (run.error) errors++;
    if (performance.now() - last > 500) {
      last = performance.now();
      report({ type: 'progress', done, predicted, errors, retaken, noMemoryAtRead });
      done = errors = 0;
    }
  }), settings);
  // Each run: a stream to decode, a payload to send on a delimiter framing, a batch to fan out, and a WebSocket stream.
  const all = () => fc.check(fc.asyncProperty(caseArb, sendCaseArb, fanoutCaseArb, wsCaseArb, async (c, s, f, w) => {
    const run = await checkCase(c);
    await checkSendCase(s);
    await checkFanoutCase(f);
    await checkWsCase(w);
    done++;
    if (run.predicted) predicted++;
    if (run.expected.error) errors++;
    if (run.retaken) retaken++;
    if (run.noMemoryAtRead) noMemoryAtRead++;
    if (performance.now() - last > 500) {
      last = performance.now();
      report({ type: 'progress', done, predicted, errors, retaken, noMemoryAtRead });
      done = predicted = errors = retaken = noMemoryAtRead = 0;
    }
  }), settings);
  const end = <T>(details: fc.RunDetails<T>): void => {
    report({ type: 'progress', done, predicted, errors, retaken, noMemoryAtRead });
    if (!details.failed) return report({ type: 'end', seed: details.seed });
    const why = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    report({ type: 'end', failure: `${fc.defaultReportMessage(details) ?? 'failed'}\n\nThe check that failed: ${why}`, seed: details.seed, path: details.counterexamplePath ?? undefined });
  };
  if (job.websocket) end(await websocketOnly());
  else end(await all());
}

function seconds(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  return m ? Number(m[1]) * { ms: 0.001, s: 1, m: 60 }[(m[2] ?? 's') as 'ms' | 's' | 'm'] : NaN;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '100000' },
      seed: { type: 'string' },
      path: { type: 'string' },
      time: { type: 'string' },
      jobs: { type: 'string' },
      only: { type: 'string' },
    },
  });
  const runs = Number(values.runs);
  const seed = values.seed === undefined ? (Date.now() ^ (Math.random() * 2 ** 31)) | 0 : Number(values.seed);
  const limit = values.time === undefined ? undefined : seconds(values.time) * 1000;
  const jobs = values.path ? 1 : Number(values.jobs ?? availableParallelism());
  const websocket = values.only === 'websocket';
  if (![runs, seed, jobs].every(Number.isInteger) || runs < 1 || jobs < 1 || (limit !== undefined && !(limit > 0)) || (values.only !== undefined && !websocket)) {
    console.error('usage: npm run fuzz -- --runs N [--seed S] [--time 60s] [--jobs N] [--path P] [--only websocket]');
    return 2;
  }
  console.log(`ringwire fuzz${websocket ? ' (websocket only)' : ''}: ${runs} runs on ${jobs} thread(s), seed ${seed}${jobs > 1 ? ` to ${seed + jobs - 1}` : ''}${limit ? `, at most ${values.time}` : ''}`);

  const total = { done: 0, predicted: 0, errors: 0, retaken: 0, noMemoryAtRead: 0 };
  const t0 = performance.now();
  const line = () => {
    const s = (performance.now() - t0) / 1000;
    if (websocket) return `${total.done} runs in ${s.toFixed(1)} s: ${Math.round(total.done / s)} runs/s (${total.errors} ending in an error)`;
    return `${total.done} runs in ${s.toFixed(1)} s: ${Math.round(total.done / s)} runs/s (${total.predicted} predicted from their segments, ${total.errors} ending in an error, ${total.retaken} taking an rx ring again after idling, ${total.noMemoryAtRead} finding none for it)`;
  };
  const ticker = setInterval(() => console.log(line()), 5000);
  const failures: string[] = [];
  const onReport = (r: Report) => {
    if (r.type === 'progress') {
      total.done += r.done;
      total.predicted += r.predicted;
      total.errors += r.errors;
      total.retaken += r.retaken;
      total.noMemoryAtRead += r.noMemoryAtRead;
    } else if (r.failure) {
      failures.push(`${r.failure}\n\nReplay: npm run fuzz -- --jobs 1 --runs 1 --seed ${r.seed} --path ${r.path}${websocket ? ' --only websocket' : ''}`);
    }
  };
  const share = (i: number) => Math.floor(runs / jobs) + (i < runs % jobs ? 1 : 0);
  await Promise.all(Array.from({ length: jobs }, (_, i) => {
    const job: Job = { websocket, seed: seed + i, runs: share(i), path: values.path, limit };
    if (jobs === 1) return runJob(job, onReport);
    return new Promise<void>((resolve, reject) => {
      const worker = new Worker(new URL(import.meta.url), { workerData: job });
      worker.on('message', onReport);
      worker.once('error', reject);
      worker.once('exit', () => resolve());
    });
  }));
  clearInterval(ticker);
  console.log(line());
  for (const f of failures) console.error(`\nFAILED\n${f}`);
  return failures.length ? 1 : 0;
}

if (isMainThread) process.exitCode = await main();
else await runJob(workerData as Job, r => parentPort!.postMessage(r));
