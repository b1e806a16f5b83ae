// explain() through the C ABI adds up to the score served, for every model kind (the golden
// files of models/golden/v2): `score` is exactly what recommend()/recommendFor() return for the
// item, one weight per history item, and weights + others + rest = score. Then what
// recommendFor() reports about a new user's interactions (unknown ids, repeats, the popularity
// fallback) and that a int8-precision model explains its own served scores.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { load } from '../src/node/index.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const GOLDEN = path.join(REPO, 'models/golden/v2');
const KINDS = ['popularity', 'mean-baseline', 'baseline', 'svd', 'svdpp', 'ials', 'bpr', 'itemknn'];
// Kinds whose weights are the score's own per-item terms (see ScoreExplanation in
// core/include/edgerec/recommender.hpp); iALS only for new users (its fold-in is the exact solve).
const EXACT_KNOWN = new Set(['popularity', 'mean-baseline', 'baseline', 'itemknn']);
const EXACT_NEW = new Set([...EXACT_KNOWN, 'ials']);
// The native CLI trains the model of the history-cap test (as in golden-cli.test.mjs).
const CLI = process.env.EDGEREC || path.join(REPO, 'build/bin/edgerec');
const modelOf = (kind, options) => load(new Uint8Array(fs.readFileSync(path.join(GOLDEN, `${kind}.edgerec`))), options);

function assertAddsUp(e, served, n, what) {
  assert.equal(e.score, served, `${what}: score ${e.score} is not the served ${served}`);
  assert.equal(e.weights.length, n, `${what}: ${e.weights.length} weights for ${n} history items`);
  for (const key of ['score', 'others', 'rest', 'residual']) assert.equal(typeof e[key], 'number', `${what}: ${key}`);
  const total = e.weights.reduce((s, w) => s + w.weight, 0) + e.others + e.rest;
  assert.ok(Math.abs(total - e.score) <= 1e-5 * Math.max(Math.abs(e.score), 1e-3), `${what}: sum ${total} vs score ${e.score}`);
  for (let r = 1; r < e.weights.length; ++r) assert.ok(e.weights[r - 1].weight >= e.weights[r].weight, `${what}: order`);
  assert.equal(typeof e.exact, 'boolean');
  assert.ok(e.note.length > 0);
}

describe('explain adds up to the served score', () => {
  for (const kind of KINDS) {
    test(kind, async () => {
      const m = await modelOf(kind);
      let checked = 0;
      for (const user of ['1', '2', '5', '8']) {
        if (!m.hasUser(user)) continue;
        const history = m.history(user);
        for (const r of await m.recommend(user, { k: 3 })) {
          const e = await m.explain(user, r.item);
          assert.equal(e.item, r.item);
          assertAddsUp(e, r.score, history.length, `${kind} user ${user} item ${r.item}`);
          assert.equal(e.exact, EXACT_KNOWN.has(kind), `${kind}: exact for a known user`);
          if (e.exact) assert.ok(Math.abs(e.residual) <= 1e-4 * Math.max(1, Math.abs(e.score)));
          // k keeps the largest weights; the rest of them are in others.
          const top = await m.explain(user, r.item, { k: 1 });
          assert.equal(top.weights.length, 1);
          assert.deepEqual(top.weights[0], e.weights[0]);
          const total = top.weights[0].weight + top.others + top.rest;
          assert.ok(Math.abs(total - r.score) <= 1e-5 * Math.max(Math.abs(r.score), 1e-3), `${kind} k=1: sum ${total}`);
          checked++;
        }
        // The same items as a new user's interactions: the fold-in's served score, split.
        const interactions = history.map(({ item, value }) => ({ item, value }));
        for (const r of await m.recommendFor(interactions, { k: 2 })) {
          const e = await m.explain(interactions, r.item);
          assertAddsUp(e, r.score, history.length, `${kind} new user like ${user}, item ${r.item}`);
          assert.equal(e.exact, EXACT_NEW.has(kind), `${kind}: exact for a new user`);
          assert.equal(e.history.used, history.length);
          assert.equal(e.fallback, undefined);
        }
      }
      assert.ok(checked >= 6, `${kind}: explained ${checked} items`);
      m.dispose();
    });
  }

  test('an int8-precision model explains the scores it serves', async () => {
    const m = await modelOf('ials', { quantize: 'int8' });
    const r = (await m.recommend('1', { k: 1 }))[0];
    assertAddsUp(await m.explain('1', r.item), r.score, m.history('1').length, 'ials int8');
    m.dispose();
  });
});

