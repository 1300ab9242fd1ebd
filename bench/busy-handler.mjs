// A frame handler that spends about 20 µs of CPU on each frame before echoing it:
// a stand-in for real per-frame work (parsing, routing, crypto), for measuring
// what worker threads add when the server's own work, not the kernel, dominates.
//   ringwire serve --framing length:4:be --handler bench/busy-handler.mjs --workers 2
import { createHash } from 'node:crypto';

const WORK_US = Number(process.env.BUSY_US ?? 20);

export function onFrame(frame, connection) {
  const until = performance.now() + WORK_US / 1000;
  let h = createHash('sha256');
  while (performance.now() < until) h = createHash('sha256').update(h.digest());
  connection.send(frame);
}
