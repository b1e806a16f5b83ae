// `npm pack` / `npm publish` hook: the package ships the repository's LICENSE, which lives at
// the repository root; npm only packs a LICENSE beside package.json, so it is copied here
// (git-ignored). Refuses to pack without the wasm build, which dist/ must hold.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const web = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
for (const file of ['edgerec.mjs', 'edgerec.wasm', 'edgerec.single.js', 'version.js']) {
  if (!fs.existsSync(path.join(web, 'dist', file))) {
    console.error(`prepack: dist/${file} is missing: run 'npm run build' (tools/build-wasm.sh) first`);
    process.exit(1);
  }
}
const license = path.join(web, '..', 'LICENSE');
if (fs.existsSync(license)) fs.copyFileSync(license, path.join(web, 'LICENSE'));
else console.error('prepack: warning: no LICENSE at the repository root; the package goes without one');
