// The package API against the wasm build (web/dist, built by `npm run build`), on the golden
// model files that the native core wrote (models/golden/v1): loading from bytes and paths,
// info, recommend with its options, fold-in, similar, explain, item embeddings, errors that
// leave the model usable, dispose, and the Profile in memory storage.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { EdgerecError, Model, Profile, load, version } from 'edgerec';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const GOLDEN_ROOT = path.join(REPO, 'models/golden');
const GOLDEN = path.join(GOLDEN_ROOT, 'v1');
const KINDS = ['popularity', 'mean-baseline', 'baseline', 'svd', 'svdpp', 'ials', 'bpr', 'itemknn'];
const bytesOf = (kind) => new Uint8Array(fs.readFileSync(path.join(GOLDEN, `${kind}.edgerec`)));
// Every golden file of every format version: { version, name (<kind>, <kind>.int8 or
// two-tower.features), file }.
const GOLDEN_FILES = fs.readdirSync(GOLDEN_ROOT).filter((d) => /^v\d+$/.test(d)).flatMap((d) =>
  fs.readdirSync(path.join(GOLDEN_ROOT, d)).filter((f) => f.endsWith('.edgerec')).map((f) =>
    ({ version: Number(d.slice(1)), name: f.slice(0, -'.edgerec'.length), file: path.join(GOLDEN_ROOT, d, f) })));

// user -> [{item, score}] from <name>.expected.tsv beside `file` (top-5 unseen items, computed natively).
function expected(file) {
  const out = new Map();
  for (const line of fs.readFileSync(file.replace(/\.edgerec$/, '.expected.tsv'), 'utf8').split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const [user, rank, item, score] = line.split('\t');
    if (!out.has(user)) out.set(user, []);
    out.get(user)[Number(rank) - 1] = { item, score: Number(score) };
  }
  return out;
}

async function rejectsWith(promise, pattern) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof EdgerecError, `expected an EdgerecError, got ${e && e.name}: ${e && e.message}`);
    assert.equal(e.name, 'EdgerecError');
    assert.match(e.message, pattern);
    return true;
  });
}

describe('golden model files written natively load unchanged and rank the same', () => {
  test('every format version has its files', () => {
    assert.ok(new Set(GOLDEN_FILES.map((g) => g.version)).size >= 2);
    assert.ok(GOLDEN_FILES.some((g) => g.name.endsWith('.int8')));
  });
  for (const { version: v, name, file } of GOLDEN_FILES) {
    test(`v${v}/${name}`, async () => {
      const model = await load(new Uint8Array(fs.readFileSync(file)));
      const info = model.info();
      const kind = name.split('.')[0];  // <kind>, <kind>.int8, two-tower.features
      assert.equal(info.kind, kind);
      assert.equal(info.kernels, 'wasm-simd128');
      assert.equal(info.backend, 'wasm');
      assert.equal(info.formatVersion, v);
      // Kinds without an item matrix: itemknn (neighbour lists) and neumf (a network).
      const noMatrix = kind === 'itemknn' || kind === 'neumf';
      assert.equal(info.fileItemMatrix, noMatrix ? null : (name.endsWith('.int8') ? 'int8' : 'f32'));
      const want = expected(file);
      assert.ok(want.size > 10);
      // A rating model serves its scores clipped to its training rating range (1-5 stars in the
      // golden catalogue); the v1 and v2 files record raw scores, v3 on the served ones.
      assert.deepEqual(info.ratingRange, info.predictsRatings ? [1, 5] : null);
      const served = (s) => (info.ratingRange ? Math.min(Math.max(s, info.ratingRange[0]), info.ratingRange[1]) : s);
      for (const [user, top] of want) {
        const got = await model.recommend(user, { k: 5 });
        assert.deepEqual(got.map((r) => r.item), top.map((r) => r.item), `${kind} user ${user}`);
        // 9 significant digits in the file; float32 scores in wasm.
        for (let r = 0; r < top.length; ++r) {
          const tol = 1e-5 * Math.max(1, Math.abs(top[r].score));
          assert.ok(Math.abs(got[r].score - served(top[r].score)) <= tol, `${kind} user ${user} rank ${r + 1}: ${got[r].score} vs ${top[r].score}`);
        }
      }
      model.dispose();
    });
  }
});

