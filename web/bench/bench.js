// The benchmark page's measurements (web/bench/run.mjs drives it in Chromium and prints JSON).
//
// Timing: V8 optimises a wasm function only after some calls, so every path is warmed up first.
// Queries are timed in batches and each figure is the median of the batch means: Chromium's
// performance.now() resolves 5 us under cross-origin isolation (run.mjs serves COOP/COEP) and
// 100 us without, while a pruned top-K takes tens of microseconds, so single queries would only
// measure the clock. Batches are 10 queries isolated, 40 not. The engines take turns in rounds,
// so a busy moment on the machine slows them all alike and the figures of one run compare fairly.
import * as edgerec from '../src/index.js';
import { loadOnnx } from '../src/onnx.js';

const now = () => performance.now();
const isolated = globalThis.crossOriginIsolated === true;

function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at), hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

function summary(samples) {
  samples.sort((a, b) => a - b);
  const round = (x) => Math.round(x * 10000) / 10000;
  return { median: round(quantile(samples, 0.5)), p10: round(quantile(samples, 0.1)), p90: round(quantile(samples, 0.9)), queries: samples.length };
}

// Times each of `paths` ({ name: [fn, inputs] }) over its inputs in turn. The paths take turns
// in `rounds` rounds, so whatever else the machine does at some moment slows them all alike;
// each is warmed up first. Returns { name: { median, p10, p90, queries } } in ms per query.
async function timePaths(paths, { warmup = 200, queries = 2000, batch = isolated ? 10 : 40, rounds = 10 } = {}) {
  const state = Object.entries(paths).map(([name, [fn, inputs]]) => ({ name, fn, inputs, q: 0, samples: [] }));
  const next = (p) => p.inputs[p.q++ % p.inputs.length];
  for (const p of state) for (let i = 0; i < warmup; ++i) await p.fn(next(p));
  const perRound = Math.max(1, Math.ceil(queries / rounds));
  for (let r = 0; r < rounds; ++r) {
    for (const p of state) {
      for (let b = 0; b < Math.ceil(perRound / batch); ++b) {
        const t0 = now();
        for (let i = 0; i < batch; ++i) await p.fn(next(p));
        p.samples.push((now() - t0) / batch);
      }
    }
  }
  return Object.fromEntries(state.map((p) => [p.name, { ...summary(p.samples), queries: p.samples.length * batch }]));
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
  const out = { timing: `median of ${isolated ? 10 : 40}-query batch means`, cross_origin_isolated: isolated };
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

  // The same file again, forced to score every item: the plain scan, like for like with ONNX
  // Runtime Web (which scores every item too); edgerec_f32_ms is what serving does (info().search).
  const scan = await edgerec.load(bytes);
  if (info.search) {
    scan.setSearch('scan');
    out.search = info.search;
    out.search_sample = info.searchSample;
  }

  status('Loading the int8 flavour and ONNX Runtime Web…');
  t0 = now();
  const i8 = await edgerec.load(bytes, { quantize: 'int8' });
  out.load_int8_ms = Math.round((now() - t0) * 10) / 10;
  if (i8.info().precision !== 'int8') throw new Error(`quantize: 'int8' gave precision ${i8.info().precision}`);

  let om = null;
  if (config.onnx) {
    try {
      const ort = await import(config.ortModule);
      const onnxBytes = await fetchBytes(config.onnx);
      t0 = now();
      // One thread, like edgerec's default flavour (threads would need cross-origin isolation
      // on every host; the comparison is engine against engine).
      om = await loadOnnx(onnxBytes, f32, { ort, wasmPaths: config.ortBase, numThreads: 1 });
      out.ort_load_ms = Math.round((now() - t0) * 10) / 10;
      out.ort_version = ort.env.versions?.web ?? ort.env.versions?.common ?? null;
    } catch (e) {
      out.ort_error = e.message;
    }
  } else {
    out.ort_error = 'no ONNX file given';
  }

  // Fold-in inputs: 64 new users with `n` distinct random items each, rated 1..5.
  const draw = rng(config.seed ?? 7);
  const ids = f32.items();
  const n = config.foldinItems ?? 50;
  const histories = [];
  for (let h = 0; h < 64; ++h) {
    const picked = new Set();
    while (picked.size < n) picked.add(ids[Math.floor(draw() * ids.length)]);
    histories.push([...picked].map((item) => ({ item, value: 1 + Math.floor(draw() * 5) })));
  }

  status('Timing…');
  const paths = {
    f32: [(u) => f32.recommend(u, { k }), users],
    f32_fullscan: [(u) => scan.recommend(u, { k }), users],
    int8: [(u) => i8.recommend(u, { k }), users],
    foldin_recommend: [(h) => f32.recommendFor(h, { k }), histories],
  };
  if (om) paths.ort = [(u) => om.recommend(u, { k }), users];
  if (typeof f32.userVector === 'function') paths.foldin = [async (h) => f32.userVector(h), histories];
  const t = await timePaths(paths, opts);

  out.edgerec_f32_ms = t.f32.median;
  out.edgerec_f32_p90_ms = t.f32.p90;
  out.edgerec_f32_fullscan_ms = t.f32_fullscan.median;
  out.edgerec_f32_fullscan_p90_ms = t.f32_fullscan.p90;
  out.edgerec_int8_ms = t.int8.median;
  out.edgerec_int8_p90_ms = t.int8.p90;
  out.ort_web_ms = om ? t.ort.median : null;
  if (om) out.ort_web_p90_ms = t.ort.p90;
  out.foldin_recommend_ms = t.foldin_recommend.median;
  if (t.foldin) {
    out.foldin_ms = t.foldin.median;
    out.foldin_what = `fold-in alone (userVector of ${n} interactions); foldin_recommend_ms adds the top-${k}`;
  } else {
    out.foldin_ms = t.foldin_recommend.median;
    out.foldin_what = `recommendFor(${n} interactions): fold-in + top-${k}`;
  }
  out.foldin_interactions = n;
  out.queries_per_path = t.f32.queries;

  status('Checking agreement…');
  let ov = 0;
  const scored = { f32: [], int8: [] };
  for (const u of users) {
    const a = await f32.recommend(u, { k });
    scored.f32.push(f32.lastScored());
    const b = await i8.recommend(u, { k });
    scored.int8.push(i8.lastScored());
    ov += overlap(a, b);
  }
  // f32 visits items by decreasing norm and stops when the bound allows, where the model chose
  // the visit (search), else scans; int8 always visits its codes in that order. A full scan
  // (what ONNX Runtime does) scores all `items`.
  out.f32_items_scored_median = summary(scored.f32).median;
  out.int8_items_scored_median = summary(scored.int8).median;
  out.int8_overlap = Math.round((ov / users.length) * 10000) / 10000;
  if (om) {
    let agree = 0;
    const check = users.slice(0, 100);
    for (const u of check) agree += overlap(await f32.recommend(u, { k }), await om.recommend(u, { k }));
    out.ort_overlap = Math.round((agree / check.length) * 10000) / 10000;
    om.dispose?.();
  }
  i8.dispose();
  scan.dispose();
  f32.dispose();
  status('Done.');
  show(out);
  return out;
}

