// The static demo in Debian's Chromium: built by tools/build-demo.sh (synthetic catalogue),
// served on 127.0.0.1, driven like a visitor would. Checks that ratings change the
// recommendations, explanations name the visitor's items, similar items and the taste map
// appear, the profile persists in IndexedDB and can be erased, the page keeps working offline,
// and that no request leaves after the model has loaded (nor ever goes beyond 127.0.0.1).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { serveStatic } from '../../../tools/serve-static.mjs';
import { REPO, buildDemo, launchBrowser, recordRequests, skipReason, tempDir } from '../../bench/chromium.mjs';

const skip = skipReason();
const SHOTS = process.env.EDGEREC_SCREENSHOTS || path.join(REPO, 'build/screenshots');

let work, server, browser, page, requests;
const problems = [];

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

test('rating items changes the recommendations, with explanations naming them', { skip }, async () => {
  const popular = await recs();
  const picked = (await page.$$eval('#results li', (els) => els.slice(0, 3).map((e) => e.dataset.item)));
  let current = popular;
  for (const id of picked) {
    await page.click(`#results li[data-item="${id}"] .rate button[data-value="5"]`);
    current = await waitForRecsChange(current);
    assert.ok(!current.includes(id), `rated item ${id} is still recommended`);
  }
  assert.notDeepEqual(current, popular);
  assert.match(await page.textContent('#recs-heading'), /Recommended for you/);
  assert.deepEqual((await page.$$eval('#profile li.item', (els) => els.map((e) => e.dataset.item))).sort(), [...picked].sort());
  const pickedTitles = await page.$$eval('#profile li.item .title', (els) => els.map((e) => e.textContent));
  const whys = await texts('#recs li .why');
  assert.equal(whys.length, 10);
  assert.ok(whys.every((w) => /^Because you rated |^Fits your overall taste/.test(w)), whys.join(' | '));
  assert.ok(whys.some((w) => pickedTitles.some((t) => w.includes(t))), 'no explanation names a rated item');
  assert.match(await page.textContent('#rec-latency'), /fold-in of your 3 ratings/);
  // Re-rating an item changes its value (replaces, not adds) and keeps one profile entry.
  await page.click(`#profile li[data-item="${picked[0]}"] .rate button[data-value="2"]`);
  await page.waitForFunction((id) => document.querySelector(`#profile li[data-item="${id}"] .rate button[aria-pressed="true"]`)?.dataset.value === '2', picked[0]);
  assert.equal(await page.$$eval('#profile li.item', (els) => els.length), 3);
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