describe('Model', () => {
  test('load from bytes, ArrayBuffer and a path; info', async () => {
    const bytes = bytesOf('ials');
    const a = await load(bytes);
    const b = await load(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    const c = await load(path.join(GOLDEN, 'ials.edgerec'));
    for (const m of [a, b, c]) assert.ok(m instanceof Model);
    const info = a.info();
    assert.deepEqual(Object.keys(info).sort(), ['backend', 'dims', 'factors', 'fileItemMatrix', 'formatVersion', 'items',
      'kernels', 'kind', 'precision', 'predictsRatings', 'ratingRange', 'search', 'searchSample', 'trainRows', 'users', 'version'].sort());
    assert.equal(info.users, 30);
    assert.equal(info.items, a.items().length);
    assert.equal(info.dims, 4);
    assert.equal(info.factors, 4);
    assert.equal(info.precision, 'f32');
    assert.equal(info.predictsRatings, false);
    assert.equal(info.ratingRange, null);
    assert.equal(info.version, version);
    assert.deepEqual(b.info(), info);
    assert.deepEqual(await b.recommend('1'), await a.recommend('1'));
    assert.deepEqual(await c.recommend('1'), await a.recommend('1'));
    assert.equal((await load(bytesOf('svd'))).info().predictsRatings, true);
    for (const m of [a, b, c]) m.dispose();
  });

  test('recommend: k, excludeSeen, include, exclude', async () => {
    const m = await load(bytesOf('ials'));
    const all = m.items();
    const seen = new Set((await m.recommend('1', { k: all.length, excludeSeen: false })).map((r) => r.item));
    assert.equal(seen.size, all.length, 'excludeSeen false ranks every item');
    const unseen = await m.recommend('1', { k: all.length });
    assert.ok(unseen.length < all.length && unseen.length > 0);
    const top10 = await m.recommend('1');
    assert.equal(top10.length, Math.min(10, unseen.length));
    assert.deepEqual(top10, unseen.slice(0, top10.length));
    for (let r = 1; r < unseen.length; ++r) assert.ok(unseen[r - 1].score >= unseen[r].score);
    assert.deepEqual(await m.recommend('1', { k: 0 }), []);

    const include = [unseen[3].item, unseen[1].item, 'no-such-item'];
    assert.deepEqual(await m.recommend('1', { include }), [unseen[1], unseen[3]]);
    assert.deepEqual(await m.recommend('1', { include: ['no-such-item'] }), [], 'an include list of unknown ids allows nothing');
    const exclude = [unseen[0].item, unseen[2].item];
    assert.deepEqual(await m.recommend('1', { k: 3, exclude }), [unseen[1], unseen[3], unseen[4]]);
    // Filters apply to one call only.
    assert.deepEqual(await m.recommend('1', { k: 3 }), unseen.slice(0, 3));
    m.dispose();
  });

  test('recommendFor: fold-in of a new user, Profile input, unknown items ignored', async () => {
    const m = await load(bytesOf('ials'));
    const items = m.items();
    const history = [{ item: items[0], value: 1 }, { item: items[3] }, { item: items[5], value: 2 }];
    const recs = await m.recommendFor(history, { k: 5 });
    assert.equal(recs.length, 5);
    for (const r of recs) assert.ok(!history.some((h) => h.item === r.item), 'own items are excluded');
    const withSeen = await m.recommendFor(history, { k: items.length, excludeSeen: false });
    assert.equal(withSeen.length, items.length);
    const withUnknown = await m.recommendFor([...history, { item: 'unknown-item' }], { k: 5 });
    assert.deepEqual([...withUnknown], [...recs]);
    assert.equal(withUnknown.history.unknown, 1);
    // Empty history: popularity order.
    const pop = await load(bytesOf('popularity'));
    assert.deepEqual((await m.recommendFor([], { k: 5 })).map((r) => r.item), (await pop.recommendFor([], { k: 5 })).map((r) => r.item));
    const profile = await Profile.open('fold-in', { storage: 'memory' });
    for (const h of history) await profile.rate(h.item, h.value ?? 1);
    assert.deepEqual(await m.recommendFor(profile, { k: 5 }), recs);
    await rejectsWith(m.recommendFor([{ item: items[0], value: NaN }]), /non-finite/);
    await rejectsWith(m.recommendFor('nope'), /array/);
    m.dispose();
    pop.dispose();
  });

  test('similar, explain, itemEmbeddings, userVector', async () => {
    const m = await load(bytesOf('ials'));
    const items = m.items();
    const sim = await m.similar(items[0], { k: 4 });
    assert.equal(sim.length, 4);
    assert.ok(!sim.some((r) => r.item === items[0]), 'an item is not similar to itself');
    assert.ok(sim.every((r) => r.score <= 1 + 1e-6 && r.score >= -1 - 1e-6), 'cosine similarities');
    const rec = (await m.recommend('1', { k: 1 }))[0];
    const why = (await m.explain('1', rec.item, { k: 3 })).weights;
    assert.ok(why.length > 0 && why.length <= 3);
    for (let r = 1; r < why.length; ++r) assert.ok(why[r - 1].weight >= why[r].weight);
    assert.ok(why.every((w) => typeof w.item === 'string' && Number.isFinite(w.weight)));
    const whyFor = (await m.explain([{ item: items[1] }, { item: items[2], value: 3 }], rec.item)).weights;
    assert.deepEqual(new Set(whyFor.map((w) => w.item)), new Set([items[1], items[2]]));

    const emb = m.itemEmbeddings();
    assert.equal(emb.rows, items.length);
    assert.equal(emb.cols, 4);
    assert.equal(emb.data.length, emb.rows * emb.cols);
    // score = userVector . V[i] + offset reproduces recommend's scores.
    const { vector, offset } = m.userVector('1');
    const top = await m.recommend('1', { k: 3 });
    for (const r of top) {
      const i = items.indexOf(r.item);
      let s = offset;
      for (let d = 0; d < vector.length; ++d) s += vector[d] * emb.data[i * emb.cols + d];
      assert.ok(Math.abs(s - r.score) < 1e-5, `${s} vs ${r.score}`);
    }
    const knn = await load(bytesOf('itemknn'));
    assert.equal(knn.itemEmbeddings(), null);
    assert.equal((await knn.similar(items[0], { k: 2 })).length, 2);
    knn.dispose();
    m.dispose();
  });

  test('int8 quantisation: precision, same results as f32 on the golden model', async () => {
    const f32 = await load(bytesOf('svd'));
    const int8 = await load(bytesOf('svd'), { quantize: 'int8' });
    assert.equal(int8.info().precision, 'int8');
    for (const user of ['1', '2', '3', '4', '5']) {
      const a = await f32.recommend(user, { k: 5 });
      const b = await int8.recommend(user, { k: 5 });
      assert.deepEqual(b, a, 'the short list is re-scored in f32');
    }
    await rejectsWith(load(bytesOf('itemknn'), { quantize: 'int8' }), /itemknn models have no item matrix/);
    await rejectsWith(load(bytesOf('svd'), { quantize: 'int4' }), /quantize must be/);
    f32.dispose();
    int8.dispose();
  });

  test('hasUser, hasItem, items', async () => {
    const m = await load(bytesOf('bpr'));
    assert.equal(m.hasUser('1'), true);
    assert.equal(m.hasUser('no-such-user'), false);
    const items = m.items();
    assert.equal(m.hasItem(items[0]), true);
    assert.equal(m.hasItem(''), false);
    items.push('mutated');
    assert.equal(m.items().length, items.length - 1, 'items() returns a copy');
    m.dispose();
  });
});

describe('errors arrive as EdgerecError with the core message; the module stays usable', () => {
  test('garbage, truncated and corrupted model files', async () => {
    await rejectsWith(load(new Uint8Array([1, 2, 3, 4, 5])), /not an edgerec model file|too short|truncated/);
    const good = bytesOf('ials');
    await rejectsWith(load(good.subarray(0, good.length - 100)), /model/);
    const flipped = good.slice();
    flipped[good.length >> 1] ^= 0x40;
    await rejectsWith(load(flipped), /checksum|CRC/i);
    await rejectsWith(load(new Uint8Array(0)), /model/);
    await rejectsWith(load(path.join(GOLDEN, 'no-such-file.edgerec')), /no such file/);
    // Never read without end: devices and directories are refused before reading.
    await rejectsWith(load('/dev/zero'), /^\/dev\/zero: not a regular file/);
    await rejectsWith(load(GOLDEN), /it is a directory/);
    const fifo = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'edgerec-')), 'model.fifo');
    execFileSync('mkfifo', [fifo]);  // opening it would block until a writer came
    await rejectsWith(load(fifo), /model\.fifo: not a regular file/);
    const huge = path.join(path.dirname(fifo), 'huge.edgerec');
    fs.closeSync(fs.openSync(huge, 'w'));
    fs.truncateSync(huge, 2 ** 31 + 1);  // sparse: no disk used, and never read
    await rejectsWith(load(huge), /huge\.edgerec: 2147483649 bytes is more than the 2147483648-byte limit/);
    fs.rmSync(path.dirname(fifo), { recursive: true });
    await rejectsWith(load(42), /expected a URL/);
    // Still usable.
    const m = await load(good);
    assert.equal((await m.recommend('1', { k: 2 })).length, 2);
    m.dispose();
  });

  test('an HTML page in place of a model (a dev server answering a wrong URL with index.html) is named as such', async () => {
    const page = '<!DOCTYPE html>\n<html lang="en"><head><title>app</title></head><body></body></html>\n';
    const html = /not a model file \(got an HTML page: wrong URL\?\)/;
    await rejectsWith(load(new TextEncoder().encode(page)), html);
    await rejectsWith(load(new TextEncoder().encode('\ufeff  <html><body>x</body></html>')), html);
    // By the response's content type, whatever the body.
    await rejectsWith(load(new Response('whatever', { headers: { 'Content-Type': 'text/html; charset=utf-8' } })), html);
    await rejectsWith(load(new Response(page, { headers: { 'Content-Type': 'application/octet-stream' } })), html);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'edgerec-html-')), 'index.html');
    fs.writeFileSync(file, page);
    await rejectsWith(load(file), new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a model file \\(got an HTML page`));
    fs.rmSync(path.dirname(file), { recursive: true });
    // Over HTTP, from a server that answers every path with its index page.
    const server = http.createServer((req, res) => { res.writeHead(200, { 'Content-Type': 'text/html' }); res.end(page); });
    await new Promise((done) => server.listen(0, '127.0.0.1', done));
    try {
      const url = `http://127.0.0.1:${server.address().port}/models/typo.edgerec`;
      await rejectsWith(load(url), new RegExp(`^${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a model file \\(got an HTML page: wrong URL\\?\\)$`));
    } finally {
      server.close();
    }
    // A model file is never mistaken for one.
    (await load(bytesOf('ials'))).dispose();
  });

  test('unknown ids and bad arguments', async () => {
    const m = await load(bytesOf('ials'));
    const before = await m.recommend('2');
    await rejectsWith(m.recommend('no-such-user'), /^unknown user id 'no-such-user'$/);
    await rejectsWith(m.similar('no-such-item'), /^unknown item id 'no-such-item'$/);
    await rejectsWith(m.explain('1', 'no-such-item'), /unknown item id/);
    await rejectsWith(m.explain('no-such-user', m.items()[0]), /unknown user id/);
    await rejectsWith(m.recommend('1', { k: -1 }), /k must be an integer >= 0/);
    await rejectsWith(m.recommend('1', { k: 2.5 }), /k must be an integer/);
    await rejectsWith(m.recommend(7), /must be a string/);
    await rejectsWith(m.recommend('1', { include: 'x' }), /include must be an array/);
    const pop = await load(bytesOf('popularity'));
    await rejectsWith(pop.similar(pop.items()[0]), /no item space/);
    assert.equal((await pop.recommend('1', { k: 3 })).length, 3);
    pop.dispose();
    assert.deepEqual(await m.recommend('2'), before, 'the model is unchanged after errors');
    m.dispose();
  });

  test('dispose: later calls reject, twice is harmless, other models unaffected', async () => {
    const a = await load(bytesOf('ials'));
    const b = await load(bytesOf('ials'));
    a.dispose();
    a.dispose();
    await rejectsWith(a.recommend('1'), /disposed/);
    assert.throws(() => a.info(), /disposed/);
    assert.equal((await b.recommend('1', { k: 1 })).length, 1);
    b.dispose();
  });

  test('many models in one instance: handles, not global state', async () => {
    const models = await Promise.all(KINDS.map((k) => load(bytesOf(k))));
    const kinds = models.map((m) => m.info().kind);
    assert.deepEqual(kinds, KINDS);
    // Interleaved calls do not disturb each other's results or filters.
    const ials = models[KINDS.indexOf('ials')];
    const svd = models[KINDS.indexOf('svd')];
    const a1 = await ials.recommend('3', { k: 4 });
    await svd.recommend('3', { k: 4, exclude: [a1[0].item] });
    assert.deepEqual(await ials.recommend('3', { k: 4 }), a1);
    for (const m of models) m.dispose();
  });
});

