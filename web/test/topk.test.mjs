// Top-K in the wasm build: k is clamped to the catalogue (a huge k once grew the wasm memory to
// 1 GB for good: the heap reserved k + 1 entries), the search modes (the model's choice, the
// forced visit, the forced plain scan) return the same items and scores, and every score is the
// bits of the wasm kernel's summation order, for each width it unrolls and for the run-time loop.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import createEdgerecModule from '../dist/edgerec.mjs';
import { EdgerecError, load } from 'edgerec';
import { createLoader } from '../src/model.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const GOLDEN = path.join(REPO, 'models/golden/v2');
const bytesOf = (name) => new Uint8Array(fs.readFileSync(path.join(GOLDEN, `${name}.edgerec`)));

test('a huge k is clamped to the catalogue and does not grow the wasm memory', async () => {
  // A loader of its own, so the test sees its instance's memory.
  let mod = null;
  const loadHere = createLoader(async (args) => (mod = await createEdgerecModule(args)),
    async () => ({ bytes: new Uint8Array(fs.readFileSync(path.join(REPO, 'web/dist/edgerec.wasm'))) }));
  const f32 = await loadHere(bytesOf('ials'));
  const int8 = await loadHere(bytesOf('ials'), { quantize: 'int8' });
  const items = f32.items();
  const user = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10'].find((u) => f32.hasUser(u));
  assert.ok(user, 'a known user');
  const history = items.slice(0, 3).map((item) => ({ item, value: 1 }));
  // Warm every path once with a small k, then measure.
  for (const m of [f32, int8]) {
    await m.recommend(user, { k: 5 });
    await m.recommendFor(history, { k: 5 });
  }
  await f32.similar(items[0], { k: 5 });
  await f32.explain(user, items[0], { k: 5 });
  const before = mod.HEAPU8.buffer.byteLength;
  for (const k of [2 ** 26, 0x7fffffff]) {
    for (const m of [f32, int8]) {
      const all = await m.recommend(user, { k, excludeSeen: false });
      assert.equal(all.length, items.length, `recommend k=${k}: every item once`);
      assert.deepEqual(all.slice(0, 5), await m.recommend(user, { k: 5, excludeSeen: false }));
      assert.equal((await m.recommendFor(history, { k, excludeSeen: false })).length, items.length);
    }
    assert.equal((await f32.similar(items[0], { k })).length, items.length - 1);
    assert.ok((await f32.explain(user, items[0], { k })).weights.length <= items.length);
  }
  assert.equal(mod.HEAPU8.buffer.byteLength, before, 'the wasm memory did not grow');
  f32.dispose();
  int8.dispose();
});

test('search modes: the choice is reported, and visit, scan and the choice agree', async () => {
  for (const name of ['ials', 'svd', 'bpr', 'popularity']) {
    const bytes = bytesOf(name);
    const chosen = await load(bytes);
    const info = chosen.info();
    assert.ok(info.search === 'visit' || info.search === 'scan', `${name}: info().search ${info.search}`);
    assert.equal(info.searchSample.source, 'known users');
    assert.ok(info.searchSample.queries > 0);
    assert.ok(info.searchSample.scored > 0 && info.searchSample.scored <= 1);
    const visit = await load(bytes);
    visit.setSearch('visit');
    const scan = await load(bytes);
    scan.setSearch('scan');
    const users = ['1', '2', '3', '4', '5', '6'].filter((u) => chosen.hasUser(u));
    assert.ok(users.length > 0);
    const history = chosen.items().slice(0, 4).map((item, j) => ({ item, value: 1 + j }));
    for (const u of users) {
      const want = await scan.recommend(u, { k: 5 });
      assert.equal(scan.lastScored(), info.items, 'a plain scan scores every item');
      assert.deepEqual(await visit.recommend(u, { k: 5 }), want, `${name} user ${u}: visit`);
      assert.deepEqual(await chosen.recommend(u, { k: 5 }), want, `${name} user ${u}: choice`);
      if (info.search === 'scan') assert.equal(chosen.lastScored(), info.items);
    }
    assert.deepEqual(await visit.recommendFor(history, { k: 5 }), await scan.recommendFor(history, { k: 5 }));
    assert.throws(() => scan.setSearch('fast'), EdgerecError);
    scan.setSearch('auto');
    assert.deepEqual(await scan.recommend(users[0], { k: 5 }), await chosen.recommend(users[0], { k: 5 }));
    for (const m of [chosen, visit, scan]) m.dispose();
  }
  // itemknn has no index: no search in info, and every mode scans.
  const knn = await load(bytesOf('itemknn'));
  assert.equal(knn.info().search, undefined);
  knn.setSearch('visit');
  const u = ['1', '2', '3'].find((x) => knn.hasUser(x));
  assert.equal((await knn.recommend(u, { k: 3 })).length, 3);
  knn.dispose();
});

