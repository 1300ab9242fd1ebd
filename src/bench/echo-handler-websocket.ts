// The websocket suite's echo for `ringwire serve --framing websocket --handler`:
// each message sent straight back as what it is (text as text, binary as binary),
// what the `ws` server it is measured against does (plain-websocket.ts).
import type { Connection } from '../index.ts';

export function onFrame(message: Uint8Array, connection: Connection, _reply: unknown, text?: boolean): void {
  connection.send(message, { text });
}
