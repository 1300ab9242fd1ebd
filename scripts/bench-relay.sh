#!/usr/bin/env bash
# The relay measured with ringwire bench's verified load: ringwire relay (WASM and JS
# cores, and the WASM one with a pass-through onForward hook: bench/relay-pass.mjs)
# against a plain Node relay (bench/pipe-relay.mjs: socket.pipe both ways) and
# HAProxy in TCP mode (Debian's haproxy, when installed), all in front of the same
# backend: the C epoll echo server (bench/epoll-echo.c, when cc is there) or ringwire's
# own echo. Every frame the generator sends comes back through the relay and is
# compared byte for byte. Binds 127.0.0.1 only; stops the backend it started.
#   bash scripts/bench-relay.sh [extra ringwire bench options, e.g. --rounds 5]
# RELAY_MAX_FRAME sets the relays' --max-frame (default 16384; large frames need more).
# RELAY_BEFORE=path/to/an/older/dist/cli.js adds that build's WASM relay as
# ringwire-relay-before, measured in the same run (before and after a change).
set -euo pipefail
cd "$(dirname "$0")/.."
node=$PWD/node_modules/.bin/node
backend_port=${RELAY_BACKEND_PORT:-7499}
tmp=$(mktemp -d)
if command -v cc >/dev/null; then
  cc -O2 -o "$tmp/epoll-echo" bench/epoll-echo.c
  "$tmp/epoll-echo" "$backend_port" & backend=$!
else
  echo "cc not found: the backend is ringwire's own echo" >&2
  "$node" dist/cli.js serve --port "$backend_port" --max-connections 512 & backend=$!
fi
trap 'kill $backend 2>/dev/null; rm -rf "$tmp"' EXIT
sleep 0.5
max_frame=${RELAY_MAX_FRAME:-16384}
relay() { echo "$node ${2:-$PWD/dist/cli.js} relay --core $1 --port {port} --upstream 127.0.0.1:$backend_port --framing length:4:be --max-connections 512 --max-frame $max_frame"; }
externals=(
  --external "ringwire-relay=$(relay wasm)"
  --external "ringwire-relay-js=$(relay js)"
  --external "ringwire-relay-hook=$(relay wasm) --handler $PWD/bench/relay-pass.mjs"
  --external "node-pipe-relay=$node $PWD/bench/pipe-relay.mjs {port} $backend_port"
)
if [ -n "${RELAY_BEFORE:-}" ]; then
  externals+=(--external "ringwire-relay-before=$(relay wasm "$RELAY_BEFORE")")
fi
if command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ]; then
  cat > "$tmp/haproxy.sh" <<SH
#!/bin/sh
# haproxy in TCP mode on 127.0.0.1:\$1 in front of the backend, in the foreground
printf 'global\n  maxconn 4096\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\nfrontend f\n  bind 127.0.0.1:%s\n  default_backend b\nbackend b\n  server s1 127.0.0.1:%s\n' "\$1" "$backend_port" > "$tmp/haproxy-\$1.cfg"
exec $(command -v haproxy || echo /usr/sbin/haproxy) -db -f "$tmp/haproxy-\$1.cfg"
SH
  chmod +x "$tmp/haproxy.sh"
  externals+=(--external "haproxy=$tmp/haproxy.sh {port}")
else
  echo "haproxy not installed (apt-get install haproxy): measuring without it" >&2
fi
"$node" dist/cli.js bench --suite echo --framing length:4:be --connections 50 --frame-sizes 64,1k,16k --depth 1,32 \
  --rounds 3 --duration 2s --warmup 500ms --contenders node-data "${externals[@]}" --baseline node-pipe-relay "$@"
