// The static demo in Debian's Chromium: built by tools/build-demo.sh (synthetic catalogue),
// served on 127.0.0.1, driven like a visitor would. Checks that ratings change the
// recommendations, explanations name the visitor's items, the diversity slider re-ranks, similar items and the taste map
// appear, the profile persists in IndexedDB and can be erased, the page keeps working offline,
// and that no request leaves after the model has loaded (nor ever goes beyond 127.0.0.1).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { serveStatic } from '../../../tools/serve-static.mjs';
import { REPO, buildDemo, launchBrowser, recordRequests, skipReason, tempDir } from '../../bench/chromium.mjs';

const skip = skipReason();
const SHOTS = process.env.EDGEREC_SCREENSHOTS || path.join(REPO, 'build/screenshots');

let work, server, browser, page, requests;
const problems = [];
const state = {};

const recs = () => page.evaluate(() => window.edgerecDemo.recs());
const texts = (sel) => page.$$eval(sel, (els) => els.map((e) => e.textContent.trim()));

async function waitForRecsChange(previous) {
  await page.waitForFunction((prev) => window.edgerecDemo.recs().join('\n') !== prev, previous.join('\n'));
  return recs();
}

async function loadPage() {
  await page.goto(server.url);
  await page.waitForSelector('html[data-ready]');
  const ready = await page.evaluate(() => document.documentElement.dataset.ready);
  assert.equal(ready, 'true', `the demo did not start: ${await page.textContent('#status')}`);
}

before(async () => {
  if (skip) return;
  work = tempDir('edgerec-demo-test-');
  const dir = await buildDemo(path.join(work, 'demo'));
  server = await serveStatic(dir);
  browser = await launchBrowser();
  requests = recordRequests(browser.context);
  page = browser.context.pages()[0] || (await browser.context.newPage());
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
});

after(async () => {
  await browser?.close();
  await server?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the demo loads the model and shows the first recommendations', { skip }, async () => {
  await loadPage();
  const first = await recs();
  assert.equal(first.length, 10);
  assert.match(await page.textContent('#recs-heading'), /Popular/);
  assert.match(await page.textContent('#status'), /Model ready: ials, 1,000 items/);
  assert.match(await page.textContent('#rec-latency'), /Top 10 of 1,000 items in (< 0\.1|\d+(\.\d)?) ms/);
  const firstRecMs = await page.evaluate(() => window.edgerecDemo.timings.firstRecMs);
  assert.ok(firstRecMs > 0 && firstRecMs < 10000, `first recommendation after ${firstRecMs} ms`);
  assert.equal((await texts('#results li')).length, 30, 'the picker lists the popular items');
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, 'demo-popular.png'), fullPage: false });

  // The page's own resource timeline: nothing was requested after edgerec.load() resolved
  // (the model file and the wasm are fetched inside it).
  const { timeline, loadedAt } = await page.evaluate(() => ({
    loadedAt: window.edgerecDemo.timings.modelLoadedAt,
    timeline: performance.getEntriesByType('resource').map((e) => ({ name: e.name, start: e.startTime })),
  }));
  assert.ok(timeline.some((e) => e.name.endsWith('/model.edgerec')), timeline.map((e) => e.name).join(', '));
  assert.ok(loadedAt > 0);
  // The preloads were used: every file was fetched once.
  const names = timeline.map((e) => e.name);
  assert.deepEqual(names.filter((n, i) => names.indexOf(n) !== i), [], 'files fetched twice');
  const late = timeline.filter((e) => e.start > loadedAt);
  assert.deepEqual(late.map((e) => e.name), [], 'requests issued after the model had loaded');
  requests.mark();
});

test('popular scores are labelled as rating counts; a 1-star rating is not a like', { skip }, async () => {
  const popular = await recs();
  const scores = await texts('#recs li .score');
  assert.equal(scores.length, 10);
  assert.ok(scores.every((t) => /^[\d,]+ ratings?$/.test(t)), scores.join(' | '));
  assert.match(await page.textContent('#score-note'), /ranked by how many ratings/);
  // Rate the most popular item 1 star: it leaves the list, and nothing is personalised by it.
  const disliked = popular[0];
  await page.click(`#recs li[data-item="${disliked}"] .rate button[data-value="1"]`);
  const after = await waitForRecsChange(popular);
  assert.ok(!after.includes(disliked), 'a rated item is still recommended');
  assert.deepEqual(after, popular.slice(1, 10).concat(after.slice(9)), 'the rest stays in popularity order');
  assert.match(await page.textContent('#recs-heading'), /^Popular — rate items you like/);
  assert.deepEqual([...new Set(await texts('#recs li .why'))], ['Popular with everyone']);
  state.disliked = { id: disliked, title: await page.textContent(`#profile li[data-item="${disliked}"] .title`) };
});

