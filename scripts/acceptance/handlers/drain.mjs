// Line commands: "sub <topic>" joins and answers "joined <threadId>"; "pub <topic> <ms> <n>"
// answers "pub <threadId>", waits ms, publishes "news <k>" n times with publishAsync, then
// "pub done"; "w <ms> <tag>" waits ms then answers "done <tag>"; anything else is echoed.
import { setTimeout as sleep } from 'node:timers/promises';
import { threadId } from 'node:worker_threads';
export async function onFrame(frame, c) {
  const [cmd, a, b, d] = Buffer.from(frame).toString().split(' ');
  if (cmd === 'sub') { c.router.join(c, a); c.send(Buffer.from(`joined ${threadId}`)); }
  else if (cmd === 'pub') {
    c.send(Buffer.from(`pub ${threadId}`));
    await sleep(Number(b));
    for (let k = 0; k < Number(d); k++) await c.router.publishAsync(a, Buffer.from(`news ${k}`));
    c.send(Buffer.from('pub done'));
  } else if (cmd === 'w') { await sleep(Number(a)); c.send(Buffer.from(`done ${b}`)); }
  else c.send(frame);
}
