// Top-K in the wasm build: k is clamped to the catalogue (a huge k once grew the wasm memory to
// 1 GB for good: the heap reserved k + 1 entries), and the search modes (the model's choice, the
// forced visit, the forced plain scan) return the same items and scores.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import createEdgerecModule from '../dist/edgerec.mjs';
import { EdgerecError, load } from '../src/node/index.js';
import { createLoader } from '../src/model.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const GOLDEN = path.join(REPO, 'models/golden/v2');
const bytesOf = (name) => new Uint8Array(fs.readFileSync(path.join(GOLDEN, `${name}.edgerec`)));

test('a huge k is clamped to the catalogue and does not grow the wasm memory', async () => {
  // A loader of its own, so the test sees its instance's memory.
  let mod = null;
  const loadHere = createLoader(async (args) => (mod = await createEdgerecModule(args)),
    async () => ({ bytes: fs.readFileSync(path.join(REPO, 'web/dist/edgerec.wasm')) }));
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
