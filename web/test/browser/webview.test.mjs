// The webview example (web/webview/index.html) with the single-file flavour, loaded from a
// file:// URL as an app loads its assets, the model passed as base64 as a host app would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { REPO, edgerecCli, launchBrowser, recordRequests, skipReason, tempDir } from '../../bench/chromium.mjs';

const skip = skipReason();
const SINGLE = path.join(REPO, 'web/dist/edgerec.single.js');

let work, browser, page, requests, modelB64;
const problems = [];

async function open(url) {
  await page.goto(url);
  await page.waitForFunction(() => window.edgerecHost && (window.edgerecHost.ready || document.querySelector('#status.error')));
  assert.equal(await page.evaluate(() => window.edgerecHost.ready), true, await page.textContent('#status'));
}

before(async () => {
  if (skip) return;
  work = tempDir('edgerec-webview-test-');
  // The app's assets folder: the page and the single-file build side by side.
  const assets = path.join(work, 'assets');
  fs.mkdirSync(assets);
  fs.copyFileSync(path.join(REPO, 'web/webview/index.html'), path.join(assets, 'index.html'));
  fs.copyFileSync(SINGLE, path.join(assets, 'edgerec.single.js'));
  // A small model, as the host app would ship it.
  const cli = edgerecCli();
  await promisify(execFile)(cli, ['generate', '--out', path.join(work, 'data'), '--users', '400', '--items', '300', '--interactions', '12000', '--seed', '3']);
  await promisify(execFile)(cli, ['train', '--data', path.join(work, 'data/ratings.csv'), '--model', 'ials', '--factors', '16', '--seed', '3', '--out', path.join(work, 'm.edgerec'), '--quiet']);
  modelB64 = fs.readFileSync(path.join(work, 'm.edgerec')).toString('base64');
  browser = await launchBrowser();
  requests = recordRequests(browser.context);
  page = browser.context.pages()[0] || (await browser.context.newPage());
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
});

after(async () => {
  await browser?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the single-file page loads from file:// and takes the model as base64 from the host', { skip }, async () => {
  await open(pathToFileURL(path.join(work, 'assets/index.html')).href);
  assert.equal(await page.evaluate(() => location.protocol), 'file:');
  const messages = [];
  await page.exposeFunction('hostSaw', (m) => messages.push(m));
  await page.evaluate(() => document.addEventListener('edgerec-host', (e) => window.hostSaw(e.detail)));

  const info = await page.evaluate((b64) => window.edgerecHost.loadModelBase64(b64), modelB64);
  assert.equal(info.kind, 'ials');
  assert.equal(info.items, 300);
  assert.match(await page.textContent('#status'), /Model loaded in \d+ ms: ials, 300 items/);
  assert.equal(await page.$$eval('#recs li', (els) => els.length), 5);
  assert.ok(messages.some((m) => m.type === 'loaded' && m.payload.items === 300));

  // Tapping items folds them in: the recommendations change and never repeat a liked item.
  const before = await page.$$eval('#recs li', (els) => els.map((e) => e.textContent));
  const liked = await page.$$eval('#items button', (els) => els.slice(0, 2).map((e) => e.dataset.item));
  for (const id of liked) await page.click(`#items button[data-item="${id}"]`);
  await page.waitForFunction((prev) => [...document.querySelectorAll('#recs li')].map((e) => e.textContent).join() !== prev, before.join());
  const after = await page.$$eval('#recs li', (els) => els.map((e) => e.textContent.split(' — ')[0]));
  assert.ok(liked.every((id) => !after.includes(id)), `liked items recommended: ${after}`);

  // The bridge answers the host's own interactions.
  const recs = JSON.parse(await page.evaluate((json) => window.edgerecHost.recommendFor(json, 3), JSON.stringify(liked.map((item) => ({ item, value: 1 })))));
  assert.equal(recs.length, 3);
  assert.deepEqual(recs.map((r) => r.item), after.slice(0, 3));
  const sims = JSON.parse(await page.evaluate((id) => window.edgerecHost.similar(id, 4), liked[0]));
  assert.equal(sims.length, 4);
});

