// tools/build-demo.sh --movielens: the demo built from MovieLens 100K shows the real titles
// (Latin-1 decoded) and genres. MovieLens may not be redistributed, so the data is read from
// $EDGEREC_DATA (default ../shared/data), the demo is built into a temporary folder outside the
// repository and deleted afterwards. The test skips when the data is absent, but fails under CI
// (CI=true or CI=1), so the real-data check cannot pass by being skipped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { serveStatic } from '../../../tools/serve-static.mjs';
import { REPO, buildDemo, launchBrowser, skipReason, tempDir } from '../../bench/chromium.mjs';

const DATA = process.env.EDGEREC_DATA || path.resolve(REPO, '../shared/data');
const ML100K = path.join(DATA, 'ml-100k');
const missing = fs.existsSync(path.join(ML100K, 'u.data')) && fs.existsSync(path.join(ML100K, 'u.item'))
  ? false : `MovieLens 100K (u.data, u.item) not found at ${ML100K}; set EDGEREC_DATA to the data folder`;
const underCI = process.env.CI === 'true' || process.env.CI === '1';
const skip = skipReason() || (missing && !underCI ? missing : false);

let work, server, browser, page;

before(async () => {
  if (skip || missing) return;
  work = tempDir('edgerec-movielens-demo-');
  assert.ok(!path.resolve(work).startsWith(REPO + path.sep), 'the MovieLens demo must be built outside the repository');
  const dir = await buildDemo(path.join(work, 'demo'), ['--movielens', ML100K]);
  server = await serveStatic(dir);
  browser = await launchBrowser();
  page = browser.context.pages()[0] || (await browser.context.newPage());
});

after(async () => {
  await browser?.close();
  await server?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the MovieLens 100K demo shows titles and genres, and personalises', { skip }, async () => {
  if (missing) assert.fail(`real data missing: ${missing} (CI is set, so this fails instead of skipping)`);
  await page.goto(server.url);
  await page.waitForSelector('html[data-ready="true"]');
  assert.equal(await page.textContent('#catalogue-name'), '1,682 items of MovieLens 100K');

  await page.fill('#search', 'toy story');
  await page.waitForSelector('#results li[data-item="1"]');
  assert.equal(await page.textContent('#results li[data-item="1"] .title'), 'Toy Story (1995)');
  assert.equal(await page.textContent('#results li[data-item="1"] .genres'), "Animation · Children's · Comedy");

  // Latin-1 titles come through decoded.
  await page.fill('#search', 'arrivé');
  await page.waitForSelector('#results li[data-item="1104"]');
  assert.equal(await page.textContent('#results li[data-item="1104"] .title'), "C'est arrivé près de chez vous (1992)");

  // A visitor who loves three children's animations gets family films first.
  const before = await page.evaluate(() => window.edgerecDemo.recs());
  const family = (genres) => genres.filter((g) => /Children's|Animation/.test(g)).length;
  const popularFamily = family(await page.$$eval('#recs li .genres', (els) => els.map((e) => e.textContent)));
  for (const [query, id] of [['toy story', '1'], ['aladdin (1992)', '95'], ['lion king', '71']]) {
    await page.fill('#search', query);
    await page.click(`#results li[data-item="${id}"] .rate button[data-value="5"]`);
    await page.waitForSelector(`#profile li[data-item="${id}"]`);
  }
  await page.waitForFunction((prev) => window.edgerecDemo.recs().join() !== prev, before.join());
  const genres = await page.$$eval('#recs li .genres', (els) => els.map((e) => e.textContent));
  const titles = await page.$$eval('#recs li .title', (els) => els.map((e) => e.textContent));
  assert.ok(family(genres) >= popularFamily + 3, `${family(genres)} of 10 recommendations are children's or animation films (${popularFamily} of the popular ones): ${genres.join(' | ')}`);
  assert.ok(titles.every((t) => /\(\d{4}\)$/.test(t)), titles.join(' | '));
  assert.match(await page.textContent('#recs li .why'), /Because you liked (Toy Story|Aladdin|Lion King)/);
});
