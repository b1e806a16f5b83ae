#!/usr/bin/env node
// The bars, measured in Chromium: `npm run bench --prefix web -- --json` prints one JSON
// object with edgerec_f32_ms, edgerec_int8_ms, int8_overlap, ort_web_ms, foldin_ms,
// first_rec_ms and wasm_bytes (plus context: p90s, load times, the model's shape).
//
// It makes (once, cached in build/bench/) a synthetic catalogue of --items items and a
// --factors-factor iALS model with the CLI, exports it to ONNX, builds the demo with that
// model, serves web/ and the cache on 127.0.0.1, and drives Debian's Chromium through
// playwright-core: web/bench/index.html times the queries; the demo is loaded --runs times, each
// in a fresh browser profile (cold cache), for the time from navigation start to the first
// recommendation on screen: first_rec_ms with the demo as tools/build-demo.sh builds it (item
// matrix stored as int8 in the file), first_rec_f32_file_ms with --f32-items.
//
// The sequence-model figure, sasrec_forward_ms: a SASRec model (2 blocks, hidden 64, max_len 50,
// one epoch: the time does not depend on how well it learned) over a --seq-items catalogue
// (12000, Amazon Beauty's size) made the same way, then one recommendFor() of a 50-item history
// (forward pass + top-10) in Chromium; sasrec_explain_ms times explain() (the attention).
// bandit_update_ms: one LinUCB reward() plus the next pick() (fold-in of a 10-item visitor, top
// 50 candidates, their scores) over a 10,000-item iALS catalogue made the same way.
//
// Options: --json, --items N (100000), --users N (20000), --interactions N (2000000),
// --seq-items N (12000),
// --factors N (64), --runs N (3), --queries N (2000), --cache DIR (build/bench),
// --edgerec PATH (default $EDGEREC or build/bin/edgerec), --model FILE (time this model file
// instead, e.g. one trained on real data: its first 500 user ids from 1 up; no demo loads).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { serveStatic } from '../../tools/serve-static.mjs';
import { REPO, launchBrowser, edgerecCli, buildDemo } from './chromium.mjs';

const run = promisify(execFile);