test('rating items changes the recommendations, with explanations naming them', { skip }, async () => {
  const popular = await recs();
  const picked = (await page.$$eval('#results li', (els) => els.map((e) => e.dataset.item))).filter((id) => id !== state.disliked.id).slice(0, 3);
  let current = popular;
  for (const id of picked) {
    await page.click(`#results li[data-item="${id}"] .rate button[data-value="5"]`);
    current = await waitForRecsChange(current);
    assert.ok(!current.includes(id), `rated item ${id} is still recommended`);
  }
  assert.notDeepEqual(current, popular);
  assert.match(await page.textContent('#recs-heading'), /Recommended for you/);
  assert.deepEqual((await page.$$eval('#profile li.item', (els) => els.map((e) => e.dataset.item))).sort(), [...picked, state.disliked.id].sort());
  const pickedTitles = await page.$$eval('#profile li.item .title', (els) => els.map((e) => e.textContent));
  const whys = await texts('#recs li .why');
  assert.equal(whys.length, 10);
  assert.ok(whys.every((w) => /^Because you liked |^Fits your overall taste/.test(w)), whys.join(' | '));
  assert.ok(whys.some((w) => pickedTitles.some((t) => w.includes(t))), 'no explanation names a liked item');
  assert.ok(whys.every((w) => !w.includes(state.disliked.title)), 'an explanation names the 1-star item');
  assert.ok(!current.includes(state.disliked.id));
  assert.ok(whys.every((w) => !/%/.test(w)), 'no share of the score is claimed');
  // Personal scores are labelled as the model's predicted preference.
  const scores = await texts('#recs li .score');
  assert.ok(scores.every((t) => /^match -?\d+\.\d\d$/.test(t)), scores.join(' | '));
  assert.match(await page.textContent('#score-note'), /predicted preference/);
  assert.match(await page.textContent('#rec-latency'), /fold-in of your 4 ratings/);
  // Re-rating an item replaces its value (one profile entry); at 2 stars it is no longer a like,
  // so no explanation names it, and it is not recommended.
  const before = await recs();
  await page.click(`#profile li[data-item="${picked[0]}"] .rate button[data-value="2"]`);
  await page.waitForFunction((id) => document.querySelector(`#profile li[data-item="${id}"] .rate button[aria-pressed="true"]`)?.dataset.value === '2', picked[0]);
  await waitForRecsChange(before);
  assert.equal(await page.$$eval('#profile li.item', (els) => els.length), 4);
  const stored = await page.evaluate(async (id) => {
    const { Profile } = await import('./edgerec/src/index.js');
    return (await Profile.open('edgerec-demo')).get(id);
  }, picked[0]);
  assert.equal(stored, 2, 'the profile holds the new rating, not a sum');
  const reTitle = pickedTitles[0];
  assert.ok((await texts('#recs li .why')).every((w) => !w.includes(reTitle)), 'a 2-star item is explained as a like');
  assert.ok(!(await recs()).includes(picked[0]));
});

test('the diversity slider re-ranks the recommendations (MMR in wasm) and 0 restores them', { skip }, async () => {
  const plain = await recs();
  const slide = (v) => page.evaluate((value) => {
    const input = document.getElementById('diversity');
    input.value = value;
    input.dispatchEvent(new Event('input', { bubbles: true }));
  }, v);
  await slide('1');
  const diverse = await waitForRecsChange(plain);
  assert.equal(diverse.length, 10);
  assert.equal(await page.textContent('#diversity-value'), '1.00');
  await slide('0');
  assert.deepEqual(await waitForRecsChange(diverse), plain);
});

test('star buttons are at least 24 x 24 CSS px at a phone width', { skip }, async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  try {
    const boxes = await page.$$eval('.rate button', (els) => els.map((e) => {
      const r = e.getBoundingClientRect();
      return { w: r.width, h: r.height, visible: r.width > 0 && r.height > 0 };
    }).filter((b) => b.visible));
    assert.ok(boxes.length >= 50, `only ${boxes.length} star buttons measured`);
    const small = boxes.filter((b) => b.w < 24 || b.h < 24);
    assert.deepEqual(small, [], `star buttons under 24 x 24 px: ${JSON.stringify(small.slice(0, 3))}`);
    const box = await page.locator('#recs .rate button').first().boundingBox();
    assert.ok(box.width >= 24 && box.height >= 24, JSON.stringify(box));
  } finally {
    await page.setViewportSize({ width: 1360, height: 900 });
  }
});

