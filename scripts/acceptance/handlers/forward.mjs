// onForward, async: "reject" rejects, "drop" resolves false, the rest resolve undefined (forward).
import { setTimeout } from 'node:timers/promises';
export async function onForward(frame) {
  const t = Buffer.from(frame).toString();
  await setTimeout(Math.random() * 5);
  if (t.startsWith('reject')) throw new Error('rejected on purpose');
  if (t.startsWith('drop')) return false;
  return undefined;
}
