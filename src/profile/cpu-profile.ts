// A V8 CPU profile (.cpuprofile, what --cpu-prof writes) reduced to self time
// per function. Each sample is charged the time until the next one (the last,
// until the profile's end), as Chrome DevTools does. A function appears in many
// nodes of the call tree; its self time is the sum over all of them.

import { readFileSync } from 'node:fs';
import type { Classifier, Group } from './frame-groups.ts';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

export interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame; children?: number[] }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionTime {
  name: string;
  url: string;
  line: number;
  group: Group;
  /** Self time, µs. */
  self: number;
}

export interface ProfileSummary {
  /** Profiled time, µs. */
  total: number;
  samples: number;
  byGroup: Record<Group, number>;
  /** Every function with self time, largest first. */
  functions: FunctionTime[];
}

export function readProfile(path: string): CpuProfile {
  const p = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  if (!Array.isArray(p.nodes) || !Array.isArray(p.samples) || !Array.isArray(p.timeDeltas)) throw new Error(`${path} is not a V8 CPU profile`);
  return p;
}

export function summarize(p: CpuProfile, classify: Classifier): ProfileSummary {
  const byId = new Map(p.nodes.map(n => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // A native frame takes its caller's group; Node's code takes the handler's group
  // when the handler called it (frame-groups.ts says why).
  const groupOf = new Map<number, Group>();
  const group = (id: number): Group => {
    let g = groupOf.get(id);
    if (g) return g;
    const { functionName, url } = byId.get(id)!.callFrame;
    const own = classify(functionName, url);
    const up = parent.get(id);
    const caller = own === undefined || own === 'node' ? (up === undefined ? 'other' : group(up)) : undefined;
    g = own === undefined ? caller! : own === 'node' ? (caller === 'handler' ? 'handler' : 'node') : own;
    groupOf.set(id, g);
    return g;
  };

  const selfById = new Map<number, number>();
  let at = p.startTime;
  const times = p.timeDeltas.map(d => (at += d));
  p.samples.forEach((id, i) => {
    const duration = (times[i + 1] ?? p.endTime) - times[i]!;
    selfById.set(id, (selfById.get(id) ?? 0) + Math.max(0, duration));
  });

  const byGroup: Record<Group, number> = { node: 0, ringwire: 0, wasm: 0, handler: 0, other: 0, idle: 0 };
  const byFunction = new Map<string, FunctionTime>();
  for (const [id, self] of selfById) {
    const { functionName, url, lineNumber, columnNumber } = byId.get(id)!.callFrame;
    const g = group(id);
    byGroup[g] += self;
    const key = `${g}\0${functionName}\0${url}\0${lineNumber}\0${columnNumber}`;
    const f = byFunction.get(key);
    if (f) f.self += self;
    else byFunction.set(key, { name: functionName || '(anonymous)', url, line: lineNumber + 1, group: g, self });
  }
  return {
    total: p.endTime - p.startTime,
    samples: p.samples.length,
    byGroup,
    functions: [...byFunction.values()].sort((a, b) => b.self - a.self),
  };
}