test('large models arrive in base64 chunks; a broken model is refused and the page recovers', { skip }, async () => {
  const chunk = 4 * 64 * 1024; // whole base64 groups
  const info = await page.evaluate(({ b64, chunk }) => {
    window.edgerecHost.beginModel();
    for (let at = 0; at < b64.length; at += chunk) window.edgerecHost.appendModelChunk(b64.slice(at, at + chunk));
    return window.edgerecHost.finishModel();
  }, { b64: modelB64, chunk });
  assert.equal(info.items, 300);

  const broken = Buffer.from(modelB64, 'base64').subarray(0, 1000).toString('base64');
  const error = await page.evaluate((b64) => window.edgerecHost.loadModelBase64(b64).then(() => null, (e) => e.message), broken);
  assert.ok(error && /truncated|short|end of|size|length/i.test(error), `unexpected error: ${error}`);
  assert.match(await page.textContent('#status'), new RegExp(error.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  // The previous model keeps working after the refused one.
  const recs = JSON.parse(await page.evaluate(() => window.edgerecHost.recommendFor('[]', 3)));
  assert.equal(recs.length, 3);
  problems.length = 0; // the refused model was reported as an error on purpose
});

test('bridge calls never throw: bad base64, a bad model, bad JSON and missing models reject and reach the host as error messages', { skip }, async () => {
  const result = await page.evaluate(async () => {
    const seen = [];
    const listen = (e) => { if (e.detail.type === 'error') seen.push(e.detail.payload); };
    document.addEventListener('edgerec-host', listen);
    const host = window.edgerecHost;
    const calls = {
      badBase64: () => host.loadModelBase64('!!not base64!!'),
      shortModel: () => host.loadModelBase64('bad'),
      notAString: () => host.loadModelBase64(42),
      badChunk: () => host.appendModelChunk('abc'),
      notJson: () => host.recommendFor('not json', 3),
      notArray: () => host.recommendFor('{"item": "1"}', 3),
      unknownItem: () => host.similar('no-such-item', 3),
    };
    const out = {};
    for (const [name, fn] of Object.entries(calls)) {
      const before = seen.length;
      let value;
      try {
        value = fn();
      } catch (e) {
        out[name] = { threw: e.message };
        continue;
      }
      const isPromise = value instanceof Promise;
      const settled = await value.then(() => ({ resolved: true }), (e) => ({ rejected: e.message }));
      out[name] = { isPromise, ...settled, reported: seen.slice(before), status: document.getElementById('status').textContent };
    }
    document.removeEventListener('edgerec-host', listen);
    return out;
  });
  const expect = {
    badBase64: /^the model is not valid base64/,
    shortModel: /not an edgerec model file|too short|truncated/,
    notAString: /must be a base64 string, got number/,
    badChunk: /whole number of 4-character base64 groups/,
    notJson: /^recommendFor: the interactions are not JSON/,
    notArray: /^recommendFor: the interactions must be a JSON array/,
    unknownItem: /unknown item id 'no-such-item'/,
  };
  for (const [name, pattern] of Object.entries(expect)) {
    const r = result[name];
    assert.equal(r.threw, undefined, `${name} threw synchronously: ${r.threw}`);
    assert.equal(r.isPromise, true, name);
    assert.match(r.rejected ?? '', pattern, `${name}: ${JSON.stringify(r)}`);
    assert.equal(r.reported.length, 1, `${name} reported ${r.reported.length} error messages`);
    assert.equal(r.reported[0].message, r.rejected);
    assert.equal(r.status, r.rejected, `${name}: the status line shows the error`);
  }
  assert.equal(result.notJson.reported[0].call, 'recommendFor');
  // The model loaded before still answers.
  const recs = JSON.parse(await page.evaluate(() => window.edgerecHost.recommendFor('[]', 3)));
  assert.equal(recs.length, 3);
  problems.length = 0; // the refused calls logged errors on purpose
});

test('without a model the bridge reports "no model loaded"', { skip }, async () => {
  const p = await browser.context.newPage();
  try {
    await p.goto(pathToFileURL(path.join(work, 'assets/index.html')).href);
    await p.waitForFunction(() => window.edgerecHost && window.edgerecHost.ready);
    const out = await p.evaluate(async () => {
      const seen = [];
      document.addEventListener('edgerec-host', (e) => { if (e.detail.type === 'error') seen.push(e.detail.payload.message); });
      const r = await window.edgerecHost.recommendFor('[]', 3).then(() => null, (e) => e.message);
      return { r, seen };
    });
    assert.match(out.r, /^no model loaded/);
    assert.deepEqual(out.seen, [out.r]);
  } finally {
    await p.close();
  }
});

test('the repository copy of the page finds ../dist/edgerec.single.js, and nothing was fetched over the network', { skip }, async () => {
  await open(pathToFileURL(path.join(REPO, 'web/webview/index.html')).href);
  const info = await page.evaluate((b64) => window.edgerecHost.loadModelBase64(b64), modelB64);
  assert.equal(info.items, 300);
  const network = requests.log.filter((r) => !r.url.startsWith('file:') && !/^(data|blob):/.test(r.url));
  assert.deepEqual(network.map((r) => r.url), []);
  // The page first looks for edgerec.single.js beside itself (the app layout), then in ../dist.
  assert.deepEqual(problems.filter((p) => !/ERR_FILE_NOT_FOUND|edgerec\.single\.js/.test(p)), []);
});
