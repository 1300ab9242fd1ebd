// Writes the files rendered from the contract table (contract/render.ts): the
// first step of `npm run build`, before asc compiles assembly/. Only files whose
// content changed are written, so an unchanged contract leaves timestamps alone.
// (test/contract.test.ts checks that the committed files are current.)
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderContract } from '../contract/render.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
for (const [path, content] of Object.entries(renderContract())) {
  let current = '';
  try {
    current = readFileSync(root + path, 'utf8');
  } catch {
    // not there yet: written below
  }
  if (current !== content) writeFileSync(root + path, content);
}
