// The golden cross-target test: models trained and saved by the native CLI, loaded in wasm,
// give the same top-K ids and scores (within 1e-5) as `edgerec recommend --json`, for known
// users, new users (fold-in) and similar items, for every model kind that serves. Then the
// int8 item-matrix path against f32 on a 100k-item x 64-factor model.
// Needs the CLI: $EDGEREC, else build/bin/edgerec (tools/test.sh builds it).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { load } from 'edgerec';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = process.env.EDGEREC || path.join(REPO, 'build/bin/edgerec');
const TOL = 1e-5;
const K = 10;

if (!fs.existsSync(CLI)) {
  throw new Error(`the native CLI is missing at ${CLI}: build it (cmake --build build --target edgerec) or set EDGEREC`);
}
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'edgerec-golden-'));
const cli = (...args) => execFileSync(CLI, args, { cwd: work, encoding: 'utf8', maxBuffer: 1 << 26 });
const cliJson = (...args) => JSON.parse(cli(...args, '--json'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

// Same ids rank by rank and scores within TOL. The two targets sum dot products in different
// orders, so two items whose scores differ by less than TOL may swap places; that is the only
// difference allowed.
function assertSameTop(got, want, what) {
  assert.equal(got.length, want.length, `${what}: ${got.length} items, expected ${want.length}`);
  for (let r = 0; r < want.length; ++r) {
    const tol = TOL * Math.max(1, Math.abs(want[r].score));
    assert.ok(Math.abs(got[r].score - want[r].score) <= tol, `${what}: rank ${r + 1}: score ${got[r].score} vs ${want[r].score}`);
    if (got[r].item !== want[r].item) {
      const twin = want.find((w) => w.item === got[r].item);
      const tied = twin ? Math.abs(twin.score - got[r].score) <= tol : Math.abs(want[want.length - 1].score - got[r].score) <= tol;
      assert.ok(tied, `${what}: rank ${r + 1}: item ${got[r].item} vs ${want[r].item}`);
    }
  }
}

// Kinds, the data they train on, and their flags. Explicit models train on star ratings.
const KINDS = {
  ials: ['implicit', '--factors', '16', '--epochs', '6'],
  bpr: ['implicit', '--factors', '16', '--epochs', '10'],
  itemknn: ['implicit', '--neighbors', '20'],
  popularity: ['implicit'],
  svd: ['ratings', '--factors', '16', '--epochs', '10'],
  svdpp: ['ratings', '--factors', '8', '--epochs', '5'],
  baseline: ['ratings'],
  // The neural kinds, small and few epochs: the check is that both targets run the same network.
  neumf: ['implicit', '--factors', '8', '--layers', '2', '--epochs', '2', '--batch', '1024', '--pretrain', '1'],
  sasrec: ['implicit', '--factors', '16', '--max-len', '20', '--epochs', '2'],
  gru4rec: ['implicit', '--factors', '16', '--max-len', '20', '--epochs', '2'],
  lstm: ['implicit', '--factors', '16', '--max-len', '20', '--epochs', '2'],
  // Trained with the catalogue's genres (its item tower reads them); served as dot products.
  'two-tower': ['implicit', '--item-meta', 'implicit/items.csv', '--factors', '16', '--epochs', '2'],
};

let users;
let items;
before(() => {
  cli('generate', '--out', 'ratings', '--users', '300', '--items', '400', '--interactions', '12000', '--seed', '5');
  cli('generate', '--out', 'implicit', '--users', '300', '--items', '400', '--interactions', '12000', '--seed', '6', '--implicit');
  for (const [kind, [data, ...flags]] of Object.entries(KINDS)) {
    cli('train', '--data', `${data}/ratings.csv`, '--model', kind, '--seed', '9', ...flags, '--out', `${kind}.edgerec`, '--quiet');
  }
  const rows = fs.readFileSync(path.join(work, 'implicit/ratings.csv'), 'utf8').split('\n').slice(1).filter(Boolean);
  users = [...new Set(rows.map((l) => l.split(',')[0]))].filter((_, i) => i % 37 === 0).slice(0, 6);
  items = [...new Set(rows.map((l) => l.split(',')[1]))];
});

describe('native CLI vs wasm: same top-K and scores', () => {
  for (const kind of Object.keys(KINDS)) {
    test(kind, async () => {
      const file = path.join(work, `${kind}.edgerec`);
      const model = await load(fs.readFileSync(file));
      assert.equal(model.info().kind, kind);
      const known = users.filter((u) => model.hasUser(u));
      assert.ok(known.length >= 4, `${kind}: test users are in the model`);

      // Known users, one CLI call for the batch.
      const batch = cliJson('recommend', '--model', file, '-k', String(K), ...known.flatMap((u) => ['--user', u]));
      for (const result of batch.results) {
        assertSameTop(await model.recommend(result.user, { k: K }), result.items, `${kind} user ${result.user}`);
      }
      // Seen items included, and filters.
      const u = known[0];
      const withSeen = cliJson('recommend', '--model', file, '-k', String(K), '--user', u, '--include-seen');
      assertSameTop(await model.recommend(u, { k: K, excludeSeen: false }), withSeen.items, `${kind} user ${u} include-seen`);
      const exclude = withSeen.items.slice(0, 3).map((r) => r.item);
      const filtered = cliJson('recommend', '--model', file, '-k', String(K), '--user', u, '--exclude', exclude.join(','));
      assertSameTop(await model.recommend(u, { k: K, exclude }), filtered.items, `${kind} user ${u} exclude`);

      // New users from a handful of interactions (fold-in).
      for (let s = 0; s < 3; ++s) {
        const history = items.filter((_, i) => (i * 7 + s * 13) % 41 === 0).slice(0, 5 + 5 * s)
          .map((item, j) => ({ item, value: kind.startsWith('svd') || kind === 'baseline' ? 1 + ((j + s) % 5) : 1 }));
        const spec = history.map((h) => `${h.item}:${h.value}`).join(',');
        const want = cliJson('recommend', '--model', file, '-k', String(K), '--items', spec);
        assertSameTop(await model.recommendFor(history, { k: K }), want.items, `${kind} fold-in ${s}`);
      }

      // Similar items, where the model has an item space.
      if (kind !== 'popularity' && kind !== 'baseline') {
        for (const item of items.slice(0, 3)) {
          const want = cliJson('similar', '--model', file, '-k', String(K), '--item', item);
          assertSameTop(await model.similar(item, { k: K }), want.items, `${kind} similar ${item}`);
        }
      }
      model.dispose();
    });
  }
});

// Explanations of the neural kinds from the same new-user history: SASRec's attention weights,
// the recurrent kinds' occlusion and NeuMF's similarity split are computed by the network in each
// target and must agree.
describe('native CLI vs wasm: neural explanations', () => {
  for (const kind of ['sasrec', 'gru4rec', 'lstm', 'neumf']) {
    test(kind, async () => {
      const file = path.join(work, `${kind}.edgerec`);
      const model = await load(fs.readFileSync(file));
      const history = items.filter((_, i) => i % 29 === 3).slice(0, 8).map((item) => ({ item, value: 1 }));
      const spec = history.map((h) => h.item).join(',');
      const top = cliJson('recommend', '--model', file, '-k', '3', '--items', spec).items;
      for (const { item } of top) {
        const want = cliJson('explain', '--model', file, '--items', spec, '--item', item);
        const got = await model.explain(history, item);
        assert.equal(got.weights.length, want.weights.length, `${kind} explain ${item}: weight count`);
        for (let j = 0; j < want.weights.length; ++j) {
          assert.equal(got.weights[j].item, want.weights[j].item, `${kind} explain ${item}: weight ${j} item`);
          assert.ok(Math.abs(got.weights[j].weight - want.weights[j].weight) <= 1e-4 * Math.max(1, Math.abs(want.weights[j].weight)),
            `${kind} explain ${item}: weight ${j} ${got.weights[j].weight} vs ${want.weights[j].weight}`);
        }
        assert.ok(Math.abs(got.score - want.score) <= 1e-4 * Math.max(1, Math.abs(want.score)), `${kind} explain ${item}: score`);
      }
      model.dispose();
    });
  }
});

// Two-tower trained with user features (train --user-meta: its section then carries the feature
// layout and weights, which the wasm reader must read through): the same top-K for known users
// (whose vectors hold their features) and new users (items only), and the same items similar to a
// description through the item tower.
test('two-tower with user features', async () => {
  const rows = fs.readFileSync(path.join(work, 'implicit/ratings.csv'), 'utf8').split('\n').slice(1).filter(Boolean);
  const count = new Map();
  for (const l of rows) count.set(l.split(',')[0], (count.get(l.split(',')[0]) || 0) + 1);
  const lines = [...count].map(([u, n], i) => `${u},${['a', 'b', 'c'][i % 3]}|${i % 2 ? 'x' : 'y'},${n}`);
  fs.writeFileSync(path.join(work, 'users.csv'), `user,segment,activity\n${lines.join('\n')}\n`);
  cli('train', '--data', 'implicit/ratings.csv', '--model', 'two-tower', '--seed', '9', '--factors', '16', '--epochs', '2',
    '--item-meta', 'implicit/items.csv', '--user-meta', 'users.csv', '--out', 'two-tower-users.edgerec', '--quiet');
  const file = path.join(work, 'two-tower-users.edgerec');
  const model = await load(fs.readFileSync(file));
  assert.equal(model.info().kind, 'two-tower');
  const known = users.filter((u) => model.hasUser(u));
  assert.ok(known.length >= 4);
  const batch = cliJson('recommend', '--model', file, '-k', String(K), ...known.flatMap((u) => ['--user', u]));
  for (const result of batch.results) {
    assertSameTop(await model.recommend(result.user, { k: K }), result.items, `two-tower user ${result.user}`);
  }
  const history = items.filter((_, i) => i % 41 === 0).slice(0, 8).map((item) => ({ item, value: 1 }));
  const want = cliJson('recommend', '--model', file, '-k', String(K), '--items', history.map((h) => h.item).join(','));
  assertSameTop(await model.recommendFor(history, { k: K }), want.items, 'two-tower fold-in');
  // An item known only by its metadata: the file's item tower embeds it (section version 3), in
  // wasm as in the CLI, which says it ranked in the model's item space.
  const features = 'genres=Drama|Crime';
  const described = cliJson('similar', '--model', file, '--features', features, '-k', String(K));
  assert.equal(described.by, 'model');
  assertSameTop(await model.similarByContent(null, { features, k: K }), described.items, 'two-tower similar --features');
  model.dispose();
});

test('int8 item matrix: top-10 overlap >= 0.99 with f32 on 100k items x 64 factors', async () => {
  cli('generate', '--out', 'big', '--users', '2000', '--items', '100000', '--interactions', '200000', '--seed', '8', '--implicit');
  cli('train', '--data', 'big/ratings.csv', '--model', 'ials', '--factors', '64', '--epochs', '3', '--seed', '1', '--out', 'big.edgerec', '--quiet');
  const bytes = fs.readFileSync(path.join(work, 'big.edgerec'));
  const f32 = await load(bytes);
  const int8 = await load(bytes, { quantize: 'int8' });
  assert.equal(f32.info().items, 100000);
  assert.equal(f32.info().dims, 64);
  assert.equal(int8.info().precision, 'int8');
  let overlap = 0;
  let n = 0;
  for (let u = 0; n < 200 && u < 4000; ++u) {
    if (!f32.hasUser(String(u))) continue;
    const a = await f32.recommend(String(u), { k: 10 });
    const b = await int8.recommend(String(u), { k: 10 });
    const ids = new Set(a.map((r) => r.item));
    overlap += b.filter((r) => ids.has(r.item)).length / a.length;
    ++n;
  }
  assert.equal(n, 200);
  assert.ok(overlap / n >= 0.99, `int8 top-10 overlap ${overlap / n}`);
  // Fold-in users too.
  const all = f32.items();
  const history = all.filter((_, i) => i % 2003 === 0).map((item) => ({ item }));
  const a = new Set((await f32.recommendFor(history, { k: 10 })).map((r) => r.item));
  const b = await int8.recommendFor(history, { k: 10 });
  assert.ok(b.filter((r) => a.has(r.item)).length >= 9);
  f32.dispose();
  int8.dispose();
});
