// What the benchmark writes: the frames it sends (checked by the real cores), the
// text and Markdown tables, the SVG charts and the self-contained HTML report.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { frameTape } from '../src/bench/frame-tape.ts';
import { Histogram } from '../src/bench/histogram.ts';
import { summarize } from '../src/bench/results.ts';
import type { Sample } from '../src/bench/runner.ts';
import type { Scenario } from '../src/bench/contenders.ts';
import { barChart, linearTicks } from '../src/bench/svg-chart.ts';
import { microTable, scenarioTable } from '../src/bench/text-table.ts';
import { writeReport, type BenchReport } from '../src/bench/bench-report.ts';
import { machine } from '../src/bench/machine.ts';
import { CORES, run } from './harness.ts';

describe('frame tape', () => {
  const cases: [string, number][] = [
    ['length:4:be', 64], ['length:2:le:offset=3:adjust=-2', 100], ['length:8', 16384], ['varint', 64],
    ['varint', 130], ['varint', 16384], ['line', 64], ['line:cr', 1024], ['delimiter:\\r\\n\\r\\n', 77], ['fixed:64', 64],
  ];
  for (const kind of CORES) {
    for (const [framing, size] of cases) {
      it(`${kind}: ${framing} ${size} B frames decode as whole frames and echo exactly`, async () => {
        const tape = frameTape(framing, size, 5);
        expect(tape.bytes.length).toBe(2 * 5 * size);
        expect(tape.bytes.subarray(0, tape.length)).toEqual(tape.bytes.subarray(tape.length));
        const out = await run(kind, { framing, maxFrame: size, mode: 'handler' }, [tape.bytes]);
        expect(out.error).toBe(0);
        expect(out.frames).toHaveLength(10); // every frame decoded on its own boundary
        const echo = await run(kind, { framing, maxFrame: size }, [tape.bytes]);
        expect(echo.out).toEqual(tape.bytes);
      });
    }
  }

  it('frames differ from each other, so a reordering is visible', () => {
    const tape = frameTape('length:4:be', 64, 64);
    const frames = new Set(Array.from({ length: 64 }, (_, i) => tape.bytes.subarray(i * 64, i * 64 + 64).toString('hex')));
    expect(frames.size).toBe(64);
  });

  it('refuses a size no frame of the framing can have', () => {
    expect(() => frameTape('fixed:64', 65, 1)).toThrow(/ERR_BAD_CONFIG|fixed frames are 64 bytes/);
    expect(() => frameTape('length:4', 3, 1)).toThrow(/length field cannot say it/);
    expect(() => frameTape('length:1', 4 + 256, 1)).toThrow(/length field cannot say it/);
    // 127 + a 1-byte varint is 128, 128 + a 2-byte varint is 130: no varint frame is 129 bytes.
    expect(() => frameTape('varint', 129, 1)).toThrow(/no payload length plus its varint/);
  });
});

