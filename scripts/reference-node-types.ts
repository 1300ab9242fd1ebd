// Makes each declaration entry point of the package (the `types` of every
// `exports` entry) start with `/// <reference types="node" />`.
// The declarations import node:events and node:net and use Buffer. TypeScript 6
// and later default a project's `types` to [], so a consumer's @types/node is no
// longer in its program unless something references it: without this line, a
// consumer's tsc reports "Cannot find name 'node:events'" and `server.on` does not
// exist. tsc does not write the line itself (it drops reference directives from
// declaration output unless the source carries one with preserve="true").
// Run after `tsc -p tsconfig.build.json` (npm run build:types).
import { readFileSync, writeFileSync } from 'node:fs';

const REFERENCE = '/// <reference types="node" />\n';
const { exports } = JSON.parse(readFileSync('package.json', 'utf8')) as { exports: Record<string, { types?: string }> };
for (const { types } of Object.values(exports)) {
  if (!types) continue;
  const text = readFileSync(types, 'utf8');
  if (!text.startsWith(REFERENCE)) writeFileSync(types, REFERENCE + text);
}
