// A chat server: rooms that span every worker thread. Line framing; run it with
//
//   npm run example:chat          (node dist/cli.js serve --workers 2 --framing line --handler examples/chat/handler.mjs)
//   nc 127.0.0.1 7000             (in two or more terminals)
//
// Commands (one per line):
//   JOIN <room>            leave the room you were in, join this one (everyone there is told)
//   NICK <name>            your name in messages (default: your connection id)
//   TELL <id> <text>       a private message to one connection, on any worker (ids: WHO AM I)
//   WHO AM I               your connection id
//   anything else          said in your room: "<room> <name>: <text>" to everyone in it
//
// Rooms are ringwire topics: join() on this connection's thread, publish() once per
// message, which reaches every worker through its mailbox (one message per worker,
// not per member); with --cluster redis://HOST:PORT, rooms span every host of the
// cluster too (docs/workers.md). A member that stops reading is closed with ERR_SLOW_CONSUMER
// once its queue is full; the others never wait for it.

export function onOpen(c) {
  c.data = { name: c.id, room: null };
  c.send(Buffer.from(`welcome ${c.id}: JOIN <room> to start`));
}

export function onFrame(frame, c) {
  const line = Buffer.from(frame).toString();
  const me = c.data;
  const router = c.router;
  const [word, rest = ''] = split(line);
  if (word === 'JOIN' && rest) {
    if (me.room) leaveRoom(c);
    me.room = rest;
    router.join(c, rest);
    say(c, `* ${me.name} joined ${rest}`);
  } else if (word === 'NICK' && rest) {
    me.name = rest;
    c.send(Buffer.from(`you are ${rest}`));
  } else if (word === 'TELL') {
    const [to, text] = split(rest);
    const r = router.sendTo(to, Buffer.from(`(private) ${me.name}: ${text}`));
    if (r !== 'sent') c.send(Buffer.from(r === 'closed' ? `${to} is not here` : `${to} is busy: try again`));
  } else if (line === 'WHO AM I') {
    c.send(Buffer.from(`you are ${c.id}`));
  } else if (me.room) {
    say(c, `${me.room} ${me.name}: ${line}`);
  } else {
    c.send(Buffer.from('JOIN <room> first'));
  }
}

export function onClose(c) {
  if (c.data?.room) leaveRoom(c);
}

function leaveRoom(c) {
  const { room, name } = c.data;
  c.router.leave(c, room);
  say(c, `* ${name} left ${room}`);
  c.data.room = null;
}

/** To everyone in the room, on every worker. A full mailbox drops the message (chat can): the sender is told. */
function say(c, text) {
  if (c.router.publish(c.data.room, Buffer.from(text)) === 'full' && c.data.room) c.send(Buffer.from('busy: message not sent'));
}

function split(s) {
  const i = s.indexOf(' ');
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
}
