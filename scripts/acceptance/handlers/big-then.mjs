// Echoes; on "big", also sends 600 KB from a .then outside the handler, and records what send() returned.
export function onFrame(frame, c) {
  c.send(frame);
  if (Buffer.from(frame).toString() === 'big') {
    void Promise.resolve().then(() => {
      const ok = c.send(Buffer.alloc(600_000, 0x41));
      c.send(Buffer.from(`send returned ${ok}\n`)); // to a closed connection: false, not a throw
      console.error(`send() of 600 KB from a .then returned ${ok}`);
    });
  }
}
