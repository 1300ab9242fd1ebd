#!/usr/bin/env bash
# Re-check docs/node-facts.md on Node 20, 22.12.0 (the lowest supported), the
# pinned Node 24 and Node 26, and print the results as a Markdown table. Node
# binaries come from the npm registry's `node` package, cached under
# node_modules/.cache/node-matrix like scripts/node-matrix.sh. About 10 s per Node.
# Usage: bash scripts/node-facts.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cache=node_modules/.cache/node-matrix
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for version in 20 22.12.0 pinned 26; do
  if [ "$version" = pinned ]; then
    bin=node_modules/.bin/node
  else
    dir="$cache/$version"
    if [ ! -x "$dir/node_modules/.bin/node" ]; then
      npm install --no-save --no-package-lock --prefix "$dir" "node@$version" >/dev/null
    fi
    bin="$dir/node_modules/.bin/node"
  fi
  echo "== Node $("$bin" --version)" >&2
  "$bin" scripts/node-facts.mjs > "$out/$version.json"
done
node_modules/.bin/node -e '
const runs = process.argv.slice(1).map(f => JSON.parse(require("fs").readFileSync(f, "utf8")));
const cell = s => s.replaceAll("|", "\\|");
console.log(`| | ${runs.map(r => r.node).join(" | ")} |`);
console.log(`|---|${runs.map(() => "---").join("|")}|`);
for (const fact of Object.keys(runs[0].facts)) console.log(`| ${cell(fact)} | ${runs.map(r => cell(r.facts[fact])).join(" | ")} |`);
' "$out/20.json" "$out/22.12.0.json" "$out/pinned.json" "$out/26.json"
