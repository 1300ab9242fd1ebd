// The handler module of the churn measurement (scripts/churn.ts), line framing,
// plain JavaScript so that every worker thread imports it. Commands, one per line:
//   j <topic>          join topic (no reply)
//   l <topic>          leave topic (no reply)
//   p <topic> <text>   publish "<topic> <text>" to topic (no reply; a 'full' mailbox is counted, not retried)
//   mem                -> "mem <threadId> <heap used> <heap total> <publishes refused 'full'>", the
//                         heap of this worker thread after a full GC when the process runs with --expose-gc
import { threadId } from 'node:worker_threads';
import v8 from 'node:v8';

let full = 0;

export function onFrame(frame, c) {
  const op = frame[0];
  if (op === 0x6a /* j */) c.router.join(c, Buffer.from(frame.buffer, frame.byteOffset + 2, frame.length - 2).toString('latin1'));
  else if (op === 0x6c /* l */) c.router.leave(c, Buffer.from(frame.buffer, frame.byteOffset + 2, frame.length - 2).toString('latin1'));
  else if (op === 0x70 /* p */) {
    const space = frame.indexOf(0x20, 2);
    const topic = Buffer.from(frame.buffer, frame.byteOffset + 2, space - 2).toString('latin1');
    if (c.router.publish(topic, frame.subarray(2)) === 'full') full++;
  } else if (op === 0x6d /* m */) {
    globalThis.gc?.();
    const h = v8.getHeapStatistics();
    c.send(Buffer.from(`mem ${threadId} ${h.used_heap_size} ${h.total_heap_size} ${full}`));
  }
}
