// examples/task-per-connection.mjs: a task per connection, tokio-style
// (node dist/cli.js serve --framing line --handler examples/task-per-connection.mjs)
export async function onConnection(c) {
  for await (const frame of c) {           // each frame valid until the loop asks for the next
    if (Buffer.from(frame).toString() === 'bye') return;   // returning closes the connection (gracefully)
    c.send(frame);
  }
}
