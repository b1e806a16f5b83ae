// loadOnnx (src/onnx.js): an exported ONNX graph run by onnxruntime-node and by onnxruntime-web
// (its wasm backend, in Node) gives the same top-k as the wasm backend and as the native CLI,
// for known users (with and without their seen items, with filters) and for new users.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import * as edgerec from 'edgerec';
import { loadOnnx, onnxMetadata } from 'edgerec/onnx';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = process.env.EDGEREC || path.join(REPO, 'build/bin/edgerec');
const require = createRequire(import.meta.url);
const ORTS = {
  'onnxruntime-node': require('onnxruntime-node'),
  'onnxruntime-web': await import('onnxruntime-web'),
};
const TOL = 1e-4;
const K = 10;

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'edgerec-onnx-'));
const cli = (...args) => execFileSync(CLI, args, { cwd: work, encoding: 'utf8' });
const cliJson = (...args) => JSON.parse(cli(...args, '--json'));

// Same ids rank by rank, scores within TOL; where two scores are within TOL of each other the
// engines (which sum dot products in different orders) may order them either way.
function assertSameTop(got, want, what) {
  assert.equal(got.length, want.length, `${what}: ${got.length} items, expected ${want.length}`);
  for (let j = 0; j < want.length; j++) {
    assert.ok(Math.abs(got[j].score - want[j].score) <= TOL,
      `${what}: rank ${j}: score ${got[j].score} vs ${want[j].score}`);
    if (got[j].item !== want[j].item) {
      const tie = want.some((w) => w.item === got[j].item && Math.abs(w.score - got[j].score) <= TOL) ||
        Math.abs(got[j].score - want[want.length - 1].score) <= TOL;
      assert.ok(tie, `${what}: rank ${j}: item ${got[j].item} vs ${want[j].item}`);
    }
  }
}

const kinds = { svd: 'ratings', baseline: 'ratings', ials: 'implicit', bpr: 'implicit', popularity: 'ratings' };
let users;
const wasmModels = {};

before(() => {
  cli('generate', '--out', 'ratings', '--users', '200', '--items', '150', '--interactions', '6000', '--seed', '11');
  cli('generate', '--out', 'implicit', '--users', '200', '--items', '150', '--interactions', '6000', '--seed', '12', '--implicit');
  for (const [kind, data] of Object.entries(kinds)) {
    cli('train', '--data', `${data}/ratings.csv`, '--model', kind, '--factors', '8', '--epochs', '5', '--seed', '3',
      '--out', `${kind}.edgerec`, '--quiet');
    cli('export-onnx', '--model', `${kind}.edgerec`, '--out', `${kind}.onnx`);
  }
  users = [...new Set(fs.readFileSync(path.join(work, 'ratings/ratings.csv'), 'utf8').split('\n').slice(1, 400)
    .filter(Boolean).map((l) => l.split(',')[0]))].slice(0, 5);
});

after(() => {
  for (const m of Object.values(wasmModels)) m.dispose();
  fs.rmSync(work, { recursive: true, force: true });
});

