// The differential property (test/differential-property.ts) on a fixed budget:
// the generator, the oracle and both cores must agree on every case. For more
// runs, or to replay a seed: npm run fuzz -- --runs N [--seed S].
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { caseArb, checkCase, checkFanoutCase, checkSendCase, fanoutCaseArb, sendCaseArb } from './differential-property.ts';

describe('wasm core, js core and the oracle', () => {
  it('agree on random framings, frames, errors, reads, drains, async handlers, relays that cut frames through, and rings that grow, shrink to nothing, are taken again and run out', async () => {
    let predicted = 0;
    let errors = 0;
    let grew = 0;
    let shrunk = 0;
    let noMemory = 0;
    let retaken = 0;
    let noMemoryAtRead = 0;
    let cut = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async c => {
        const run = await checkCase(c);
        if (run.predicted) predicted++;
        if (run.expected.error) errors++;
        if (run.grew) grew++;
        if (run.shrunk) shrunk++;
        if (run.noMemory) noMemory++;
        if (run.retaken) retaken++;
        if (run.noMemoryAtRead) noMemoryAtRead++;
        if (run.cut) cut++;
      }),
      { numRuns: 5000 },
    );
    // The generator keeps reaching the cases that matter: streams whose every
    // frame it can predict, streams that end in an error, rings that grow, shrink
    // (an rx ring given back and taken again), a pool that runs short (also at the
    // read that takes the rx ring again), and relays that cut an incomplete frame through.
    expect(predicted).toBeGreaterThan(1000);
    expect(errors).toBeGreaterThan(500);
    expect(grew).toBeGreaterThan(1000);
    expect(shrunk).toBeGreaterThan(250);
    expect(noMemory).toBeGreaterThan(100);
    expect(retaken).toBeGreaterThan(400);
    expect(noMemoryAtRead).toBeGreaterThan(150);
    expect(cut).toBeGreaterThan(250);
  });

  it('agree on which payloads a delimiter framing can send as one frame: send() and check(), from outside the core and from inside it', async () => {
    let refused = 0;
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(sendCaseArb, async c => {
        if ((await checkSendCase(c)).refused) refused++;
        else sent++;
      }),
      { numRuns: 2000 },
    );
    // Both answers keep coming up.
    expect(refused).toBeGreaterThan(400);
    expect(sent).toBeGreaterThan(400);
  });

  it('agree on a fan-out: a batch encoded once into many tx rings, each taking the frames that fit, in order, from rings mid-way, closed slots and a pool that runs short', async () => {
    let encoded = 0;
    let partial = 0;
    let none = 0;
    await fc.assert(
      fc.asyncProperty(fanoutCaseArb, async c => {
        const run = await checkFanoutCase(c);
        if (run.encoded > 0) encoded++;
        else none++;
        if (run.partial > 0) partial++;
      }),
      { numRuns: 2000 },
    );
    // Batches that go out whole, subscribers that take part of one, batches that cannot go.
    expect(encoded).toBeGreaterThan(700);
    expect(partial).toBeGreaterThan(120);
    expect(none).toBeGreaterThan(100);
  });
});
