// Writes the files rendered from the contract table (contract/render.ts): the
// first step of `npm run build`, before asc compiles assembly/. Only files whose
// content changed are written, so an unchanged contract leaves timestamps alone.
// With --check it writes nothing and exits 1 if any file is not current.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderContract } from '../contract/render.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');
let stale = 0;
for (const [path, content] of Object.entries(renderContract())) {
  let current = '';
  try {
    current = readFileSync(root + path, 'utf8');
  } catch {
    // not there yet: written below
  }
  if (current === content) continue;
  stale++;
  if (check) console.error(`${path} is not what contract/core-contract.ts renders: run npm run build`);
  else writeFileSync(root + path, content);
}
if (check && stale) process.exit(1);
