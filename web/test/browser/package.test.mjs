// The package in Debian's Chromium (playwright-core): the ES module entry loads the default
// flavour from a static server, a Profile keeps its interactions in IndexedDB across page
// loads and erases them, and WorkerModel scores in a real module Web Worker.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { REPO, launchBrowser, skipReason } from '../../bench/chromium.mjs';
import { serveStatic } from '../../../tools/serve-static.mjs';

const skip = skipReason();
let server;
let browser;
let page;

before(async () => {
  if (skip) return;
  // The whole web/ folder (src/, dist/) and the golden models, as a static host would serve them.
  server = await serveStatic({ '/': path.join(REPO, 'web'), '/models/': path.join(REPO, 'models/golden/v1') });
  browser = await launchBrowser();
  page = await browser.context.newPage();
  await page.goto(`${server.url}/types/index.d.ts`); // any same-origin page: the tests import modules into it
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.close();
});

test('load, recommend and errors in the page', { skip }, async () => {
  const result = await page.evaluate(async () => {
    const edgerec = await import('/src/index.js');
    const model = await edgerec.load('/models/ials.edgerec');
    const recs = await model.recommend('1', { k: 3 });
    let error = null;
    try {
      await model.recommend('nobody');
    } catch (e) {
      error = { name: e.name, message: e.message, isEdgerec: e instanceof edgerec.EdgerecError };
    }
    const again = await model.recommend('1', { k: 3 });
    const info = model.info();
    model.dispose();
    return { recs, again, error, kernels: info.kernels, version: edgerec.version };
  });
  assert.equal(result.recs.length, 3);
  assert.deepEqual(result.again, result.recs);
  assert.deepEqual(result.error, { name: 'EdgerecError', message: "unknown user id 'nobody'", isEdgerec: true });
  assert.equal(result.kernels, 'wasm-simd128');
});

test('Profile: IndexedDB storage survives a reload; erase removes it', { skip }, async () => {
  const first = await page.evaluate(async () => {
    const { Profile } = await import('/src/index.js');
    const p = await Profile.open('visitor', { database: 'edgerec-test' });
    await p.erase();
    await p.add('3', 2);
    await p.add('5');
    await p.add('3', 1);
    return { storage: p.storage, interactions: p.interactions() };
  });
  assert.equal(first.storage, 'indexeddb');
  assert.deepEqual(first.interactions, [{ item: '3', value: 3 }, { item: '5', value: 1 }]);
  await page.reload();
  const second = await page.evaluate(async () => {
    const { Profile } = await import('/src/index.js');
    const p = await Profile.open('visitor', { database: 'edgerec-test' });
    const kept = p.interactions();
    const other = (await Profile.open('someone-else', { database: 'edgerec-test' })).interactions();
    await p.erase();
    const q = await Profile.open('visitor', { database: 'edgerec-test' });
    return { kept, other, afterErase: q.interactions() };
  });
  assert.deepEqual(second.kept, first.interactions);
  assert.deepEqual(second.other, []);
  assert.deepEqual(second.afterErase, []);
});

test('WorkerModel in a module Web Worker matches the page', { skip }, async () => {
  const result = await page.evaluate(async () => {
    const { load, WorkerModel, Profile } = await import('/src/index.js');
    const bytes = new Uint8Array(await (await fetch('/models/svd.edgerec')).arrayBuffer());
    const local = await load(bytes);
    const remote = await WorkerModel.load('/models/svd.edgerec');
    const profile = await Profile.open('worker', { storage: 'memory' });
    await profile.add(local.items()[0], 5);
    await profile.add(local.items()[1], 2);
    const out = {
      same: JSON.stringify(await remote.recommend('2', { k: 5 })) === JSON.stringify(await local.recommend('2', { k: 5 })),
      sameFor: JSON.stringify(await remote.recommendFor(profile, { k: 5 })) === JSON.stringify(await local.recommendFor(profile, { k: 5 })),
      kind: (await remote.info()).kind,
      bytesKept: bytes.byteLength,
    };
    try {
      await remote.similar('no-such-item');
    } catch (e) {
      out.error = e.message;
    }
    remote.dispose();
    local.dispose();
    return out;
  });
  assert.deepEqual(result, { same: true, sameFor: true, kind: 'svd', bytesKept: result.bytesKept, error: "unknown item id 'no-such-item'" });
  assert.ok(result.bytesKept > 0);
});
