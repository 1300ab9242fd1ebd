// The record of one `ringwire bench` run: the options, the machine, every sample
// and the summaries, written as JSON (for tools and for comparing runs) and as a
// self-contained HTML page (for people).

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Scenario, SocketSuite } from './contenders.ts';
import type { MicroResult } from './core-bench.ts';
import type { RoutingResult } from './routing-bench.ts';
import type { BroadcastResult } from './websocket-broadcast.ts';
import { renderHtml } from './html-report.ts';
import type { Machine } from './machine.ts';
import type { ScenarioSummary } from './results.ts';
import type { Sample } from './runner.ts';

export interface BenchSettings {
  scenarios: Scenario[];
  contenders: string[];
  /** The baseline of each socket suite run. */
  baselines: Partial<Record<SocketSuite, string>>;
  rounds: number;
  /** ms */
  duration: number;
  /** ms */
  warmup: number;
  generators: number;
  /** Whether Node servers' JS heap allocation was counted (--gc). */
  gc: boolean;
  /** The command line, as typed. */
  command: string;
}

export interface BenchReport {
  format: 'ringwire-bench/2';
  settings: BenchSettings;
  machine: Machine;
  summaries: ScenarioSummary[];
  samples: Sample[];
  micro: MicroResult | null;
  /** --suite routing: fan-out and cross-thread delivery (absent in reports from before it existed). */
  routing?: RoutingResult | null;
  /** --suite websocket: the broadcast (absent in reports from before it existed). */
  broadcast?: BroadcastResult | null;
  /** Every sample verified: no mismatch, short read, error or crash. */
  ok: boolean;
}

/** Writes <dir>/<name>.json and <dir>/<name>.html; returns their paths. */
export function writeReport(report: BenchReport, dir: string, name: string): { json: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const json = path.join(dir, `${name}.json`);
  const html = path.join(dir, `${name}.html`);
  writeFileSync(json, `${JSON.stringify(report, null, 1)}\n`);
  writeFileSync(html, renderHtml(report));
  return { json, html };
}