/**
 * The on-device sequence model: one recommendFor() on a sequence model (a forward pass over the
 * visitor's recent items, then top-k over the catalogue) and one explain() (the attention over
 * those items), timed like the paths above. config: { model: URL, historyItems, queries, k, seed }.
 */
export async function runSequence(config) {
  const k = config.k ?? 10;
  const bytes = await fetchBytes(config.model);
  let t0 = now();
  const m = await edgerec.load(bytes);
  const out = { load_ms: Math.round((now() - t0) * 10) / 10, model_bytes: bytes.length };
  const info = m.info();
  Object.assign(out, { kind: info.kind, items: info.items, dims: info.dims });
  const draw = rng(config.seed ?? 7);
  const ids = m.items();
  const n = config.historyItems ?? 50;
  const histories = [];
  for (let h = 0; h < 64; ++h) {
    const picked = new Set();
    while (picked.size < n) picked.add(ids[Math.floor(draw() * ids.length)]);
    histories.push([...picked]);
  }
  const targets = histories.map((h) => h[Math.floor(draw() * h.length)]);
  let e = 0;
  const t = await timePaths({
    forward: [(h) => m.recommendFor(h, { k }), histories],
    explain: [(h) => m.explain(h, targets[e++ % targets.length]), histories],
  }, { warmup: 20, queries: config.queries ?? 400, rounds: 4 });
  out.forward_ms = t.forward.median;
  out.forward_p90_ms = t.forward.p90;
  out.explain_ms = t.explain.median;
  out.history_items = n;
  const first = await m.recommendFor(histories[0], { k });
  out.returned = first.length;
  m.dispose();
  return out;
}

/**
 * The on-device bandit: one reward() (the LinUCB update in wasm) plus the next pick() (fold-in
 * of the visitor's items, the model's top `candidates`, the policy's scores), timed like the
 * paths above over a catalogue of config.model's size. config: { model: URL, historyItems,
 * candidates, policy, queries, seed }.
 */
export async function runBandit(config) {
  const bytes = await fetchBytes(config.model);
  const m = await edgerec.load(bytes);
  const info = m.info();
  const out = { items: info.items, dims: info.dims, policy: config.policy ?? 'linucb', candidates: config.candidates ?? 50 };
  const bandit = await m.bandit({ policy: out.policy, candidates: out.candidates });
  const draw = rng(config.seed ?? 7);
  const ids = m.items();
  const n = config.historyItems ?? 10;
  const histories = [];
  for (let h = 0; h < 64; ++h) {
    const picked = new Set();
    while (picked.size < n) picked.add(ids[Math.floor(draw() * ids.length)]);
    histories.push([...picked].map((item) => ({ item, value: 1 })));
  }
  let last = await bandit.pick(histories[0]);
  const t = await timePaths({
    update: [async (h) => {
      await bandit.reward(last.item, draw() < 0.3 ? 1 : 0);
      last = await bandit.pick(h);
    }, histories],
  }, { warmup: 100, queries: config.queries ?? 1000, rounds: 4 });
  out.update_ms = t.update.median;
  out.update_p90_ms = t.update.p90;
  out.history_items = n;
  out.state_bytes = bandit.state().length;
  bandit.dispose();
  m.dispose();
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

window.edgerecBench = { run, runSequence, runBandit };

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
