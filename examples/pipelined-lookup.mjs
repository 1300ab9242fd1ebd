// examples/pipelined-lookup.mjs: independent requests of one connection looked up at once, answered in order
// (node dist/cli.js serve --framing line --concurrency 64 --handler examples/pipelined-lookup.mjs)
import { setTimeout } from 'node:timers/promises';

const db = { get: async key => { await setTimeout(3 * key.length); return { key, found: key === 'greeting' }; } }; // a longer key takes longer

export async function onFrame(frame, c, reply) {
  const row = await db.get(Buffer.from(frame).toString()); // frame still valid here
  reply.send(Buffer.from(JSON.stringify(row))); // in this frame's place, whichever lookup ends first
}
