// Each frame awaits a 50 ms timer, then is echoed.
import { setTimeout } from 'node:timers/promises';
export async function onFrame(frame, c) { await setTimeout(50); c.send(frame); }
