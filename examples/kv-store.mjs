// examples/kv-store.mjs: a key-value store for one thread. On worker threads each imports
// this module and keeps its own Map: a key SET through one worker is (nil) on another.
// (docs/embedding.md shows it; test/cli.test.ts runs it through `ringwire serve --handler`).
const store = new Map();

export function onOpen(c) { c.data = { commands: 0 }; }

export function onFrame(frame, c) {
  const [cmd, key, value] = Buffer.from(frame).toString().split(' ');
  c.data.commands++;
  if (cmd === 'SET') { store.set(key, value); c.send(Buffer.from('OK')); }
  else if (cmd === 'GET') c.send(Buffer.from(store.get(key) ?? '(nil)'));
  else if (cmd === 'QUIT') { c.send(Buffer.from('BYE')); c.close(); }
  else c.send(Buffer.from('ERR unknown command'));
}

export function onClose(c, err) {
  if (err) console.warn(c.id, c.remoteAddress, err.code, `after ${c.data.commands} commands`);
}
