// Item metadata in the package: model.item(), catalogue(), itemMetadata(), and titles / genres in
// recommend, recommendFor, similar and explain results, against what the native CLI prints for
// the same model file (train --item-meta), including cold items; the v4 golden files' metadata
// against their <kind>.meta.tsv; and a model without metadata.
// Needs the CLI: $EDGEREC, else build/bin/edgerec.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { WorkerModel, load } from 'edgerec';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = process.env.EDGEREC || path.join(REPO, 'build/bin/edgerec');
if (!fs.existsSync(CLI)) {
  throw new Error(`the native CLI is missing at ${CLI}: build it (cmake --build build --target edgerec) or set EDGEREC`);
}
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'edgerec-meta-'));
const cli = (...args) => execFileSync(CLI, args, { cwd: work, encoding: 'utf8', maxBuffer: 1 << 26 });
const cliJson = (...args) => JSON.parse(cli(...args, '--json'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

// items.csv of `edgerec generate` plus two cold items; a title with a quote and a comma.
let csvRows;
before(() => {
  cli('generate', '--out', 'syn', '--users', '150', '--items', '90', '--interactions', '3000', '--seed', '2', '--implicit');
  const text = fs.readFileSync(path.join(work, 'syn/items.csv'), 'utf8')
    + 'cold-1,"Say ""Hi"", World",Comedy|Drama\ncold-2,Untitled Cold,Horror\n';
  fs.writeFileSync(path.join(work, 'items.csv'), text);
  csvRows = new Map();
  for (const line of text.split('\n').slice(1).filter(Boolean)) {
    const m = line.match(/^([^,]+),("(?:[^"]|"")*"|[^,]*),(.*)$/);
    const title = m[2].startsWith('"') ? m[2].slice(1, -1).replace(/""/g, '"') : m[2];
    csvRows.set(m[1], { title, genres: m[3].split('|') });
  }
  cli('train', '--data', 'syn/ratings.csv', '--model', 'ials', '--factors', '8', '--epochs', '4', '--seed', '1',
    '--item-meta', 'items.csv', '--out', 'meta.edgerec', '--quiet');
  cli('train', '--data', 'syn/ratings.csv', '--model', 'ials', '--factors', '8', '--epochs', '4', '--seed', '1',
    '--out', 'plain.edgerec', '--quiet');
});

describe('item metadata from the model file', () => {
  test('item(), catalogue(), itemMetadata() give the file\'s titles and genres, cold items included', async () => {
    const model = await load(fs.readFileSync(path.join(work, 'meta.edgerec')));
    const all = model.catalogue();
    assert.equal(all.length, 92);
    assert.deepEqual(all.slice(0, 90).map((m) => m.id), model.items(), 'model items first, in model order');
    for (const m of all) {
      const want = csvRows.get(m.id);
      assert.equal(m.title, want.title, m.id);
      assert.deepEqual([...m.genres].sort(), [...want.genres].sort(), m.id);
      assert.deepEqual(m.fields.genres, m.genres);
      assert.equal(m.interactions, !m.id.startsWith('cold-'));
      assert.equal(m.described, true);
    }
    assert.equal(model.item('cold-1').title, 'Say "Hi", World');
    assert.equal(model.item('no-such-item'), null);
    assert.equal(model.hasItem('cold-1'), false, 'a cold item is not one the model scores');
    const cols = model.itemMetadata();
    assert.equal(cols.rows, 92);
    assert.equal(cols.modelItems, 90);
    assert.equal(cols.source, 'items.csv');
    assert.equal(cols.categorical[0].name, 'genres');
    model.dispose();
  });

  test('results carry the titles and genres the CLI prints', async () => {
    const model = await load(fs.readFileSync(path.join(work, 'meta.edgerec')));
    const user = model.items().length && cliJson('recommend', '--model', 'meta.edgerec', '--user', '1', '-k', '5');
    const got = await model.recommend('1', { k: 5 });
    assert.deepEqual(got.map(({ item, title, genres }) => ({ item, title, genres })),
      user.items.map(({ item, title, genres }) => ({ item, title, genres })));
    const fold = await model.recommendFor([{ item: got[0].item, value: 1 }], { k: 3 });
    for (const r of fold) assert.equal(r.title, csvRows.get(r.item).title);
    const sim = await model.similar(got[0].item, { k: 3 });
    const simCli = cliJson('similar', '--model', 'meta.edgerec', '--item', got[0].item, '-k', '3');
    assert.deepEqual(sim.map((r) => r.title), simCli.items.map((r) => r.title));
    const why = await model.explain('1', got[0].item);
    for (const w of why.weights) assert.equal(w.title, csvRows.get(w.item).title);
    model.dispose();
  });

  test('cold start in wasm gives what the CLI gives (similar by content, --features, --cold, --filter)', async () => {
    const model = await load(fs.readFileSync(path.join(work, 'meta.edgerec')));
    const same = (got, want, what) => {
      assert.equal(got.length, want.length, what);
      got.forEach((g, r) => {
        assert.ok(Math.abs(g.score - want[r].score) <= 1e-4 * Math.max(1, Math.abs(want[r].score)), `${what} rank ${r + 1}`);
        if (g.item !== want[r].item) {
          const twin = want.find((w) => w.item === g.item);
          assert.ok(twin && Math.abs(twin.score - g.score) <= 1e-4, `${what} rank ${r + 1}: ${g.item} vs ${want[r].item}`);
        }
        if (g.item.startsWith('cold-') || g.title) assert.equal(g.title, csvRows.get(g.item).title);
      });
    };
    same(await model.similarByContent('cold-1', { k: 5 }),
      cliJson('similar', '--model', 'meta.edgerec', '--item', 'cold-1', '-k', '5').items, 'similar cold-1');
    same(await model.similarByContent(null, { features: 'genres=Comedy|Drama', k: 5 }),
      cliJson('similar', '--model', 'meta.edgerec', '--features', 'genres=Comedy|Drama', '-k', '5').items, 'features');
    const cold = await model.recommendCold([{ item: 'cold-1', value: 1 }, { item: 'nope', value: 1 }], { k: 10 });
    same(cold, cliJson('recommend', '--model', 'meta.edgerec', '--items', 'cold-1,nope', '--cold', '-k', '10').items, 'cold');
    assert.ok(!cold.some((r) => r.item === 'cold-1'), 'seen');
    const drama = await model.recommendCold([], { k: 5, filter: 'genres=Drama', blendShrinkage: 0 });
    same(drama, cliJson('recommend', '--model', 'meta.edgerec', '--filter', 'genres=Drama', '--cold', '--blend-shrinkage', '0', '-k', '5').items, 'filter');
    for (const r of drama) assert.ok(r.genres.includes('Drama'));
    await assert.rejects(model.similarByContent(null, { features: 'colour=red' }), /unknown field 'colour'/);
    await assert.rejects(model.recommendCold([], { filter: 'colour=red' }), /no categorical field 'colour'/);
    const plain = await load(fs.readFileSync(path.join(work, 'plain.edgerec')));
    await assert.rejects(plain.recommendCold([]), /no item metadata/);
    plain.dispose();
    model.dispose();
  });

  test('the worker model forwards them', async () => {
    const model = await WorkerModel.load(fs.readFileSync(path.join(work, 'meta.edgerec')));
    try {
      assert.equal((await model.item('cold-2')).title, 'Untitled Cold');
      assert.equal((await model.catalogue()).length, 92);
      assert.equal((await model.itemMetadata()).rows, 92);
      const recs = await model.recommend('1', { k: 2 });
      assert.equal(recs[0].title, csvRows.get(recs[0].item).title);
    } finally {
      model.dispose();
    }
  });

  test('a model without metadata: no titles, item() null', async () => {
    const model = await load(fs.readFileSync(path.join(work, 'plain.edgerec')));
    assert.equal(model.item('1'), null);
    assert.deepEqual(model.catalogue(), []);
    assert.equal(model.itemMetadata(), null);
    const recs = await model.recommend('1', { k: 3 });
    for (const r of recs) assert.deepEqual(Object.keys(r).sort(), ['item', 'score']);
    model.dispose();
  });

  test('v4 golden files: the metadata read in wasm is what <kind>.meta.tsv lists', async () => {
    const dir = path.join(REPO, 'models/golden/v4');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.edgerec'));
    assert.ok(files.length >= 12);
    for (const f of files) {
      const model = await load(fs.readFileSync(path.join(dir, f)));
      const kind = f.replace(/(\.int8)?\.edgerec$/, '');
      const rows = fs.readFileSync(path.join(dir, `${kind}.meta.tsv`), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
      const all = model.catalogue();
      assert.equal(all.length, rows.length, f);
      rows.forEach((line, r) => {
        const [row, id, described, title, genres, year] = line.split('\t');
        const m = all[r];
        assert.equal(String(r), row);
        assert.equal(m.id, id, `${f} row ${r}`);
        assert.equal(m.described, described === '1');
        assert.equal(m.title ?? '', title);
        assert.equal(m.genres.join('|'), genres);
        assert.equal(m.numeric.year, year === '-' ? null : Number(year));
      });
      model.dispose();
    }
  });
});
