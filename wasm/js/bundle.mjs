// Joins the package's API modules into one script for the single-file flavour, which must work
// as a classic <script> (file:// pages in webviews cannot import modules) and also as an ES
// module. The sources are written for this: their only imports are single-line imports of each
// other ('./x.js'), given here in dependency order, and their exports are declarations.
// Usage: node bundle.mjs OUT VERSION SRC...
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';

const [out, version, ...sources] = process.argv.slice(2);
if (!out || !version || sources.length === 0) {
  console.error('usage: node bundle.mjs OUT VERSION SRC...');
  process.exit(2);
}
const parts = sources.map((file) => {
  const text = readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => {
      if (/^import\s+\{[^}]*\}\s+from\s+'\.\/[\w-]+\.js';\s*$/.test(line)) return '';
      if (/^\s*import[\s(]/.test(line) && !/await import\(/.test(line)) throw new Error(`${file}: unsupported import: ${line}`);
      if (/^export\s*\{/.test(line)) throw new Error(`${file}: unsupported export list: ${line}`);
      return line.replace(/^export\s+(?=(async\s+)?(class|function|const|let)\b)/, '');
    })
    .join('\n');
  return `// ---- ${basename(file)}\n${text}`;
});
const body = `
// ---- the edgerec package API over the inlined wasm (edgerec.single.js)
(function () {
'use strict';
${parts.join('\n')}
const load = createLoader(createEdgerecModule, async (wasm) => {
  if (wasm !== undefined) throw new EdgerecError('the single-file flavour has its wasm inlined: LoadOptions.wasm is not used');
  return {};
});
const api = Object.freeze({ load, Model, Profile, EdgerecError, version: ${JSON.stringify(version)} });
globalThis.edgerec = api;
})();
`;
writeFileSync(out, body);
