// model.bandit(): picks among the model's top candidates in wasm, learns from rewards, and keeps
// its state with the visitor's Profile (in memory here; IndexedDB in the browser test).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { load, Profile, EdgerecError } from 'edgerec';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const golden = (kind) => new Uint8Array(fs.readFileSync(path.join(REPO, 'models/golden/v2', `${kind}.edgerec`)));

// A visitor who clicks only items in `liked`; returns the share of clicks over the last `tail` picks.
async function run(bandit, visitor, liked, rounds, tail) {
  let late = 0;
  for (let t = 0; t < rounds; ++t) {
    const pick = await bandit.pick(visitor);
    const r = liked.has(pick.item) ? 1 : 0;
    if (t >= rounds - tail) late += r;
    await bandit.reward(pick.item, r);
  }
  return late / tail;
}

describe('model.bandit()', () => {
  test('candidates are the model top-N for the visitor; the pick is one of them', async () => {
    const m = await load(golden('ials'));
    const history = m.history('1').slice(0, 5);
    const top = await m.recommendFor(history, { k: 12 });
    for (const policy of ['linucb', 'thompson', 'egreedy', 'greedy', 'random']) {
      const b = await m.bandit({ policy, candidates: 12 });
      const pick = await b.pick(history);
      assert.deepEqual(pick.candidates.map((c) => c.item), top.map((r) => r.item), policy);
      assert.ok(pick.candidates.some((c) => c.item === pick.item), policy);
      if (policy === 'greedy') assert.equal(pick.item, top[0].item);
      b.dispose();
    }
    // A known user: the model's recommend() list.
    const b = await m.bandit({ candidates: 7 });
    const known = await b.pick('1');
    assert.deepEqual(known.candidates.map((c) => c.item), (await m.recommend('1', { k: 7 })).map((r) => r.item));
    // An empty history has no vector: the popularity list.
    const cold = await b.pick([]);
    assert.deepEqual(cold.candidates.map((c) => c.item), (await m.recommendFor([], { k: 7 })).map((r) => r.item));
  });

  test('every learning policy learns which candidates this visitor clicks; greedy does not', async () => {
    const m = await load(golden('svd'));
    const history = m.history('2').slice(0, 8);
    const top = (await m.recommendFor(history, { k: 20 })).map((r) => r.item);
    const liked = new Set([top[5], top[11], top[17]]);  // never the base model's first choice
    for (const [policy, options] of [['linucb', { alpha: 0.3 }], ['thompson', { v: 0.3 }], ['egreedy', { epsilon: 0.1 }]]) {
      const b = await m.bandit({ policy, candidates: 20, seed: 3, ...options });
      const share = await run(b, history, liked, 300, 100);
      assert.ok(share >= 0.6, `${policy}: clicked ${share} of the last 100 picks`);
    }
    const greedy = await m.bandit({ policy: 'greedy', candidates: 20 });
    assert.equal(await run(greedy, history, liked, 50, 50), 0);
  });

  test('the state persists with the profile, continues exactly, and is erased with it', async () => {
    const m = await load(golden('ials'));
    const profile = await Profile.open('bandit-test', { storage: 'memory' });
    for (const x of m.history('3').slice(0, 4)) await profile.rate(x.item, x.value);
    const liked = new Set((await m.recommendFor(profile, { k: 10 })).slice(3, 6).map((r) => r.item));
    const a = await m.bandit({ policy: 'thompson', candidates: 10, v: 0.2, profile });
    assert.equal(a.restored, false);
    await run(a, undefined, liked, 40, 1);
    assert.ok(profile.banditState('thompson:8') instanceof Uint8Array);
    // A second bandit over the same profile continues where the first one is.
    const b = await m.bandit({ policy: 'thompson', candidates: 10, v: 0.2, profile, seed: 99 });
    assert.equal(b.restored, true);
    for (let t = 0; t < 10; ++t) {
      const pa = await a.pick();
      const pb = await b.pick();
      assert.equal(pb.item, pa.item);
      for (let c = 0; c < pa.candidates.length; ++c) assert.ok(Math.abs(pa.candidates[c].score - pb.candidates[c].score) < 1e-5);
      await a.reward(pa.item, liked.has(pa.item) ? 1 : 0);
      await b.reward(pb.item, liked.has(pb.item) ? 1 : 0);
    }
    // Export carries the interactions only; erase removes the bandit state too.
    assert.ok(!('bandits' in JSON.parse(profile.export())));
    await profile.erase();
    assert.equal(profile.banditState('thompson:8'), undefined);
    const c = await m.bandit({ policy: 'thompson', candidates: 10, profile });
    assert.equal(c.restored, false);
    // Another model's state is not used: learning starts afresh and says why.
    await profile.setBanditState('linucb:8', (await (await load(golden('svd'))).bandit()).state());
    const d = await m.bandit({ profile });
    assert.equal(d.restored, false);
    assert.match(d.restoreError, /another model/);
  });

  test('clear errors', async () => {
    const m = await load(golden('ials'));
    await assert.rejects(m.bandit({ policy: 'ucb' }), /policy must be one of/);
    await assert.rejects(m.bandit({ policy: 'linucb-hybrid' }), /linucb-hybrid is not built into this serving-only target/);
    await assert.rejects(m.bandit({ epsilon: 2 }), /epsilon out of range/);
    await assert.rejects(m.bandit({ candidates: 0 }), /candidates must be at least 1/);
    await assert.rejects(m.bandit({ profile: {} }), /must be a Profile/);
    await assert.rejects((await load(golden('itemknn'))).bandit(), /no item embeddings/);
    const b = await m.bandit({ candidates: 5 });
    await assert.rejects(b.reward(m.items()[0], 1), /before any pick/);
    const pick = await b.pick('1');
    const outside = m.items().find((i) => !pick.candidates.some((c) => c.item === i));
    await assert.rejects(b.reward(outside, 1), /not among the last pick's candidates/);
    await assert.rejects(b.reward(pick.item, NaN), /finite/);
    await assert.rejects(b.reward('no-such-item', 1), EdgerecError);
    assert.throws(() => b.restore(new Uint8Array([1, 2, 3])), /not a saved bandit state/);
    const thompson = await m.bandit({ policy: 'thompson' });
    assert.throws(() => b.restore(thompson.state()), /another policy/);
    b.dispose();
    await assert.rejects(b.pick('1'), /disposed/);
  });
});
