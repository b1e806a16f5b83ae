// model.bandit() in Debian's Chromium: a LinUCB bandit learns from clicks in wasm, its state is
// stored with the visitor's Profile in IndexedDB (and only there), survives a reload, continues
// where it was, and is erased with the profile.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { REPO, launchBrowser, skipReason } from '../../bench/chromium.mjs';
import { serveStatic } from '../../../tools/serve-static.mjs';

const skip = skipReason();
let server;
let browser;
let page;
const requests = [];

before(async () => {
  if (skip) return;
  server = await serveStatic({ '/': path.join(REPO, 'web'), '/models/': path.join(REPO, 'models/golden/v2') });
  browser = await launchBrowser();
  page = await browser.context.newPage();
  // Every request the page makes: the bandit must send nothing anywhere.
  page.on('request', (r) => requests.push({ method: r.method(), url: r.url() }));
  await page.goto(`${server.url}/types/index.d.ts`);
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.close();
});

test('bandit state persists with the Profile in IndexedDB, continues after a reload, is erased with it', { skip }, async () => {
  const first = await page.evaluate(async () => {
    const { load, Profile } = await import('/src/index.js');
    const model = await load('/models/ials.edgerec');
    const profile = await Profile.open('bandit-visitor', { database: 'edgerec-bandit-test' });
    await profile.erase();
    for (const x of model.history('4').slice(0, 5)) await profile.rate(x.item, x.value);
    const top = (await model.recommendFor(profile, { k: 15 })).map((r) => r.item);
    const liked = new Set([top[4], top[9]]);
    const bandit = await model.bandit({ policy: 'linucb', alpha: 0.3, candidates: 15, profile });
    let clicks = 0;
    for (let t = 0; t < 80; ++t) {
      const pick = await bandit.pick();
      const r = liked.has(pick.item) ? 1 : 0;
      if (t >= 40) clicks += r;
      await bandit.reward(pick.item, r);
    }
    const next = await bandit.pick();
    return { restored: bandit.restored, clicks, next: next.item, scores: next.candidates.map((c) => c.score),
      stateBytes: profile.banditState('linucb:8').length };
  });
  assert.equal(first.restored, false);
  assert.ok(first.clicks >= 30, `clicked ${first.clicks} of the last 40 picks`);
  assert.ok(first.stateBytes > 0);
  await page.reload();
  const second = await page.evaluate(async () => {
    const { load, Profile } = await import('/src/index.js');
    const model = await load('/models/ials.edgerec');
    const profile = await Profile.open('bandit-visitor', { database: 'edgerec-bandit-test' });
    const bandit = await model.bandit({ policy: 'linucb', alpha: 0.3, candidates: 15, profile });
    const next = await bandit.pick();
    // The raw IndexedDB record holds the state beside the interactions.
    const record = await new Promise((resolve, reject) => {
      const open = indexedDB.open('edgerec-bandit-test', 1);
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const req = open.result.transaction('profiles').objectStore('profiles').get('bandit-visitor');
        req.onsuccess = () => { open.result.close(); resolve(req.result); };
        req.onerror = () => reject(req.error);
      };
    });
    const stored = record && record.bandits ? Object.keys(record.bandits) : [];
    await profile.erase();
    const again = await Profile.open('bandit-visitor', { database: 'edgerec-bandit-test' });
    const fresh = await model.bandit({ policy: 'linucb', alpha: 0.3, candidates: 15, profile: again });
    return { restored: bandit.restored, next: next.item, scores: next.candidates.map((c) => c.score), stored,
      afterErase: again.banditState('linucb:8') === undefined, freshRestored: fresh.restored };
  });
  assert.equal(second.restored, true);
  assert.equal(second.next, first.next);
  for (let c = 0; c < first.scores.length; ++c) assert.ok(Math.abs(first.scores[c] - second.scores[c]) < 1e-5);
  assert.deepEqual(second.stored, ['linucb:8']);
  assert.equal(second.afterErase, true);
  assert.equal(second.freshRestored, false);
  // Nothing but the page's own static files was requested.
  const origin = new URL(server.url).origin;
  for (const r of requests) {
    assert.equal(r.method, 'GET', `${r.method} ${r.url}`);
    assert.equal(new URL(r.url).origin, origin, r.url);
  }
});
