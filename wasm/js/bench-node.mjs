// Node timings of the wasm build: top-10 for one known user (f32 and int8), fold-in of a new
// user, and the int8 top-10 overlap with f32. Prints one JSON object.
// Usage: node wasm/js/bench-node.mjs MODEL.edgerec [--queries N]
// (The browser figures of the bars come from `npm run bench --prefix web`.)
import { performance } from 'node:perf_hooks';
import { load } from '../../web/src/index.js';

const path = process.argv[2];
if (!path) {
  console.error('usage: node wasm/js/bench-node.mjs MODEL.edgerec [--queries N]');
  process.exit(2);
}
const qi = process.argv.indexOf('--queries');
const queries = qi > 0 ? Number(process.argv[qi + 1]) : 200;

const f32 = await load(path);
const int8 = await load(path, { quantize: 'int8' });
const info = f32.info();
const users = [];
for (let u = 0; users.length < queries && u < info.users * 50; ++u) if (f32.hasUser(String(u))) users.push(String(u));
if (users.length === 0) throw new Error('no users with ids 0..n in the model');

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// V8 optimises a wasm function from later calls only: warm up, then time single queries
// (Node's clock has sub-microsecond resolution).
async function time(model, fn) {
  for (let i = 0; i < 50; ++i) await fn(model, users[i % users.length]);
  const ms = [];
  for (const u of users) {
    const t0 = performance.now();
    await fn(model, u);
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

const top10 = (m, u) => m.recommend(u, { k: 10 });
const f32_ms = await time(f32, top10);
const int8_ms = await time(int8, top10);

let overlap = 0;
for (const u of users) {
  const a = new Set((await f32.recommend(u, { k: 10 })).map((r) => r.item));
  const b = await int8.recommend(u, { k: 10 });
  overlap += b.filter((r) => a.has(r.item)).length / Math.max(1, a.size);
}

const items = f32.items();
const history = (seed) => Array.from({ length: 50 }, (_, j) => ({ item: items[(seed * 7919 + j * 104729) % items.length], value: 1 + (j % 5) }));
// Fold-in alone: the user vector (the ALS solve), without scoring every item.
const foldin_ms = await time(f32, (m, u) => m.userVector(history(Number(u))));
const foldin_top10_ms = await time(f32, (m, u) => m.recommendFor(history(Number(u)), { k: 10 }));

console.log(JSON.stringify({
  model: { kind: info.kind, items: info.items, dims: info.dims }, node: process.version, queries: users.length,
  edgerec_f32_ms: +f32_ms.toFixed(4), edgerec_int8_ms: +int8_ms.toFixed(4),
  int8_overlap: +(overlap / users.length).toFixed(4),
  foldin_ms: +foldin_ms.toFixed(4), foldin_top10_ms: +foldin_top10_ms.toFixed(4),
}));
f32.dispose();
int8.dispose();
