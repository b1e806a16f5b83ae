// Node timings of the wasm build: model load (the first in the process, while V8 still runs the
// wasm in its baseline tier, and the median of the next five), top-10 for one known user (f32
// and int8, with the items scored), fold-in of a new user, and the int8 top-10 overlap with
// f32. Prints one JSON object. A stripped model (no users) gets the load and fold-in figures.
// Both f32 figures, always: edgerec_f32_ms is what serving does (search: the model's choice
// between the norm-bounded visit and a plain scan, see info().search), edgerec_f32_fullscan_ms a
// plain scan of every item (setSearch('scan'), what ONNX Runtime does), and edgerec_f32_visit_ms
// the visit forced (setSearch('visit')), whatever the choice. The paths take turns query by
// query, so a busy moment on the machine slows them alike.
// Usage: node wasm/js/bench-node.mjs MODEL.edgerec [--queries N]
// (The browser figures of the bars come from `npm run bench --prefix web`.)
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { load } from '../../web/src/node/index.js';

const path = process.argv[2];
if (!path) {
  console.error('usage: node wasm/js/bench-node.mjs MODEL.edgerec [--queries N]');
  process.exit(2);
}
const qi = process.argv.indexOf('--queries');
const queries = qi > 0 ? Number(process.argv[qi + 1]) : 200;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
const round = (x) => +x.toFixed(4);

// Loads from bytes already in memory, so the figures are the wasm's (copy, checksum, parse).
const bytes = new Uint8Array(readFileSync(path));
await load(new Uint8Array(8)).catch(() => {});  // instantiates the wasm (these bytes are refused)
const loads = [];
for (let r = 0; r < 6; ++r) {
  const t0 = performance.now();
  const m = await load(bytes);
  loads.push(performance.now() - t0);
  m.dispose();
}
const out = { node: process.version, file_bytes: bytes.length, load_first_ms: round(loads[0]), load_ms: round(median(loads.slice(1))) };

const f32 = await load(bytes);
const int8 = await load(bytes, { quantize: 'int8' });
const info = f32.info();
out.model = { kind: info.kind, items: info.items, dims: info.dims, fileItemMatrix: info.fileItemMatrix };
const users = [];
for (let u = 0; users.length < queries && u < info.users * 50; ++u) if (f32.hasUser(String(u))) users.push(String(u));

// V8 optimises a wasm function from later calls only: warm up, then time single queries
// (Node's clock has sub-microsecond resolution). paths: { name: [model, fn] }, each timed on
// every input, the paths taking turns (in a rotating order); the median per path.
async function time(paths, inputs) {
  const entries = Object.entries(paths);
  for (const [, [model, fn]] of entries) for (let i = 0; i < 50; ++i) await fn(model, inputs[i % inputs.length]);
  const ms = Object.fromEntries(entries.map(([name]) => [name, []]));
  for (const [i, x] of inputs.entries()) {
    // Each input starts with another path, so no path always runs first.
    for (let j = 0; j < entries.length; ++j) {
      const [name, [model, fn]] = entries[(i + j) % entries.length];
      const t0 = performance.now();
      await fn(model, x);
      ms[name].push(performance.now() - t0);
    }
  }
  return Object.fromEntries(entries.map(([name]) => [name, round(median(ms[name]))]));
}

// The same file three times over: the model's own choice, forced scan, forced visit.
const scan = await load(bytes);
const visit = await load(bytes);
if (info.search) {
  scan.setSearch('scan');
  visit.setSearch('visit');
  out.search = info.search;
  out.search_sample = info.searchSample;
}

if (users.length) {
  const top10 = (m, u) => m.recommend(u, { k: 10 });
  out.queries = users.length;
  const t = await time({ f32: [f32, top10], fullscan: [scan, top10], visit: [visit, top10], int8: [int8, top10] }, users);
  out.edgerec_f32_ms = t.f32;
  out.edgerec_f32_fullscan_ms = t.fullscan;
  out.edgerec_f32_visit_ms = t.visit;
  out.edgerec_f32_over_fullscan = round(t.f32 / t.fullscan);
  out.edgerec_int8_ms = t.int8;
  let overlap = 0;
  const scored = { f32: [], visit: [], int8: [] };
  for (const u of users) {
    const a = new Set((await f32.recommend(u, { k: 10 })).map((r) => r.item));
    scored.f32.push(f32.lastScored());
    await visit.recommend(u, { k: 10 });
    scored.visit.push(visit.lastScored());
    const b = await int8.recommend(u, { k: 10 });
    scored.int8.push(int8.lastScored());
    overlap += b.filter((r) => a.has(r.item)).length / Math.max(1, a.size);
  }
  out.int8_overlap = round(overlap / users.length);
  out.f32_items_scored_median = median(scored.f32);
  out.visit_items_scored_median = median(scored.visit);
  out.int8_items_scored_median = median(scored.int8);
}

if (info.dims > 0) {
  const items = f32.items();
  const histories = Array.from({ length: 64 }, (_, s) =>
    Array.from({ length: 50 }, (_, j) => ({ item: items[(s * 7919 + j * 104729) % items.length], value: 1 + (j % 5) })));
  // Fold-in alone: the user vector (the ALS solve); then with the top-10, as served and as a
  // plain scan.
  out.foldin_ms = (await time({ v: [f32, (m, h) => m.userVector(h)] }, histories)).v;
  const top10 = (m, h) => m.recommendFor(h, { k: 10 });
  const t = await time({ f32: [f32, top10], fullscan: [scan, top10] }, histories);
  out.foldin_top10_ms = t.f32;
  out.foldin_top10_fullscan_ms = t.fullscan;
}

console.log(JSON.stringify(out));
for (const m of [f32, int8, scan, visit]) m.dispose();