test('searching finds items by title and genre, and rating one from the results updates', { skip }, async () => {
  const genre = (await page.textContent('#recs li .genres')).split(' · ')[0];
  await page.fill('#search', genre.toLowerCase());
  await page.waitForFunction(() => /match/.test(document.querySelector('#results-note').textContent));
  const found = await page.$$eval('#results li', (els) => els.map((e) => `${e.querySelector('.title').textContent} ${e.querySelector('.genres').textContent}`));
  assert.ok(found.length > 0 && found.every((t) => t.toLowerCase().includes(genre.toLowerCase())), `search "${genre}" gave ${found.slice(0, 3)}`);
  assert.ok((await texts('#results li .genres')).some((g) => g.split(' · ').includes(genre)));
  const before = await recs();
  const id = await page.$eval('#results li:not([data-item=""])', (e) => e.dataset.item);
  await page.click(`#results li[data-item="${id}"] .rate button[data-value="4"]`);
  await waitForRecsChange(before);
  await page.fill('#search', '');
});

test("an item's title shows its similar items, and the taste map is drawn", { skip }, async () => {
  const id = (await recs())[0];
  const title = await page.textContent(`#recs li[data-item="${id}"] .title`);
  await page.click(`#recs li[data-item="${id}"] .title`);
  await page.waitForFunction(() => document.querySelectorAll('#similar li').length === 10);
  assert.equal(await page.textContent('#similar-heading'), `Similar to ${title}`);
  const sims = await page.$$eval('#similar li', (els) => els.map((e) => e.dataset.item));
  assert.ok(!sims.includes(id), 'an item is listed as similar to itself');
  assert.match(await page.textContent('#similar-latency'), /10 nearest of 1,000 items in/);
  assert.match(await page.textContent('#map-summary'), /Your taste sits nearest to /);
  const inked = await page.$eval('#map', (c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) ++n;
    return n;
  });
  assert.ok(inked > 2000, `the map has only ${inked} drawn pixels`);
});

test('explore/exploit: reactions go to the bandit, the picks change, exploit shows the model\'s best', { skip }, async () => {
  const picks = [];
  for (let t = 0; t < 6; ++t) {
    const before = await page.evaluate(() => window.edgerecDemo.explore.log.length);
    picks.push(await page.evaluate(() => window.edgerecDemo.explore.pick));
    await page.click(t % 2 ? '#explore-like' : '#explore-skip');
    await page.waitForFunction((n) => window.edgerecDemo.explore.log.length === Math.min(n + 1, 8), before);
  }
  // "Not for me" on a pick moves the bandit off it: the picks are not all one item.
  assert.ok(new Set(picks).size > 1, picks.join(' '));
  assert.equal(await page.$$eval('#explore-log li', (els) => els.length), 6);
  assert.match(await page.textContent('#explore-latency'), /Update \+ next pick among the top 20: [\d.]+ ms/);
  await page.selectOption('#explore-mode', 'exploit');
  await page.waitForFunction(() => window.edgerecDemo.explore.mode === 'exploit');
  assert.equal(await page.evaluate(() => window.edgerecDemo.explore.rank), 1);
  assert.match(await page.textContent('#explore-why'), /best unseen item \(#1\)/);
  await page.selectOption('#explore-mode', 'explore');
  await page.waitForFunction(() => window.edgerecDemo.explore.mode === 'explore');
});

test('keeps working offline once loaded', { skip }, async () => {
  await browser.context.setOffline(true);
  try {
    const before = await recs();
    const id = await page.$eval('#recs li', (e) => e.dataset.item);
    await page.click(`#recs li[data-item="${id}"] .rate button[data-value="5"]`);
    const after = await waitForRecsChange(before);
    assert.ok(!after.includes(id));
  } finally {
    await browser.context.setOffline(false);
  }
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, 'demo.png'), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: path.join(SHOTS, 'demo-narrow.png'), fullPage: false });
  await page.setViewportSize({ width: 1360, height: 900 });
});

test('no request left the page after the model was loaded, and none beyond 127.0.0.1', { skip }, () => {
  assert.deepEqual(requests.after().map((r) => r.url), []);
  const origin = new URL(server.url).origin;
  const foreign = requests.log.filter((r) => !r.url.startsWith(origin + '/') && !/^(data|blob):/.test(r.url));
  assert.deepEqual(foreign.map((r) => r.url), []);
  assert.deepEqual(problems, []);
});