// score(i) = dot(u, V[i]) + offset as core/src/kernels/score_wasm_simd128.cpp sums it: four f32
// lanes over the whole f32x4 steps, the lanes added (0 + 2) + (1 + 3), then the leftover
// columns' scalar sum, then the offset; every step rounded to f32.
function kernelScore(u, V, row, dims, offset) {
  const f = Math.fround;
  const d4 = dims & ~3;
  const lane = [0, 0, 0, 0];
  for (let d = 0; d < d4; d += 4) {
    for (let l = 0; l < 4; ++l) lane[l] = f(lane[l] + f(u[d + l] * V[row * dims + d + l]));
  }
  let s = f(f(lane[0] + lane[2]) + f(lane[1] + lane[3]));
  if (d4 < dims) {
    let t = 0;
    for (let d = d4; d < dims; ++d) t = f(t + f(u[d] * V[row * dims + d]));
    s = f(s + t);
  }
  return f(s + offset);
}

test('every scan and visit score has the bits of the kernel\'s order, for unrolled and run-time widths', async () => {
  const CLI = process.env.EDGEREC || path.join(REPO, 'build/bin/edgerec');
  assert.ok(fs.existsSync(CLI), `the native CLI is missing at ${CLI}: build it or set EDGEREC`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'edgerec-widths-'));
  try {
    const cli = (...args) => execFileSync(CLI, args, { cwd: work, encoding: 'utf8' });
    // 203 items: the last rows of a scan are scored one at a time, past the groups of four.
    cli('generate', '--out', 'data', '--users', '60', '--items', '203', '--interactions', '3000', '--seed', '3', '--implicit');
    // Widths (dims): ials 8, 16, 32, 48, 64, 96, 128 are unrolled, 12 and 20 take the run-time
    // loop; bpr adds a bias column: 17 and 35 are unrolled with leftover columns, 23 is not.
    const shapes = [['ials', 8], ['ials', 12], ['ials', 16], ['ials', 20], ['ials', 32], ['ials', 48], ['ials', 64],
      ['ials', 96], ['ials', 128], ['bpr', 16], ['bpr', 22], ['bpr', 34]];
    for (const [kind, factors] of shapes) {
      const file = `${kind}-${factors}.edgerec`;
      cli('train', '--data', 'data/ratings.csv', '--model', kind, '--factors', String(factors), '--epochs', '2',
        '--seed', '1', '--out', file, '--quiet');
      const scan = await load(new Uint8Array(fs.readFileSync(path.join(work, file))));
      const visit = await load(new Uint8Array(fs.readFileSync(path.join(work, file))));
      scan.setSearch('scan');
      visit.setSearch('visit');
      const { rows, cols, data } = scan.itemMatrix();
      const ids = scan.items();
      const what = `${kind} ${factors} factors (${cols} dims)`;
      assert.equal(cols, factors + (kind === 'bpr' ? 1 : 0), what);
      for (const user of ['1', '2', '3'].filter((u) => scan.hasUser(u))) {
        const { vector, offset } = scan.userVector(user);
        const all = await scan.recommend(user, { k: rows, excludeSeen: false });
        assert.equal(all.length, rows, what);
        const byId = new Map(ids.map((id, i) => [id, i]));
        for (const { item, score } of all) {
          const want = kernelScore(vector, data, byId.get(item), cols, offset);
          assert.ok(score === want, `${what} user ${user} item ${item}: scan score ${score}, kernel order gives ${want}`);
        }
        // The visit scores gathered rows (score_rows): the same bits, so the same list.
        assert.deepEqual(await visit.recommend(user, { k: 10, excludeSeen: false }), all.slice(0, 10), `${what}: visit`);
      }
      scan.dispose();
      visit.dispose();
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});
