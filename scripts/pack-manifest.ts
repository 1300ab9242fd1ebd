// The package.json that goes into the tarball, without the `prepare` script.
// `prepare` builds the WASM core and dist/ on `npm install` in a clone (and for
// a git dependency, which npm builds before packing). A packed tarball already
// holds that build, and npm 11 lists `prepare` as an install script of any
// package installed from a tarball file or URL ("install scripts not yet covered
// by allowScripts"), asking the user to approve a build that cannot run without
// our devDependencies. So `prepack` strips it and `postpack` puts the original
// package.json back, byte for byte.
//   node scripts/pack-manifest.ts strip | restore
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

const saved = 'node_modules/.cache/ringwire-pack/package.json';
const step = process.argv[2];
if (step === 'strip') {
  if (existsSync(saved)) {
    console.error(`pack-manifest: ${saved} is left from a pack that did not finish; run: node scripts/pack-manifest.ts restore`);
    process.exit(1);
  }
  const text = readFileSync('package.json', 'utf8');
  const manifest = JSON.parse(text) as { scripts: Record<string, string> };
  delete manifest.scripts.prepare;
  mkdirSync('node_modules/.cache/ringwire-pack', { recursive: true });
  writeFileSync(saved, text);
  writeFileSync('package.json', `${JSON.stringify(manifest, null, 2)}\n`);
} else if (step === 'restore') {
  renameSync(saved, 'package.json');
} else {
  console.error('usage: node scripts/pack-manifest.ts strip | restore');
  process.exit(2);
}
