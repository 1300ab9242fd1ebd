// What a copy into shared memory costs from JavaScript: the copying read path
// (TLS connections, --copy) copies each 'data' chunk into the rx ring, which lives
// in a SharedArrayBuffer; this compares that copy with the same copy into an
// ordinary ArrayBuffer, for 64 B and 16 KiB chunks (docs/tls.md cites the result).
//   node bench/shared-copy.mjs
// Times are ns per copy of this thread's CPU time (the median of five 100 ms
// measurements), which a busy shared machine disturbs less than wall time does.

const shared = new Uint8Array(new SharedArrayBuffer(1 << 20));
const plain = new Uint8Array(new ArrayBuffer(1 << 20));

function measure(fn) {
  const runs = [];
  for (let r = 0; r < 5; r++) {
    let n = 0;
    const start = process.cpuUsage();
    let used = 0;
    while (used < 100_000) { // µs of CPU
      for (let i = 0; i < 256; i++) fn(n++);
      const u = process.cpuUsage(start);
      used = u.user + u.system;
    }
    runs.push((used * 1000) / n);
  }
  return runs.sort((a, b) => a - b)[2];
}

for (const size of [64, 16384]) {
  const chunk = Buffer.alloc(size, 7); // what a socket's 'data' event gives
  const slots = (1 << 20) / size;
  for (const [name, target] of [['SharedArrayBuffer', shared], ['ArrayBuffer', plain]]) {
    const set = measure(i => target.set(chunk, (i % slots) * size));
    const copy = measure(i => chunk.copy(target, (i % slots) * size));
    console.log(`${String(size).padStart(5)} B into ${name.padEnd(17)}  TypedArray set ${set.toFixed(0).padStart(5)} ns   Buffer copy ${copy.toFixed(0).padStart(5)} ns`);
  }
}
