// A WebSocket chat: rooms that span every worker thread, for browsers (the page
// beside this file, ws-chat.html) and any WebSocket client. Run it with
//
//   npm start -- --framing websocket --handler examples/ws-chat.mjs --workers 2
//   open examples/ws-chat.html in a browser (it connects to ws://127.0.0.1:7000/chat;
//   ?port=N&room=R&name=N choose another port, room or name)
//
// Messages are JSON in text frames, one per WebSocket message:
//   client -> server   {"join": "<room>"}   leave your room, join this one (everyone there is told)
//                      {"nick": "<name>"}   your name in messages (default: your connection id)
//                      {"say": "<text>"}    to everyone in your room
//   server -> client   {"info": "<text>"}                           to you alone (a text message)
//                      {"room": "<room>", "from": "<name>", "text": "<text>"}   said in your room
// What is said in a room is published once (router.publish): it reaches every
// worker through its mailbox and is framed there once for all its members, as a
// binary message (a publish carries bytes, not text: the page reads it as UTF-8).
// A member that stops reading is closed with ERR_SLOW_CONSUMER once its queue is
// full; the others never wait for it. Anything but a JSON object in a text message
// closes that connection with 1008 (policy violation); only that connection.

const encoder = new TextEncoder();
const json = value => encoder.encode(JSON.stringify(value));

/** Only /chat upgrades: anything else is a plain 404 (the upgrade is refused before a WebSocket exists). */
export function onUpgrade(request) {
  if (request.path !== '/chat') return { status: 404, body: 'the chat is at /chat' };
}

export function onOpen(c) {
  c.data = { name: c.id, room: null };
  c.send(json({ info: `welcome ${c.id}: join a room to start` }), { text: true });
}

export function onFrame(message, c, reply, text) {
  let m;
  try {
    m = text ? JSON.parse(Buffer.from(message).toString()) : null;
  } catch {
    m = null;
  }
  if (m === null || typeof m !== 'object') return c.close(1008, 'send JSON objects in text messages');
  const me = c.data;
  if (typeof m.nick === 'string' && m.nick) {
    me.name = m.nick;
    c.send(json({ info: `you are ${m.nick}` }), { text: true });
  } else if (typeof m.join === 'string' && m.join) {
    if (me.room) leaveRoom(c);
    me.room = m.join;
    c.router.join(c, m.join);
    say(c, `* ${me.name} joined`);
  } else if (typeof m.say === 'string' && me.room) {
    say(c, m.say);
  } else {
    c.send(json({ info: me.room ? 'say what?' : 'join a room first' }), { text: true });
  }
}

export function onClose(c) {
  if (c.data?.room) leaveRoom(c);
}

function leaveRoom(c) {
  say(c, `* ${c.data.name} left`);
  c.router.leave(c, c.data.room);
  c.data.room = null;
}

/** To everyone in the room, on every worker. A full mailbox drops the message (chat can): the sender is told. */
function say(c, text) {
  const { room, name } = c.data;
  if (c.router.publish(room, json({ room, from: name, text })) === 'full') c.send(json({ info: 'busy: message not sent' }), { text: true });
}