describe('recommendFor reports how the interactions were used', () => {
  test('unknown ids, repeated items (the last value counts), the popularity fallback', async () => {
    const m = await modelOf('svd');
    const items = m.items();
    const recs = await m.recommendFor([{ item: items[0], value: 1 }, { item: 'nobody-knows', value: 3 },
      { item: items[1], value: 4 }, { item: items[0], value: 5 }], { k: 3 });
    assert.deepEqual({ ...recs.history }, { given: 4, unknown: 1, duplicates: 1, dropped: 0, clamped: 0, used: 2, maxUsed: 1000 });
    assert.equal(recs.fallback, undefined);
    const same = await m.recommendFor([{ item: items[1], value: 4 }, { item: items[0], value: 5 }], { k: 3 });
    assert.deepEqual([...recs], [...same]);

    // A rating above the model's range counts as its top rating.
    const wild = await m.recommendFor([{ item: items[1], value: 4 }, { item: items[0], value: 500 }], { k: 3 });
    assert.equal(wild.history.clamped, 1);
    assert.deepEqual([...wild], [...same]);

    const pop = await m.recommendFor([{ item: 'nope' }, { item: 'nada' }], { k: 3 });
    assert.equal(pop.fallback, 'popularity');
    assert.equal(pop.history.unknown, 2);
    assert.equal(pop.history.used, 0);
    const why = await m.explain([{ item: 'nope' }], pop[0].item);
    assert.equal(why.fallback, 'popularity');
    assert.equal(why.weights.length, 0);
    assert.equal(why.rest, why.score);
    m.dispose();
  });
});

test('a history longer than 1000 distinct known items: the newest 1000 are used, and reported', async () => {
  if (!fs.existsSync(CLI)) {
    throw new Error(`the native CLI is missing at ${CLI}: build it (cmake --build build --target edgerec) or set EDGEREC`);
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'edgerec-cap-'));
  try {
    const cli = (...args) => execFileSync(CLI, args, { cwd: work, encoding: 'utf8' });
    cli('generate', '--out', 'd', '--users', '400', '--items', '1500', '--interactions', '40000', '--seed', '3', '--implicit');
    cli('train', '--data', 'd/ratings.csv', '--model', 'itemknn', '--neighbors', '10', '--out', 'm.edgerec', '--quiet');
    const m = await load(new Uint8Array(fs.readFileSync(path.join(work, 'm.edgerec'))));
    const ids = m.items();
    assert.ok(ids.length > 1100, `${ids.length} items`);
    // Every item twice (the second time is the newer), then one unknown id.
    const all = [...ids, ...ids, 'not-an-item'].map((item) => ({ item }));
    const recs = await m.recommendFor(all, { k: 5, excludeSeen: false });
    assert.deepEqual({ ...recs.history }, {
      given: all.length, unknown: 1, duplicates: ids.length, dropped: ids.length - 1000,
      clamped: 0, used: 1000, maxUsed: 1000,
    });
    const newest = ids.slice(ids.length - 1000).map((item) => ({ item }));
    assert.deepEqual([...recs], [...await m.recommendFor(newest, { k: 5, excludeSeen: false })]);
    const why = await m.explain(all, recs[0].item);
    assert.equal(why.weights.length, 1000);
    assert.equal(why.history.dropped, ids.length - 1000);
    m.dispose();
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});
