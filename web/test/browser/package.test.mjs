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

test('a wasm URL that is missing or answers with an HTML page is named, not a hang or "bad magic"', { skip }, async () => {
  const result = await page.evaluate(async () => {
    const { load } = await import('/src/index.js');
    const bytes = new Uint8Array(await (await fetch('/models/ials.edgerec')).arrayBuffer());
    const attempt = (wasm) => load(bytes, { wasm }).then((m) => { m.dispose(); return 'loaded'; }, (e) => `${e.name}: ${e.message}`);
    return {
      missing: await attempt('/dist/no-such.wasm'),
      html: await attempt('/demo/index.html'),
      good: await attempt('/dist/edgerec.wasm'),
    };
  });
  assert.match(result.missing, /^EdgerecError: http:\/\/127\.0\.0\.1:\d+\/dist\/no-such\.wasm: HTTP 404 Not Found \(edgerec\.wasm is not served there/);
  assert.match(result.html, /^EdgerecError: http:\/\/127\.0\.0\.1:\d+\/demo\/index\.html: not a wasm file \(got an HTML page: wrong URL\?\)$/);
  assert.equal(result.good, 'loaded');
});

test('Profile: IndexedDB storage survives a reload; rate sets, addEvent sums; erase removes it', { skip }, async () => {
  const first = await page.evaluate(async () => {
    const { Profile } = await import('/src/index.js');
    const p = await Profile.open('visitor', { database: 'edgerec-test' });
    await p.erase();
    await p.rate('3', 5);
    await p.addEvent('5');
    await p.rate('3', 5);
    await p.addEvent('5');
    return { storage: p.storage, interactions: p.interactions() };
  });
  assert.equal(first.storage, 'indexeddb');
  assert.deepEqual(first.interactions, [{ item: '3', value: 5 }, { item: '5', value: 2 }]);
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

test('Profile: a record of the first format (summed by add()) is read as it is and rewritten as format 2', { skip }, async () => {
  const result = await page.evaluate(async () => {
    const { Profile } = await import('/src/index.js');
    const db = 'edgerec-migration-test';
    const raw = (mode, body) => new Promise((resolve, reject) => {
      const open = indexedDB.open(db, 1);
      open.onupgradeneeded = () => open.result.createObjectStore('profiles', { keyPath: 'name' });
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const tx = open.result.transaction('profiles', mode);
        const req = body(tx.objectStore('profiles'));
        tx.oncomplete = () => { open.result.close(); resolve(req.result); };
        tx.onerror = () => reject(tx.error);
      };
    });
    // What edgerec 0.1 stored: no format field.
    await raw('readwrite', (s) => s.put({ name: 'old', interactions: [{ item: 'a', value: 10, time: 1 }, { item: 'b', value: 1, time: 2 }] }));
    const p = await Profile.open('old', { database: db });
    const before = p.interactions();
    await p.rate('a', 5);
    const stored = await raw('readonly', (s) => s.get('old'));
    // A record written by a later format is refused, not overwritten.
    await raw('readwrite', (s) => s.put({ name: 'future', format: 99, interactions: [] }));
    let refused = null;
    try {
      await Profile.open('future', { database: db });
    } catch (e) {
      refused = e.message;
    }
    const future = await raw('readonly', (s) => s.get('future'));
    return { before, stored, refused, futureFormat: future.format };
  });
  assert.deepEqual(result.before, [{ item: 'a', value: 10 }, { item: 'b', value: 1 }]);
  assert.equal(result.stored.format, 2);
  assert.deepEqual(result.stored.interactions.map((x) => [x.item, x.value]), [['a', 5], ['b', 1]]);
  assert.match(result.refused, /stored by a newer edgerec \(record format 99/);
  assert.equal(result.futureFormat, 99);
});

test('WorkerModel in a module Web Worker matches the page', { skip }, async () => {
  const result = await page.evaluate(async () => {
    const { load, WorkerModel, Profile } = await import('/src/index.js');
    const bytes = new Uint8Array(await (await fetch('/models/svd.edgerec')).arrayBuffer());
    const local = await load(bytes);
    const remote = await WorkerModel.load('/models/svd.edgerec');
    const profile = await Profile.open('worker', { storage: 'memory' });
    await profile.rate(local.items()[0], 5);
    await profile.rate(local.items()[1], 2);
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
