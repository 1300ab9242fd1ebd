#!/usr/bin/env bash
# Run the socket suites (adoption of accepted sockets and direct writes through
# Node internals, the PROXY protocol, TLS, every server, handler-contract, client and
# relay test on both read paths and both write paths, Unix sockets (Pipe handles), how connections
# close, pipelined handlers (AsyncLocalStorage), handler deadlines, and worker threads: reusePort everywhere,
# socket transfer where the Node has it and its refusal where it has not) on each
# supported Node line, not just the pinned Node 24: the lowest supported (22.12.0)
# and the newest major (26). The core suites run there too: the WASM core uses
# SIMD, which the lowest supported Node must run. The metrics suite reads stats blocks
# across threads on each of them.
# Node binaries come from the npm registry's `node` package, cached under
# node_modules/.cache/node-matrix. Usage: npm run test:nodes
set -euo pipefail
cd "$(dirname "$0")/.."
cache=node_modules/.cache/node-matrix
for version in 22.12.0 26; do
  dir="$cache/$version"
  if [ ! -x "$dir/node_modules/.bin/node" ]; then
    npm install --no-save --no-package-lock --prefix "$dir" "node@$version" >/dev/null
  fi
  bin="$dir/node_modules/.bin/node"
  echo "== socket and core suites on Node $("$bin" --version)"
  "$bin" node_modules/vitest/vitest.mjs run test/adoption.test.ts test/direct-write.test.ts test/server.test.ts test/handler-contract.test.ts \
    test/connection-model.test.ts test/client.test.ts test/relay.test.ts test/workers.test.ts test/framing.test.ts test/contract.test.ts \
    test/metrics.test.ts test/proxy-protocol.test.ts test/tls.test.ts test/unix-socket.test.ts test/connection-closing.test.ts \
    test/concurrency.test.ts test/handler-timeout.test.ts
done
