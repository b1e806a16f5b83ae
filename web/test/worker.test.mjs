// WorkerModel: the same API with the model in a worker (worker_threads in Node, the same
// worker.js that browsers run as a module Web Worker).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { EdgerecError, Profile, WorkerModel, load } from 'edgerec';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FILE = path.join(REPO, 'models/golden/v1/ials.edgerec');

test('WorkerModel gives the same answers as Model, errors included', async () => {
  const bytes = new Uint8Array(fs.readFileSync(FILE));
  const local = await load(bytes);
  const remote = await WorkerModel.load(bytes);
  assert.equal(bytes.byteLength > 0, true, "the caller's bytes are not detached");
  assert.deepEqual(await remote.info(), local.info());
  const items = local.items();
  assert.deepEqual(await remote.items(), items);
  assert.equal(await remote.hasUser('1'), true);
  assert.equal(await remote.hasItem('no-such-item'), false);
  assert.deepEqual(await remote.recommend('1', { k: 5, exclude: [items[0]] }), await local.recommend('1', { k: 5, exclude: [items[0]] }));
  assert.deepEqual(await remote.similar(items[2], { k: 3 }), await local.similar(items[2], { k: 3 }));
  const profile = await Profile.open('worker');
  await profile.rate(items[1], 2);
  await profile.addEvent(items[4]);
  assert.deepEqual(await remote.recommendFor(profile, { k: 4 }), await local.recommendFor(profile, { k: 4 }));
  const rec = (await local.recommend('1', { k: 1 }))[0].item;
  assert.deepEqual(await remote.explain(profile, rec), await local.explain(profile, rec));
  const emb = await remote.itemEmbeddings();
  assert.ok(emb.data instanceof Float32Array);
  assert.deepEqual(emb, local.itemEmbeddings());

  await assert.rejects(remote.recommend('no-such-user'), (e) => e instanceof EdgerecError && e.message === "unknown user id 'no-such-user'");
  assert.equal((await remote.recommend('1', { k: 2 })).length, 2, 'usable after an error');
  // Concurrent calls are matched to their own replies.
  const many = await Promise.all(['1', '2', '3', '4'].map((u) => remote.recommend(u, { k: 3 })));
  for (const [i, u] of ['1', '2', '3', '4'].entries()) assert.deepEqual(many[i], await local.recommend(u, { k: 3 }));

  remote.dispose();
  await assert.rejects(remote.info(), /disposed/);
  local.dispose();
});

test('WorkerModel.load rejects a bad model file with the core message', async () => {
  await assert.rejects(WorkerModel.load(new Uint8Array([9, 9, 9, 9])), (e) => e instanceof EdgerecError && /not an edgerec model file/.test(e.message));
  const fromPath = await WorkerModel.load(FILE);
  assert.equal((await fromPath.info()).kind, 'ials');
  fromPath.dispose();
});