test('the profile persists in IndexedDB across reloads and the visitor can erase it', { skip }, async () => {
  const rated = await page.$$eval('#profile li.item', (els) => els.map((e) => e.dataset.item).sort());
  const shown = await recs();
  await loadPage();
  assert.equal(await page.textContent('#profile-storage'), 'IndexedDB');
  assert.deepEqual(await page.$$eval('#profile li.item', (els) => els.map((e) => e.dataset.item).sort()), rated);
  assert.deepEqual(await recs(), shown, 'the same profile gives the same recommendations after a reload');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  const exported = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
  assert.deepEqual(exported.interactions.map((x) => x.item).sort(), rated);
  await page.click('#erase');
  await page.waitForFunction(() => document.querySelectorAll('#profile li.item').length === 0);
  assert.match(await page.textContent('#recs-heading'), /Popular/);
  assert.match(await page.textContent('#status'), /erased/);
  await loadPage();
  assert.equal(await page.$$eval('#profile li.item', (els) => els.length), 0, 'erased ratings came back');
  assert.deepEqual(problems, []);
});

test('a demo that cannot load its model says why in every panel instead of "Loading…"', { skip }, async () => {
  const broken = path.join(work, 'broken');
  fs.cpSync(path.join(work, 'demo'), broken, { recursive: true });
  fs.writeFileSync(path.join(broken, 'model.edgerec'), 'this is not a model');
  const other = await serveStatic(broken);
  const p = await browser.context.newPage();
  try {
    await p.goto(other.url);
    await p.waitForSelector('html[data-ready="error"]');
    const status = await p.textContent('#status');
    assert.match(status, /^Could not start: .*model/);
    for (const list of ['#recs', '#results']) {
      const text = await p.textContent(list);
      assert.ok(!/Loading/.test(text), `${list} still says: ${text}`);
      assert.equal(text.trim(), status);
    }
    assert.equal(await p.getAttribute('#app', 'aria-busy'), 'false');
  } finally {
    await p.close();
    await other.close();
  }
});

test('opened from file:// the demo says it must be served over http, and how', { skip }, async () => {
  const p = await browser.context.newPage();
  try {
    const dir = path.join(work, 'demo');
    await p.goto(pathToFileURL(path.join(dir, 'index.html')).href);
    await p.waitForSelector('html[data-ready="error"]', { timeout: 10000 });
    const status = await p.textContent('#status');
    assert.match(status, /opened from a file/);
    assert.ok(status.includes(`node tools/serve-static.mjs ${dir}`), status);
    assert.equal((await p.textContent('#recs')).trim(), status);
    assert.equal((await p.textContent('#results')).trim(), status);
  } finally {
    await p.close();
  }
});

test('with a rating model (SVD) the stars are passed as they are and scores are labelled as predicted ratings', { skip }, async () => {
  const dir = await buildDemo(path.join(work, 'svd'), ['--model-kind', 'svd', '--factors', '8']);
  const other = await serveStatic(dir);
  const p = await browser.context.newPage();
  try {
    await p.goto(other.url);
    await p.waitForSelector('html[data-ready="true"]');
    const popular = await p.evaluate(() => window.edgerecDemo.recs());
    const [a, b, c] = await p.$$eval('#results li', (els) => els.slice(3, 6).map((e) => e.dataset.item));
    for (const [id, stars] of [[a, 5], [b, 4], [c, 1]]) {
      await p.click(`#results li[data-item="${id}"] .rate button[data-value="${stars}"]`);
      await p.waitForSelector(`#profile li[data-item="${id}"] .rate button[aria-pressed="true"][data-value="${stars}"]`);
    }
    await p.waitForFunction((prev) => window.edgerecDemo.recs().join() !== prev && /predicts/.test(document.querySelector('#recs .score').textContent), popular.join());
    const scores = await p.$$eval('#recs li .score', (els) => els.map((e) => e.textContent));
    assert.ok(scores.every((t) => /^predicts \d\.\d★$/.test(t)), scores.join(' | '));
    assert.match(await p.textContent('#score-note'), /rating \(1–5★\) the model predicts/);
    assert.match(await p.textContent('#rec-latency'), /fold-in of your 3 ratings/);
    const lowTitle = await p.textContent(`#profile li[data-item="${c}"] .title`);
    const whys = await p.$$eval('#recs li .why', (els) => els.map((e) => e.textContent));
    assert.ok(whys.every((w) => /^(Because you liked |Fits your overall taste)/.test(w)), whys.join(' | '));
    assert.ok(whys.every((w) => !w.startsWith(`Because you liked ${lowTitle}`) && !w.includes(` and ${lowTitle}`)), 'a 1-star item is explained as a like');
    fs.mkdirSync(SHOTS, { recursive: true });
    await p.screenshot({ path: path.join(SHOTS, 'demo-svd.png'), fullPage: false });
  } finally {
    await p.close();
    await other.close();
  }
});
