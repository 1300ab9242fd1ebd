// examples/kv-store.mjs: a key-value store that gives the same answers on any number of
// worker threads. Each key lives on one thread, the one router.owner(key) names (a stable
// hash over the threads); a connection on any thread asks that thread (router.ask) and its
// onAsk answers from its own Map. On one thread the ask is a direct call: no mailbox.
// (docs/workers.md shows it; test/cli.test.ts and test/asks.test.ts run it through `ringwire serve --handler`).
const store = new Map(); // the keys this thread owns

export function onOpen(c) { c.data = { commands: 0 }; }

export async function onFrame(frame, c) {
  const [cmd, key] = Buffer.from(frame).toString().split(' ');
  c.data.commands++;
  if ((cmd === 'SET' || cmd === 'GET') && key) c.send(await c.router.ask(key, frame)); // the owner answers
  else if (cmd === 'QUIT') { c.send(Buffer.from('BYE')); c.close(); }
  else c.send(Buffer.from('ERR unknown command'));
}

// On the thread that owns the key, whichever thread asked.
export function onAsk(request) {
  const [cmd, key, value] = Buffer.from(request).toString().split(' ');
  if (cmd === 'SET') { store.set(key, value); return Buffer.from('OK'); }
  return Buffer.from(store.get(key) ?? '(nil)');
}

export function onClose(c, err) {
  if (err) console.warn(c.id, c.remoteAddress, err.code, `after ${c.data.commands} commands`);
}
