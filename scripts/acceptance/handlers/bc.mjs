// onStart opens a BroadcastChannel (which keeps its thread alive until closed), onStop closes it.
// "whoami" -> "<thread>/<threads> <options.tag>"; "slow <ms>" -> waits, then "done".
import { setTimeout as sleep } from 'node:timers/promises';
let channel, me;
export function onStart({ options, thread, threads }) {
  channel = new BroadcastChannel('acceptance-bc');
  channel.onmessage = () => {};
  me = `${thread}/${threads} ${options?.tag}`;
}
export async function onFrame(frame, c) {
  const [cmd, ms] = Buffer.from(frame).toString().split(' ');
  if (cmd === 'whoami') c.send(Buffer.from(me));
  else if (cmd === 'slow') { await sleep(Number(ms)); c.send(Buffer.from('done')); }
  else c.send(frame);
}
export function onStop() { channel.close(); }
