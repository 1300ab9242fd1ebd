// What a benchmark found, per scenario and contender: each metric's median, min
// and max over the rounds, and the ratios of the medians to the baseline's.
// A contender with any failed sample in a scenario is reported as failed there,
// with the reasons, and no figures: a number from a run that lost or corrupted
// bytes would mean nothing.

import type { Scenario, SocketSuite } from './contenders.ts';
import { Histogram } from './histogram.ts';
import type { Sample } from './runner.ts';
import { ratio, spread, type Spread } from './summary.ts';

export interface ContenderSummary {
  contender: string;
  /** Why samples failed; empty when every round was good. */
  failures: string[];
  framesPerSecond: Spread;
  megabytesPerSecond: Spread;
  /** Latency percentiles per round, microseconds. */
  p50: Spread;
  p99: Spread;
  p999: Spread;
  max: Spread;
  /** Server CPU per frame, nanoseconds: user + system, and each. */
  cpuPerFrame: Spread;
  cpuUser: Spread;
  cpuSystem: Spread;
  /** The server's write(2)-family and read(2)-family syscalls per frame. */
  writesPerFrame: Spread;
  readsPerFrame: Spread;
  serverPeakRss: Spread;
  serverCores: Spread;
  generatorCores: Spread;
  /** Median frames/s over the baseline's (higher is better). */
  throughputRatio: number;
  /** Median CPU per frame over the baseline's (lower is better). */
  cpuRatio: number;
  /** With --gc (n = 0 without): JS heap bytes the server allocated per frame, GCs per million frames, GC time per frame (ns). */
  heapPerFrame: Spread;
  gcsPerMillionFrames: Spread;
  gcPausePerFrame: Spread;
}

export interface ScenarioSummary {
  scenario: Scenario;
  baseline: string;
  contenders: ContenderSummary[];
}

const sameScenario = (a: Scenario, b: Scenario) =>
  a.suite === b.suite && a.connections === b.connections && a.frameBytes === b.frameBytes && a.depth === b.depth && a.framing === b.framing && a.wait === b.wait;

function summarizeContender(name: string, samples: Sample[]): ContenderSummary {
  const good = samples.filter(s => !s.failure);
  const failures = samples.filter(s => s.failure).map(s => `round ${s.round}: ${s.failure}`);
  const of = (f: (s: Sample) => number) => spread(failures.length ? [] : good.map(f));
  const pct = (p: number) => of(s => Histogram.from(s.latency).percentile(p) / 1000);
  return {
    contender: name,
    failures,
    framesPerSecond: of(s => s.framesPerSecond),
    megabytesPerSecond: of(s => s.megabytesPerSecond),
    p50: pct(0.5),
    p99: pct(0.99),
    p999: pct(0.999),
    max: pct(1),
    cpuPerFrame: of(s => s.cpuPerFrame.total),
    cpuUser: of(s => s.cpuPerFrame.user),
    cpuSystem: of(s => s.cpuPerFrame.system),
    writesPerFrame: of(s => s.syscallsPerFrame.writes),
    readsPerFrame: of(s => s.syscallsPerFrame.reads),
    serverPeakRss: of(s => s.serverPeakRss),
    serverCores: of(s => s.serverCores),
    generatorCores: of(s => s.generatorCores),
    throughputRatio: NaN,
    cpuRatio: NaN,
    heapPerFrame: of(s => (s.gc ? s.gc.allocated / s.frames : NaN)),
    gcsPerMillionFrames: of(s => (s.gc ? ((s.gc.scavenges + s.gc.markCompacts) / s.frames) * 1e6 : NaN)),
    gcPausePerFrame: of(s => (s.gc ? (s.gc.pauseMs / s.frames) * 1e6 : NaN)),
  };
}

/**
 * One summary per scenario, in the order the scenarios first appear; contenders in
 * the order given; ratios against the baseline of the scenario's suite.
 */
export function summarize(samples: Sample[], contenders: string[], baselines: Partial<Record<SocketSuite, string>>): ScenarioSummary[] {
  const scenarios: Scenario[] = [];
  for (const s of samples) if (!scenarios.some(x => sameScenario(x, s.scenario))) scenarios.push(s.scenario);
  return scenarios.map(scenario => {
    const mine = samples.filter(s => sameScenario(s.scenario, scenario));
    const rows = contenders
      .filter(name => mine.some(s => s.contender === name))
      .map(name => summarizeContender(name, mine.filter(s => s.contender === name)));
    const baseline = baselines[scenario.suite] ?? '';
    const base = rows.find(r => r.contender === baseline);
    for (const r of rows) {
      r.throughputRatio = ratio(r.framesPerSecond.median, base?.framesPerSecond.median ?? NaN);
      r.cpuRatio = ratio(r.cpuPerFrame.median, base?.cpuPerFrame.median ?? NaN);
    }
    return { scenario, baseline, contenders: rows };
  });
}

/** The summaries of one socket suite, with its baseline and the contenders that ran in it. */
export interface SuiteSummaries {
  suite: SocketSuite;
  baseline: string;
  contenders: string[];
  summaries: ScenarioSummary[];
}

/** Summaries grouped by suite, in the order suites first appear; contenders in the order given. */
export function bySuite(summaries: ScenarioSummary[], contenders: string[]): SuiteSummaries[] {
  const suites = [...new Set(summaries.map(s => s.scenario.suite))];
  return suites.map(suite => {
    const mine = summaries.filter(s => s.scenario.suite === suite);
    return {
      suite,
      baseline: mine[0]!.baseline,
      contenders: contenders.filter(name => mine.some(s => s.contenders.some(c => c.contender === name))),
      summaries: mine,
    };
  });
}
