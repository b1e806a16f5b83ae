// Re-ranking in the package: recommend() / recommendFor() with { rerank, lambda, pool } give the
// same items, in the same order and with the same scores, as the native CLI's
// `recommend --rerank KIND --rerank-lambda X --rerank-pool P` for the same model file (one
// core/src/eval/rerank.cpp behind both), and the options are checked.
// Needs the CLI: $EDGEREC, else build/bin/edgerec.
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
if (!fs.existsSync(CLI)) {
  throw new Error(`the native CLI is missing at ${CLI}: build it (cmake --build build --target edgerec) or set EDGEREC`);
}
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'edgerec-rerank-'));
const cli = (...args) => execFileSync(CLI, args, { cwd: work, encoding: 'utf8', maxBuffer: 1 << 26 });
const cliJson = (...args) => JSON.parse(cli(...args, '--json'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

let model;
before(async () => {
  cli('generate', '--out', 'syn', '--users', '150', '--items', '120', '--interactions', '4000', '--seed', '3', '--implicit');
  cli('train', '--data', 'syn/ratings.csv', '--model', 'ials', '--factors', '8', '--epochs', '4', '--seed', '1',
    '--item-meta', 'syn/items.csv', '--out', 'm.edgerec', '--quiet');
  cli('train', '--data', 'syn/ratings.csv', '--model', 'ials', '--factors', '8', '--epochs', '4', '--seed', '1',
    '--out', 'plain.edgerec', '--quiet');
  model = await load(fs.readFileSync(path.join(work, 'm.edgerec')));
});

const pairs = (list) => list.map((r) => [r.item, r.score]);
const cliPairs = (j) => j.items.map((r) => [r.item, Math.fround(r.score)]);
const close = (a, b) => {
  assert.deepEqual(a.map((x) => x[0]), b.map((x) => x[0]));
  for (let i = 0; i < a.length; ++i) assert.ok(Math.abs(a[i][1] - b[i][1]) <= 1e-5 * Math.max(1, Math.abs(b[i][1])), `score ${i}`);
};

describe('re-ranking', () => {
  for (const [kind, lambda] of [['mmr', 0.3], ['calibrated', 0.7], ['popularity', 0.6], ['popularity', 1]]) {
    test(`${kind} at lambda ${lambda}: a known user's list is the CLI's`, async () => {
      const users = model.info().users;
      assert.ok(users > 0);
      for (const user of ['1', '7', '42']) {
        const js = await model.recommend(user, { k: 10, rerank: kind, lambda, pool: 5 });
        const native = cliJson('recommend', '--model', 'm.edgerec', '--user', user, '-k', '10', '--rerank', kind,
          '--rerank-lambda', String(lambda), '--rerank-pool', '5');
        close(pairs(js), cliPairs(native));
      }
    });
  }

  test('a new user (recommendFor) is re-ranked over their own items, as the CLI does with --items', async () => {
    const items = model.items().slice(3, 9);
    for (const kind of ['mmr', 'calibrated', 'popularity']) {
      const js = await model.recommendFor(items.map((item) => ({ item })), { k: 8, rerank: kind, lambda: 0.5 });
      const native = cliJson('recommend', '--model', 'm.edgerec', '--items', items.join(','), '-k', '8', '--rerank', kind,
        '--rerank-lambda', '0.5');
      close(pairs(js), cliPairs(native));
      assert.ok(js.history, 'the fold-in report is kept');
    }
  });

  test('a re-ranking that changes nothing keeps the model\'s list; a strong one changes it', async () => {
    const plain = await model.recommend('5', { k: 10 });
    assert.deepEqual(await model.recommend('5', { k: 10, rerank: 'none' }), plain);
    assert.deepEqual(await model.recommend('5', { k: 10, rerank: 'mmr', lambda: 1 }), plain);
    assert.deepEqual(await model.recommend('5', { k: 10, rerank: 'popularity', lambda: 0 }), plain);
    const diverse = await model.recommend('5', { k: 10, rerank: 'mmr', lambda: 0 });
    assert.notDeepEqual(diverse.map((r) => r.item), plain.map((r) => r.item));
    assert.equal(diverse.length, 10);
  });

  test('bad options are refused with a clear message, and the model stays usable', async () => {
    await assert.rejects(model.recommend('5', { rerank: 'shuffle' }), /rerank must be 'none', 'mmr', 'calibrated' or 'popularity'/);
    await assert.rejects(model.recommend('5', { rerank: 'mmr', lambda: 1.5 }), /lambda must be a number in \[0, 1\]/);
    await assert.rejects(model.recommend('5', { rerank: 'mmr', pool: 0 }), /pool must be an integer/);
    const plain = await load(fs.readFileSync(path.join(work, 'plain.edgerec')));
    await assert.rejects(plain.recommend('5', { rerank: 'calibrated' }), /needs item metadata with a 'genres' field/);
    assert.equal((await plain.recommend('5', { k: 4, rerank: 'popularity' })).length, 4);
    assert.equal((await model.recommend('5', { k: 4 })).length, 4);
  });
});
