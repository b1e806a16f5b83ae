// Prepended to edgerec.mjs (--extern-pre-js). Emscripten 3.1.6's Node branch calls require()
// and reads __dirname, which ES modules do not have; browsers skip this (no `process`), so the
// one .mjs loads in both. Top-level await needs an ES module host (Node >= 14.8, any browser
// with wasm SIMD).
const edgerecIsNode = typeof process === 'object' && typeof process.versions === 'object' &&
  typeof process.versions.node === 'string';
const require = edgerecIsNode ? (await import('module')).createRequire(import.meta.url) : undefined;
const __dirname = edgerecIsNode ? require('path').dirname(require('url').fileURLToPath(import.meta.url)) : '';