describe('charts', () => {
  it('picks round ticks that cover the maximum', () => {
    expect(linearTicks(9.5)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(linearTicks(1.2)).toEqual([0, 0.5, 1, 1.5]);
    expect(linearTicks(0)).toEqual([0, 1]);
  });

  it('draws a bar per value, a cross for a missing one, and escapes text', () => {
    const svg = barChart({
      title: 'a <b> & c', categories: ['x', 'y'], unit: 'frames/s',
      series: [{ name: 'one', values: [1, 2] }, { name: 'two', values: [3, NaN] }],
    });
    expect(svg).toContain('a &#60;b&#62; &#38; c');
    expect(svg.match(/<rect [^>]*><title>/g)).toHaveLength(3); // bars carry a tooltip; legend swatches do not
    expect(svg).toContain('two, y: failed or not measured');
    expect(svg).not.toContain('NaN');
  });

  it('draws one series without a legend, each bar in its own colour if given', () => {
    const svg = barChart({
      title: 't', categories: ['a', 'b'], unit: 'frames/s',
      series: [{ name: 'only', values: [1, 2], colors: ['#111111', '#222222'] }],
    });
    expect(svg).toContain('data-categories="2"');
    expect(svg).not.toContain('>only</text>'); // no legend entry
    expect(svg.match(/<rect [^>]*fill="(#[0-9a-f]+)"><title>/g)?.map(r => /fill="(#\w+)"/.exec(r)![1])).toEqual(['#111111', '#222222']);
  });

  it('draws a log axis in decades', () => {
    const svg = barChart({ title: 't', categories: ['p50'], unit: 'µs', log: true, series: [{ name: 's', values: [50] }, { name: 'u', values: [4000] }] });
    for (const tick of ['>10<', '>100<', '>1k<', '>10k<']) expect(svg).toContain(tick);
  });
});

function fakeReport(): BenchReport {
  const scenario: Scenario = { suite: 'echo', connections: 50, frameBytes: 64, depth: 1, framing: 'length:4:be' };
  const handler: Scenario = { ...scenario, suite: 'async' };
  const latency = new Histogram();
  for (let i = 1; i <= 1000; i++) latency.record(i * 1000);
  const sample = (contender: string, fps: number, failure?: string, at = scenario): Sample => ({
    scenario: at, contender, round: 1, failure, frames: fps, bytes: fps * 64, seconds: 1, framesPerSecond: fps,
    megabytesPerSecond: (fps * 64) / 1e6, latency: latency.toJSON(), serverCpu: { user: 1, system: 3 },
    cpuPerFrame: { user: 1500, system: 5500, total: 7000 }, serverSyscalls: { reads: fps / 16, writes: fps / 8 },
    syscallsPerFrame: { reads: 1 / 16, writes: 1 / 8 }, serverPeakRss: 64 * 1024 * 1024,
    generatorCpu: { user: 0.4, system: 0.6 }, generatorCores: 1, serverCores: 0.93, mismatches: 0, shortReads: 0, errors: 0,
  });
  const samples = [
    sample('ringwire-wasm', 134_383), sample('node-data', 133_960), sample('bad-server', 0, '12 mismatched bytes'),
    sample('ringwire-wasm-async', 90_000, undefined, handler), sample('node-async', 60_000, undefined, handler),
  ];
  const contenders = ['ringwire-wasm', 'node-data', 'bad-server', 'ringwire-wasm-async', 'node-async'];
  const baselines = { echo: 'node-data', async: 'node-async' };
  return {
    format: 'ringwire-bench/2',
    settings: { scenarios: [scenario, handler], contenders, baselines, rounds: 1, duration: 1000, warmup: 300, generators: 1, gc: false, command: 'ringwire bench --quick' },
    machine: machine(),
    summaries: summarize(samples, contenders, baselines),
    samples,
    micro: {
      rows: [
        { subject: 'wasm', framing: 'length:4:be', frameBytes: 64, bytesPerSecond: 6.2e9, framesPerSecond: 97e6, ofMemcpy: 0.043 },
        { subject: 'js', framing: 'length:4:be', frameBytes: 64, bytesPerSecond: 0.86e9, framesPerSecond: 13e6, ofMemcpy: 0.006 },
        { subject: 'memcpy', framing: 'length:4:be', frameBytes: 64, bytesPerSecond: 145e9, framesPerSecond: 2.2e9, ofMemcpy: 1 },
      ],
      boundary: { wasm: 6.2, js: 5.9 },
    },
    ok: false,
  };
}

describe('tables and report', () => {
  it('prints medians, ratios and FAILED rows', () => {
    const text = scenarioTable(fakeReport().summaries[0]!);
    expect(text).toContain('50 conn · 64 B · depth 1 · framing length:4:be');
    expect(text).toMatch(/ringwire-wasm\s+134,383\s+134,383–134,383\s+1\.00×/);
    expect(text).toMatch(/node-data \(base\)\s+133,960/);
    expect(text).toMatch(/bad-server\s+FAILED/);
    expect(text).toContain('bad-server failed, round 1: 12 mismatched bytes');
    expect(text).toMatch(/7\s+1\.5\+5\.5\s+1\.00×\s+0\.125\s+0\.0625\s+64\.0 MiB/); // writes, reads per frame
    const md = scenarioTable(fakeReport().summaries[0]!, 'markdown');
    expect(md).toContain('| contender | frames/s | min–max |');
    expect(md).toContain('| --- | ---: |');
    const micro = microTable(fakeReport().micro!);
    expect(micro).toMatch(/length:4:be\s+64 B\s+6\.2\s+0\.86\s+145\s+0\.04×\s+0\.01×\s+7\.21×/);
    expect(micro).toContain('wasm 6.2 ns, js 5.9 ns');
    const async = scenarioTable(fakeReport().summaries[1]!);
    expect(async).toContain('async handler · 50 conn · 64 B · depth 1 · framing length:4:be');
    expect(async).toMatch(/ringwire-wasm-async\s+90,000\s+90,000–90,000\s+1\.50×/);
    expect(async).toMatch(/node-async \(base\)\s+60,000/);
    expect(async).not.toContain('node-data');
  });

  it('writes the JSON with every sample and a self-contained HTML page', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ringwire-report-'));
    const report = fakeReport();
    const files = writeReport(report, dir, 'r');
    const json = JSON.parse(readFileSync(files.json, 'utf8')) as BenchReport;
    expect(json.samples).toHaveLength(5);
    expect(json.machine.node).toBe(process.version);
    expect(json.machine.cores).toBeGreaterThan(0);
    expect(json.samples[0]!.latency.count).toBe(1000);
    const html = readFileSync(files.html, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/); // nothing to fetch or run
    // One scenario in each suite: no overview; each scenario's two charts, then the microbenchmarks.
    expect(html.match(/<svg /g)).toHaveLength(2 * 2 + 1);
    expect(html).not.toContain('<h2>Overview</h2>');
    // Frames/s: one bar per contender, not one category of three bars.
    expect(html).toMatch(/aria-label="Frames\/s \(median; whiskers: min–max\)" data-categories="3"/);
    // The scenario table as three (throughput and latency, the server's CPU, its syscalls and
    // memory), each naming the contender and each short of a failed run's figures.
    expect(html.match(/<th style="text-align:left">contender<\/th>/g)).toHaveLength(2 * 3);
    expect(html).toMatch(/<td class="failed">FAILED<\/td>(<td><\/td>){7}<\/tr>.*<td class="failed">FAILED<\/td>(<td><\/td>){2}<\/tr>.*<td class="failed">FAILED<\/td>(<td><\/td>){4}<\/tr>/s);
    expect(html).toContain('async handler · 50 conn · 64 B · depth 1 · framing length:4:be');
    expect(html).toContain('Failed runs (reported without figures): 50 conn · 64 B · depth 1: bad-server');
    expect(html).toContain('ringwire bench --quick');
    expect(html).not.toContain('NaN');
  });

  it('compares scenarios in an overview once a suite has two, against that suite\'s baseline', () => {
    const report = fakeReport();
    const other = { ...report.summaries[0]!, scenario: { ...report.summaries[0]!.scenario, depth: 32 } };
    const summaries = [report.summaries[0]!, other, report.summaries[1]!]; // echo twice, async once
    const html = readFileSync(writeReport({ ...report, summaries }, mkdtempSync(path.join(os.tmpdir(), 'ringwire-report-')), 'r').html, 'utf8');
    expect(html).toContain('<h2>Overview</h2>');
    expect(html).toContain('echo suite, against node-data');
    expect(html).not.toContain('async suite, against'); // one scenario: nothing to compare across
    expect(html).toMatch(/aria-label="Frames per second relative to node-data \(higher is better\)" data-categories="2"/);
  });
});
