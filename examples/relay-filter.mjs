// A relay that inspects every frame on its way, both ways: lines that mention a
// password never reach the other side, and tokens are masked. In front of any
// line-based backend:
//
//   npm start -- --port 7001 --framing line --handler examples/kv-store.mjs
//   node dist/cli.js relay --port 7000 --framing line --upstream 127.0.0.1:7001 --handler examples/relay-filter.mjs
//
// onForward(frame, from, to) returns nothing to forward the frame as it is, false
// to drop it, or the bytes to forward instead. Without a handler the relay forwards
// inside the core; with one, each frame is still copied once, into the other side's
// tx ring, and a side that cannot keep up still stops the other side's reading.

export function onForward(frame) {
  const line = Buffer.from(frame).toString();
  if (line.includes('password')) return false;
  if (line.includes('token=')) return Buffer.from(line.replace(/token=\S+/g, 'token=***'));
  return undefined;
}