describe('Profile (memory storage in Node)', () => {
  test('rate sets, addEvent sums; remove, export, import, erase', async () => {
    const p = await Profile.open('alice');
    assert.equal(p.name, 'alice');
    assert.equal(p.storage, 'memory');
    await p.rate('a', 5);
    await p.rate('b', 2.5);
    await p.rate('a', 5);
    assert.deepEqual(p.interactions(), [{ item: 'a', value: 5 }, { item: 'b', value: 2.5 }], 'rating again replaces, in first-rated order');
    await p.rate('a', 3);
    assert.equal(p.get('a'), 3);
    assert.equal(p.get('never-rated'), undefined);
    // Events count: each adds its weight.
    await p.addEvent('played');
    await p.addEvent('played');
    await p.addEvent('played', 0.5);
    assert.equal(p.get('played'), 2.5);
    // add() is addEvent() under its old name (it always summed).
    await p.add('played');
    assert.equal(p.get('played'), 3.5);
    await p.remove('played');
    assert.deepEqual(p.interactions(), [{ item: 'a', value: 3 }, { item: 'b', value: 2.5 }]);
    await p.remove('b');
    await p.remove('never-added');
    assert.deepEqual(p.interactions(), [{ item: 'a', value: 3 }]);
    const json = p.export();
    const data = JSON.parse(json);
    assert.equal(data.name, 'alice');
    assert.equal(data.format, 2);
    assert.equal(data.interactions[0].item, 'a');
    assert.equal(data.interactions[0].value, 3);
    assert.ok(Number.isFinite(data.interactions[0].time) && data.interactions[0].time > 0);

    const q = await Profile.open('bob', { storage: 'memory' });
    await q.rate('z', 1);
    await q.import(json);
    assert.deepEqual(q.interactions(), [{ item: 'a', value: 3 }], 'import replaces');
    // A file of the first format (no "format", values summed by add()) reads as it is; an item
    // listed twice keeps its last value, as rate() would.
    await q.import('{"name": "old", "interactions": [{"item": "x", "value": 10}, {"item": "y"}, {"item": "x", "value": 4}]}');
    assert.deepEqual(q.interactions(), [{ item: 'x', value: 4 }, { item: 'y', value: 1 }]);
    await rejectsWith(q.import('{"format": 3, "interactions": []}'), /format 3 is newer/);
    await q.import(json);
    await q.erase();
    assert.deepEqual(q.interactions(), []);
    assert.deepEqual(JSON.parse(q.export()).interactions, []);
    assert.deepEqual(p.interactions(), [{ item: 'a', value: 3 }], 'profiles are independent');
  });

  test('bad input is refused', async () => {
    const p = await Profile.open();
    assert.equal(p.name, 'default');
    await rejectsWith(p.rate(''), /non-empty string/);
    await rejectsWith(p.rate('x', Infinity), /rating of item 'x' must be a finite number/);
    await rejectsWith(p.rate('x'), /rating of item 'x' must be a finite number/);
    await rejectsWith(p.addEvent('x', NaN), /weight of item 'x' must be a finite number/);
    await p.addEvent('big', Number.MAX_VALUE);
    await rejectsWith(p.addEvent('big', Number.MAX_VALUE), /would overflow/);
    assert.equal(p.get('big'), Number.MAX_VALUE, 'a refused event leaves the value');
    await p.remove('big');
    await rejectsWith(p.import('{not json'), /not JSON/);
    await rejectsWith(p.import('{"interactions": [{"value": 1}]}'), /interaction 0: no item id/);
    await rejectsWith(Profile.open('x', { storage: 'cloud' }), /storage must be/);
    assert.deepEqual(p.interactions(), []);
  });
});
