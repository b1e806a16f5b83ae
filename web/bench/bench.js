// The benchmark page's measurements (web/bench/run.mjs drives it in Chromium and prints JSON).
//
// Timing: V8 optimises a wasm function only after some calls, so every path is warmed up first.
// Under cross-origin isolation (run.mjs serves COOP/COEP) performance.now() is precise to a few
// microseconds and each query is timed on its own: the figures are medians of single queries.
// Without it Chromium rounds to 100 us, so queries are timed in batches and the figure is the
// median of the batch means.
import * as edgerec from '../src/index.js';

const now = () => performance.now();
const isolated = globalThis.crossOriginIsolated === true;

function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at), hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

// Times fn(input) over the inputs in turn; returns median/p10/p90 in ms per query.
async function timeQueries(fn, inputs, { warmup = 200, queries = 2000, batch = 40 } = {}) {
  let q = 0;
  const next = () => inputs[q++ % inputs.length];
  for (let i = 0; i < warmup; ++i) await fn(next());
  const samples = [];
  if (isolated) {
    for (let i = 0; i < queries; ++i) {
      const input = next();
      const t0 = now();
      await fn(input);
      samples.push(now() - t0);
    }
  } else {
    for (let b = 0; b < Math.ceil(queries / batch); ++b) {
      const t0 = now();
      for (let i = 0; i < batch; ++i) await fn(next());
      samples.push((now() - t0) / batch);
    }
  }
  samples.sort((a, b) => a - b);
  const round = (x) => Math.round(x * 10000) / 10000;
  return { median: round(quantile(samples, 0.5)), p10: round(quantile(samples, 0.1)), p90: round(quantile(samples, 0.9)), queries };
}

// A small seeded generator (mulberry32) so every run folds in the same histories.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function overlap(a, b) {
  const s = new Set(a.map((x) => x.item));
  return b.filter((x) => s.has(x.item)).length / Math.max(1, a.length);
}