// The wasm model with a history() taken from a training file (see the known-user test).
function withHistoryFromCsv(model, data) {
  const seen = new Map();
  for (const line of fs.readFileSync(path.join(work, data, 'ratings.csv'), 'utf8').split('\n').slice(1)) {
    if (!line) continue;
    const [u, item, value] = line.split(',');
    if (!seen.has(u)) seen.set(u, []);
    seen.get(u).push({ item, value: Number(value) });
  }
  return new Proxy(model, {
    get(target, key) {
      if (key === 'history') return (u) => seen.get(u) ?? [];
      const v = target[key];
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

async function wasmModel(kind) {
  wasmModels[kind] ??= await edgerec.load(path.join(work, `${kind}.edgerec`));
  return wasmModels[kind];
}

for (const [engine, ort] of Object.entries(ORTS)) {
  describe(`loadOnnx with ${engine}`, () => {
    for (const kind of Object.keys(kinds)) {
      test(`${kind}: recommend equals the wasm backend and the CLI`, async (t) => {
        const model = await wasmModel(kind);
        const onnx = await loadOnnx(path.join(work, `${kind}.onnx`), model, { ort });
        let seenSource = onnx;
        try {
          assert.equal(onnx.info().backend, engine);
          assert.equal(onnx.info().items, model.info().items);
          for (const u of users) {
            const cliAll = cliJson('recommend', '--model', `${kind}.edgerec`, '--user', u, '-k', String(K), '--include-seen').items;
            const all = await onnx.recommend(u, { k: K, excludeSeen: false });
            assertSameTop(all, cliAll, `${kind} user ${u} with seen, vs CLI`);
            assertSameTop(all, await model.recommend(u, { k: K, excludeSeen: false }), `${kind} user ${u} with seen, vs wasm`);
          }
          // excludeSeen takes the user's items from Model.history(); a package build without it
          // gets them from the training file instead, so the filtering here is still checked.
          if (typeof model.history !== 'function') {
            t.diagnostic('Model.history() is missing from this build: seen items come from the training CSV');
            seenSource = await loadOnnx(path.join(work, `${kind}.onnx`), withHistoryFromCsv(model, kinds[kind]), { ort });
          }
          for (const u of users) {
            const cliNew = cliJson('recommend', '--model', `${kind}.edgerec`, '--user', u, '-k', String(K)).items;
            const fresh = await seenSource.recommend(u, { k: K });
            assertSameTop(fresh, cliNew, `${kind} user ${u} without seen, vs CLI`);
            assertSameTop(fresh, await model.recommend(u, { k: K }), `${kind} user ${u} without seen, vs wasm`);
          }
        } finally {
          onnx.dispose();
          seenSource.dispose();
        }
      });
    }

    test('filters: include and exclude as the wasm backend applies them', async () => {
      const model = await wasmModel('svd');
      const onnx = await loadOnnx(path.join(work, 'svd.onnx'), model, { ort });
      try {
        const u = users[0];
        const top = await model.recommend(u, { k: 20, excludeSeen: false });
        const exclude = top.slice(0, 5).map((x) => x.item).concat(['no-such-item']);
        assertSameTop(await onnx.recommend(u, { k: 7, excludeSeen: false, exclude }),
          await model.recommend(u, { k: 7, excludeSeen: false, exclude }), 'exclude');
        // Items from the bottom of the ranking: found only by asking the graph for more.
        const ids = model.items();
        const include = ids.slice(ids.length - 12).concat(['no-such-item']);
        const want = await model.recommend(u, { k: 5, excludeSeen: false, include });
        assert.equal(want.length, 5);
        assertSameTop(await onnx.recommend(u, { k: 5, excludeSeen: false, include }), want, 'include');
        assert.deepEqual(await onnx.recommend(u, { k: 0 }), []);
        assert.deepEqual(await onnx.recommend(u, { k: 3, include: ['no-such-item'] }), []);
        // k beyond the catalogue: every item once, best first.
        const every = await onnx.recommend(u, { k: ids.length + 50, excludeSeen: false });
        assert.equal(every.length, ids.length);
        assert.equal(new Set(every.map((x) => x.item)).size, ids.length);
        assert.ok(every.every((x, j) => j === 0 || every[j - 1].score >= x.score));
      } finally {
        onnx.dispose();
      }
    });

    test('recommendFor: fold-in by the core, scoring by ONNX Runtime, as the CLI', async () => {
      for (const kind of ['svd', 'ials']) {
        const model = await wasmModel(kind);
        const onnx = await loadOnnx(path.join(work, `${kind}.onnx`), model, { ort });
        try {
          const ids = model.items();
          const history = [{ item: ids[3], value: 5 }, { item: ids[17], value: 4 }, { item: ids[40], value: 1 },
            { item: 'unknown-item', value: 3 }];
          const arg = history.map((h) => `${h.item}:${h.value}`).join(',');
          const cliRecs = JSON.parse(execFileSync(CLI, ['recommend', '--model', `${kind}.edgerec`, '--items', arg,
            '-k', String(K), '--json'], { cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).items;
          const got = await onnx.recommendFor(history, { k: K });
          assertSameTop(got, cliRecs, `${kind} fold-in vs CLI`);
          assert.ok(!got.some((x) => [ids[3], ids[17], ids[40]].includes(x.item)), 'own items excluded');
          assertSameTop(got, await model.recommendFor(history, { k: K }), `${kind} fold-in vs wasm`);
          assertSameTop(await onnx.recommendFor(history, { k: K, excludeSeen: false }),
            await model.recommendFor(history, { k: K, excludeSeen: false }), `${kind} fold-in with own items`);
          // A Profile-like source, and no known item at all (popularity, from the core).
          assertSameTop(await onnx.recommendFor({ interactions: () => history }, { k: 4 }),
            await model.recommendFor(history, { k: 4 }), `${kind} profile`);
          assertSameTop(await onnx.recommendFor([], { k: 4 }), await model.recommendFor([], { k: 4 }), `${kind} empty`);
        } finally {
          onnx.dispose();
        }
      }
    });

    test('errors arrive as EdgerecError and the model stays usable', async () => {
      const model = await wasmModel('svd');
      const onnx = await loadOnnx(path.join(work, 'svd.onnx'), model, { ort });
      await assert.rejects(onnx.recommend('no-such-user'), { name: 'EdgerecError', message: "unknown user id 'no-such-user'" });
      await assert.rejects(onnx.recommend(users[0], { k: -1 }), { name: 'EdgerecError', message: /k must be an integer/ });
      await assert.rejects(onnx.recommend(users[0], { include: 'x' }), { name: 'EdgerecError' });
      await assert.rejects(onnx.recommendFor([{ item: model.items()[0], value: NaN }]), { name: 'EdgerecError', message: /not finite|non-finite/ });
      assert.equal((await onnx.recommend(users[0], { k: 3, excludeSeen: false })).length, 3);
      onnx.dispose();
      await assert.rejects(onnx.recommend(users[0]), { name: 'EdgerecError', message: /disposed/ });
      // The wasm model is the caller's: disposing the ONNX model leaves it working.
      assert.equal((await model.recommend(users[0], { k: 3, excludeSeen: false })).length, 3);
    });

    test('an ONNX file of another model, or not ONNX at all, is refused', async () => {
      const svd = await wasmModel('svd');
      const ials = await wasmModel('ials');
      // Same catalogue size, other dims: refused before any runtime is involved.
      await assert.rejects(loadOnnx(path.join(work, 'ials.onnx'), svd, { ort }),
        { name: 'EdgerecError', message: /does not belong to this model/ });
      // Same data with its rows reversed: the same items in another index order, so the same
      // shape but other ids at each index — only the ids' checksum can tell.
      const lines = fs.readFileSync(path.join(work, 'implicit/ratings.csv'), 'utf8').trimEnd().split('\n');
      fs.writeFileSync(path.join(work, 'reversed.csv'), [lines[0], ...lines.slice(1).reverse()].join('\n') + '\n');
      cli('train', '--data', 'reversed.csv', '--model', 'ials', '--factors', '8', '--epochs', '2', '--out', 'other.edgerec', '--quiet');
      cli('export-onnx', '--model', 'other.edgerec', '--out', 'other.onnx');
      const otherMeta = onnxMetadata(fs.readFileSync(path.join(work, 'other.onnx')));
      const ialsMeta = onnxMetadata(fs.readFileSync(path.join(work, 'ials.onnx')));
      assert.equal(otherMeta['edgerec.items'], ialsMeta['edgerec.items']);
      assert.equal(otherMeta['edgerec.dims'], ialsMeta['edgerec.dims']);
      await assert.rejects(loadOnnx(path.join(work, 'other.onnx'), ials, { ort }),
        { name: 'EdgerecError', message: /other item ids/ });
      await assert.rejects(loadOnnx(path.join(work, 'svd.edgerec'), svd, { ort }), { name: 'EdgerecError' });
      await assert.rejects(loadOnnx(new Uint8Array([8, 1, 0x3a]), svd, { ort }), { name: 'EdgerecError', message: /truncated|not an edgerec export/ });
      await assert.rejects(loadOnnx(path.join(work, 'missing.onnx'), svd, { ort }), { name: 'EdgerecError', message: /no such file/ });
      await assert.rejects(loadOnnx(path.join(work, 'svd.onnx'), null, { ort }), { name: 'EdgerecError' });
    });
  });
}

test('metadata: the exporter\'s edgerec.* keys', () => {
  const meta = onnxMetadata(fs.readFileSync(path.join(work, 'svd.onnx')));
  assert.equal(meta['edgerec.kind'], 'svd');
  assert.equal(meta['edgerec.has_offset'], '1');
  assert.equal(onnxMetadata(fs.readFileSync(path.join(work, 'ials.onnx')))['edgerec.has_offset'], '0');
  assert.match(meta['edgerec.item_ids_crc32'], /^[0-9a-f]{8}$/);
});
