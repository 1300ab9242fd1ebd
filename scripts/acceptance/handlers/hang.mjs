// "hang": a handler that never settles; anything else: echoed.
export async function onFrame(frame, c) {
  if (Buffer.from(frame).toString() === 'hang') await new Promise(() => {});
  c.send(frame);
}
