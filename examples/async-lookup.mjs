// examples/async-lookup.mjs: an async handler: the frame stays valid across the await
// (node dist/cli.js serve --framing line --handler examples/async-lookup.mjs)
const db = { get: async key => ({ key, found: key === 'greeting' }) }; // stands for a real database

export async function onFrame(frame, c) {
  const row = await db.get(Buffer.from(frame).toString()); // frame still valid here
  c.send(Buffer.from(JSON.stringify(row)));
}