function parseArgs(argv) {
  const o = { json: false, items: 100000, users: 20000, interactions: 2000000, factors: 64, runs: 3, queries: 2000,
    cache: path.join(REPO, 'build/bench'), edgerec: edgerecCli(), seed: 7, seqItems: 12000 };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    const int = () => {
      const v = Number(value());
      if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a positive integer`);
      return v;
    };
    if (a === '--json') o.json = true;
    else if (a === '--items') o.items = int();
    else if (a === '--users') o.users = int();
    else if (a === '--interactions') o.interactions = int();
    else if (a === '--factors') o.factors = int();
    else if (a === '--runs') o.runs = int();
    else if (a === '--queries') o.queries = int();
    else if (a === '--seed') o.seed = int();
    else if (a === '--seq-items') o.seqItems = int();
    else if (a === '--cache') o.cache = path.resolve(value());
    else if (a === '--edgerec') o.edgerec = path.resolve(value());
    else if (a === '--model') o.model = path.resolve(value());
    else if (a === '--help' || a === '-h') {
      console.log(fs.readFileSync(new URL(import.meta.url), 'utf8').split('\n').slice(1, 16).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
      process.exit(0);
    } else throw new Error(`unknown option '${a}' (see --help)`);
  }
  return o;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const log = (msg) => process.stderr.write(`bench: ${msg}\n`);
  if (!fs.existsSync(o.edgerec)) throw new Error(`${o.edgerec}: the edgerec CLI is missing (build it, or pass --edgerec)`);
  for (const f of ['dist/edgerec.wasm', 'dist/edgerec.mjs', 'src/index.js']) {
    if (!fs.existsSync(path.join(REPO, 'web', f))) throw new Error(`web/${f} is missing: run 'npm run build --prefix web' first`);
  }

  // The model, made once per shape (the stamp says which); retraining takes ~20 s on 2 cores.
  // A --model file is copied into its own folder of the cache, served the same way.
  fs.mkdirSync(o.cache, { recursive: true });
  const stamp = JSON.stringify({ items: o.items, users: o.users, interactions: o.interactions, factors: o.factors, seed: o.seed });
  const stampFile = path.join(o.cache, 'stamp.json');
  const served = o.model ? path.join(o.cache, 'given') : o.cache;
  const model = path.join(served, 'm.edgerec');
  const data = path.join(o.cache, 'data');
  if (o.model) {
    if (!fs.existsSync(o.model)) throw new Error(`${o.model}: no such model file`);
    fs.mkdirSync(served, { recursive: true });
    fs.copyFileSync(o.model, model);
    fs.rmSync(path.join(served, 'm.onnx'), { force: true });
  } else if (!fs.existsSync(model) || !fs.existsSync(stampFile) || fs.readFileSync(stampFile, 'utf8') !== stamp) {
    log(`making a ${o.items}-item catalogue and training iALS with ${o.factors} factors (once; cached in ${o.cache})`);
    fs.rmSync(stampFile, { force: true });
    await run(o.edgerec, ['generate', '--out', data, '--users', o.users, '--items', o.items, '--interactions', o.interactions, '--seed', o.seed].map(String));
    await run(o.edgerec, ['train', '--data', path.join(data, 'ratings.csv'), '--model', 'ials', '--factors', String(o.factors), '--seed', String(o.seed), '--out', model, '--quiet'], { maxBuffer: 16 << 20 });
    fs.rmSync(path.join(o.cache, 'm.onnx'), { force: true });
    fs.writeFileSync(stampFile, stamp);
  }
  // The sequence model, made once per shape like the one above.
  const seqDir = path.join(o.cache, 'seq');
  const seqModel = path.join(seqDir, 'sasrec.edgerec');
  const seqStampFile = path.join(seqDir, 'stamp.json');
  const seqStamp = JSON.stringify({ items: o.seqItems, seed: o.seed, kind: 'sasrec', factors: 64, maxLen: 50 });
  if (!fs.existsSync(seqModel) || !fs.existsSync(seqStampFile) || fs.readFileSync(seqStampFile, 'utf8') !== seqStamp) {
    log(`making a ${o.seqItems}-item catalogue and training SASRec for one epoch (once; cached in ${seqDir})`);
    fs.mkdirSync(seqDir, { recursive: true });
    fs.rmSync(seqStampFile, { force: true });
    const seqData = path.join(seqDir, 'data');
    await run(o.edgerec, ['generate', '--out', seqData, '--users', 20000, '--items', o.seqItems, '--interactions', 200000, '--seed', o.seed].map(String));
    await run(o.edgerec, ['train', '--data', path.join(seqData, 'ratings.csv'), '--model', 'sasrec', '--factors', '64', '--layers', '2', '--max-len', '50', '--epochs', '1', '--seed', String(o.seed), '--out', seqModel, '--quiet'], { maxBuffer: 16 << 20 });
    fs.writeFileSync(seqStampFile, seqStamp);
  }
  // The bandit's catalogue: 10,000 items (bandit_update_ms), iALS with --factors, made once.
  const banditDir = path.join(o.cache, 'bandit');
  const banditModel = path.join(banditDir, 'ials.edgerec');
  const banditStampFile = path.join(banditDir, 'stamp.json');
  const banditStamp = JSON.stringify({ items: 10000, users: 20000, interactions: 400000, factors: o.factors, seed: o.seed });
  if (!fs.existsSync(banditModel) || !fs.existsSync(banditStampFile) || fs.readFileSync(banditStampFile, 'utf8') !== banditStamp) {
    log(`making a 10000-item catalogue and training iALS for the bandit (once; cached in ${banditDir})`);
    fs.mkdirSync(banditDir, { recursive: true });
    fs.rmSync(banditStampFile, { force: true });
    const banditData = path.join(banditDir, 'data');
    await run(o.edgerec, ['generate', '--out', banditData, '--users', 20000, '--items', 10000, '--interactions', 400000, '--seed', o.seed].map(String));
    await run(o.edgerec, ['train', '--data', path.join(banditData, 'ratings.csv'), '--model', 'ials', '--factors', String(o.factors), '--seed', String(o.seed), '--out', banditModel, '--quiet'], { maxBuffer: 16 << 20 });
    fs.writeFileSync(banditStampFile, banditStamp);
  }
  const onnx = path.join(served, 'm.onnx');
  let onnxError = null;
  if (!fs.existsSync(onnx) || fs.statSync(onnx).mtimeMs < fs.statSync(model).mtimeMs) {
    try {
      await run(o.edgerec, ['export-onnx', '--model', model, '--out', onnx]);
    } catch (e) {
      onnxError = `edgerec export-onnx failed: ${(e.stderr || e.message).trim().split('\n')[0]}`;
      fs.rmSync(onnx, { force: true });
    }
  }
  // Query users: the first 500 user ids of the data (the synthetic ids are 1..users); for a
  // --model file, the page takes the first 500 known ids from 1 up.
  let users = null;
  if (!o.model) {
    users = [];
    for (let u = 1; u <= Math.min(500, o.users); ++u) users.push(String(u));
  }

  let demo = null, demoF32 = null;
  if (!o.model) {
    log('building the demo with this model (int8 item matrix in the file, the default, and f32)');
    const demoArgs = ['--model', model, '--items', path.join(data, 'items.csv')];
    demo = await buildDemo(path.join(o.cache, 'demo'), demoArgs);
    demoF32 = await buildDemo(path.join(o.cache, 'demo-f32'), [...demoArgs, '--f32-items']);
  }

  const webRoot = path.join(REPO, 'web');
  // Isolated (COOP/COEP) so performance.now() resolves single queries; the demo is served as a
  // plain static host would (no special headers).
  const benchServer = await serveStatic({ '/': webRoot, '/data/': served, '/seq/': seqDir, '/bandit/': banditDir }, { isolate: true });
  const demoServers = o.model ? {} : { int8: await serveStatic(demo), f32: await serveStatic(demoF32) };
  const result = {};
  try {
    log('timing queries in Chromium');
    const b = await launchBrowser();
    try {
      const page = b.context.pages()[0] || (await b.context.newPage());
      const errors = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(benchServer.url + 'bench/index.html');
      await page.waitForFunction(() => window.edgerecBench);
      const measured = await page.evaluate((config) => window.edgerecBench.run(config), {
        model: '/data/m.edgerec',
        onnx: fs.existsSync(onnx) ? '/data/m.onnx' : null,
        users,
        ortModule: '/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs',
        ortBase: '/node_modules/onnxruntime-web/dist/',
        queries: o.queries,
        seed: o.seed,
      });
      if (errors.length) throw new Error(`bench page: ${errors.join('; ')}`);
      Object.assign(result, measured);
      log('timing the sequence model in Chromium');
      const seq = await page.evaluate((config) => window.edgerecBench.runSequence(config), {
        model: '/seq/sasrec.edgerec', historyItems: 50, seed: o.seed,
      });
      if (errors.length) throw new Error(`bench page: ${errors.join('; ')}`);
      result.sasrec_forward_ms = seq.forward_ms;
      result.sasrec_forward_p90_ms = seq.forward_p90_ms;
      result.sasrec_explain_ms = seq.explain_ms;
      result.sasrec_model = { items: seq.items, dims: seq.dims, bytes: seq.model_bytes, history_items: seq.history_items, load_ms: seq.load_ms };
      log('timing the bandit in Chromium');
      const bandit = await page.evaluate((config) => window.edgerecBench.runBandit(config), {
        model: '/bandit/ials.edgerec', historyItems: 10, candidates: 50, policy: 'linucb', seed: o.seed,
      });
      if (errors.length) throw new Error(`bench page: ${errors.join('; ')}`);
      result.bandit_update_ms = bandit.update_ms;
      result.bandit_update_p90_ms = bandit.update_p90_ms;
      result.bandit_model = { items: bandit.items, dims: bandit.dims, policy: bandit.policy, candidates: bandit.candidates,
        history_items: bandit.history_items, state_bytes: bandit.state_bytes };
      if (onnxError) result.ort_error = onnxError;
      result.chromium = b.context.browser()?.version() ?? (await page.evaluate(() => navigator.userAgent));
    } finally {
      await b.close();
    }

    // The two demo builds take turns, so a busy moment slows both alike.
    if (!o.model) {
      log(`loading each demo build ${o.runs} times, each in a fresh profile`);
      const firsts = { int8: [], f32: [] };
      const loads = { int8: [], f32: [] };
      for (let r = 0; r < o.runs; ++r) {
        for (const flavour of ['int8', 'f32']) {
          const d = await launchBrowser();
          try {
            const page = d.context.pages()[0] || (await d.context.newPage());
            await page.goto(demoServers[flavour].url);
            await page.waitForSelector('html[data-ready]', { timeout: 60000 });
            const t = await page.evaluate(() => ({ ready: document.documentElement.dataset.ready, error: window.edgerecDemo.error, ...window.edgerecDemo.timings }));
            if (t.ready !== 'true') throw new Error(`the demo did not start: ${t.error}`);
            firsts[flavour].push(t.firstRecMs);
            loads[flavour].push(t.modelMs);
          } finally {
            await d.close();
          }
        }
      }
      const ms = (x) => Math.round(x * 10) / 10;
      result.first_rec_ms = ms(median(firsts.int8));
      result.first_rec_runs_ms = firsts.int8.map(ms);
      result.demo_model_load_ms = ms(median(loads.int8));
      result.demo_model_bytes = fs.statSync(path.join(demo, 'model.edgerec')).size;
      result.first_rec_f32_file_ms = ms(median(firsts.f32));
      result.first_rec_f32_file_runs_ms = firsts.f32.map(ms);
      result.demo_f32_file_model_load_ms = ms(median(loads.f32));
      result.demo_f32_file_model_bytes = fs.statSync(path.join(demoF32, 'model.edgerec')).size;
    } else {
      result.model_file = o.model;
      result.first_rec_ms = null;
    }
  } finally {
    await benchServer.close();
    for (const s of Object.values(demoServers)) await s.close();
  }

  const size = (f) => fs.statSync(path.join(webRoot, 'dist', f)).size;
  result.wasm_bytes = size('edgerec.wasm') + size('edgerec.mjs');
  result.wasm_only_bytes = size('edgerec.wasm');
  result.js_glue_bytes = size('edgerec.mjs');
  result.bars = {
    edgerec_f32_ms_le_0_5: result.edgerec_f32_ms <= 0.5,
    edgerec_f32_ms_le_1_1_fullscan: result.edgerec_f32_ms <= 1.1 * result.edgerec_f32_fullscan_ms,
    edgerec_f32_fullscan_lt_ort_web: result.ort_web_ms != null && result.edgerec_f32_fullscan_ms < result.ort_web_ms,
    edgerec_int8_faster_than_f32: result.edgerec_int8_ms < result.edgerec_f32_ms,
    int8_overlap_ge_0_99: result.int8_overlap >= 0.99,
    foldin_ms_lt_2: result.foldin_ms < 2,
    first_rec_ms_lt_1000: result.first_rec_ms == null ? null : result.first_rec_ms < 1000,
    sasrec_forward_ms_le_5: result.sasrec_forward_ms <= 5,
    bandit_update_ms_le_1: result.bandit_update_ms <= 1,
    wasm_bytes_le_400000: result.wasm_bytes <= 400000,
  };

  const order = ['edgerec_f32_ms', 'edgerec_f32_fullscan_ms', 'search', 'edgerec_int8_ms', 'int8_overlap', 'ort_web_ms', 'foldin_ms', 'sasrec_forward_ms', 'bandit_update_ms', 'first_rec_ms', 'wasm_bytes'];
  const sorted = Object.fromEntries([...order.map((k) => [k, result[k] ?? null]), ...Object.entries(result).filter(([k]) => !order.includes(k))]);
  if (o.json) {
    process.stdout.write(JSON.stringify(sorted) + '\n');
  } else {
    for (const [k, v] of Object.entries(sorted)) console.log(`${k.padEnd(24)} ${typeof v === 'object' ? JSON.stringify(v) : v}`);
  }
}

main().catch((e) => {
  process.stderr.write(`bench: ${e.message}\n`);
  process.exit(1);
});