async function fetchBytes(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * config: { model: URL, onnx: URL | null, users: string[] | null, ortModule, ortBase,
 *           queries, warmup, foldinItems, k }
 */
export async function run(config) {
  const k = config.k ?? 10;
  const opts = { warmup: config.warmup ?? 200, queries: config.queries ?? 2000 };
  const out = { timing: isolated ? 'per-query median' : 'median of batch means', cross_origin_isolated: isolated };
  const status = (text) => { document.getElementById('status').textContent = text; };

  status('Fetching the model…');
  const bytes = await fetchBytes(config.model);
  out.model_bytes = bytes.length;
  let t0 = now();
  const f32 = await edgerec.load(bytes);
  out.load_ms = Math.round((now() - t0) * 10) / 10;
  const info = f32.info();
  Object.assign(out, { items: info.items, users: info.users, factors: info.factors, dims: info.dims, kernels: info.kernels, kind: info.kind, version: info.version });

  let users = config.users;
  if (!users || !users.length) {
    users = [];
    for (let u = 1; users.length < 500 && u <= 100000; ++u) if (f32.hasUser(String(u))) users.push(String(u));
  }
  users = users.filter((u) => f32.hasUser(u));
  if (!users.length) throw new Error('no known user ids to query');
  out.query_users = users.length;

  status('edgerec f32…');
  const r32 = await timeQueries((u) => f32.recommend(u, { k }), users, opts);
  out.edgerec_f32_ms = r32.median;
  out.edgerec_f32_p90_ms = r32.p90;

  status('edgerec int8…');
  t0 = now();
  const i8 = await edgerec.load(bytes, { quantize: 'int8' });
  out.load_int8_ms = Math.round((now() - t0) * 10) / 10;
  if (i8.info().precision !== 'int8') throw new Error(`quantize: 'int8' gave precision ${i8.info().precision}`);
  const r8 = await timeQueries((u) => i8.recommend(u, { k }), users, opts);
  out.edgerec_int8_ms = r8.median;
  out.edgerec_int8_p90_ms = r8.p90;
  let ov = 0;
  for (const u of users) ov += overlap(await f32.recommend(u, { k }), await i8.recommend(u, { k }));
  out.int8_overlap = Math.round((ov / users.length) * 10000) / 10000;
  i8.dispose();

  status('fold-in…');
  const draw = rng(config.seed ?? 7);
  const ids = f32.items();
  const n = config.foldinItems ?? 50;
  const histories = [];
  for (let h = 0; h < 64; ++h) {
    const picked = new Set();
    while (picked.size < n) picked.add(ids[Math.floor(draw() * ids.length)]);
    histories.push([...picked].map((item) => ({ item, value: 1 + Math.floor(draw() * 5) })));
  }
  const fold = await timeQueries((h) => f32.recommendFor(h, { k }), histories, opts);
  out.foldin_recommend_ms = fold.median;
  if (typeof f32.userVector === 'function') {
    const vec = await timeQueries(async (h) => f32.userVector(h), histories, opts);
    out.foldin_ms = vec.median;
    out.foldin_what = `fold-in alone (userVector of ${n} interactions); foldin_recommend_ms adds scoring every item + top-${k}`;
  } else {
    out.foldin_ms = fold.median;
    out.foldin_what = `recommendFor(${n} interactions): fold-in + scoring every item + top-${k}`;
  }
  out.foldin_interactions = n;

  if (config.onnx) {
    status('ONNX Runtime Web…');
    try {
      // The package's export; src/onnx.js directly while index.js does not re-export it yet.
      const loadOnnx = edgerec.loadOnnx ?? (await import('../src/onnx.js')).loadOnnx;
      const ort = await import(config.ortModule);
      const onnxBytes = await fetchBytes(config.onnx);
      t0 = now();
      // One thread, like edgerec's default flavour (threads would need cross-origin isolation
      // on every host; the comparison is engine against engine).
      const om = await loadOnnx(onnxBytes, f32, { ort, wasmPaths: config.ortBase, numThreads: 1 });
      out.ort_load_ms = Math.round((now() - t0) * 10) / 10;
      const ro = await timeQueries((u) => om.recommend(u, { k }), users, opts);
      out.ort_web_ms = ro.median;
      out.ort_web_p90_ms = ro.p90;
      let agree = 0;
      const check = users.slice(0, 100);
      for (const u of check) agree += overlap(await f32.recommend(u, { k }), await om.recommend(u, { k }));
      out.ort_overlap = Math.round((agree / check.length) * 10000) / 10000;
      out.ort_version = ort.env.versions?.web ?? ort.env.versions?.common ?? null;
      om.dispose?.();
    } catch (e) {
      out.ort_web_ms = null;
      out.ort_error = e.message;
    }
  } else {
    out.ort_web_ms = null;
    out.ort_error = 'no ONNX file given';
  }
  f32.dispose();
  status('Done.');
  show(out);
  return out;
}

function show(out) {
  const body = document.querySelector('#results tbody');
  body.replaceChildren(...Object.entries(out).map(([key, value]) => {
    const tr = document.createElement('tr');
    const a = document.createElement('td');
    const b = document.createElement('td');
    a.textContent = key;
    b.textContent = typeof value === 'object' ? JSON.stringify(value) : String(value);
    tr.append(a, b);
    return tr;
  }));
  document.getElementById('results').hidden = false;
}

window.edgerecBench = { run };

// Opened by hand: ?model=...&onnx=... runs at once.
const params = new URLSearchParams(location.search);
if (params.get('model')) {
  run({
    model: params.get('model'),
    onnx: params.get('onnx'),
    users: null,
    ortModule: params.get('ort') || '../node_modules/onnxruntime-web/dist/ort.wasm.min.mjs',
    ortBase: params.get('ortBase') || '../node_modules/onnxruntime-web/dist/',
  }).catch((e) => { document.getElementById('status').textContent = `Failed: ${e.message}`; });
}
