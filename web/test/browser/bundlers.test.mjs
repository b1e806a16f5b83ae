// The package as users meet it: packed with `npm pack`, installed from the tarball into fresh
// apps that have no bundler configuration at all, bundled by Vite (`vite build`, and served by
// Vite's dev server), webpack and esbuild, and run in Debian's Chromium. In each app load() on
// the page and WorkerModel.load() in a module Web Worker must give the native CLI's top-5 for a
// user (`edgerec recommend --json`); the builds must print no warning (Vite used to warn about
// four Node modules "externalized for browser compatibility") and the bundles must hold no Node
// module and no onnxruntime-web, which only the separate entry edgerec/onnx uses.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

import { serveStatic } from '../../../tools/serve-static.mjs';
import { REPO, edgerecCli, launchBrowser, skipReason, tempDir } from '../../bench/chromium.mjs';

const skip = skipReason();
const WEB = path.join(REPO, 'web');
const run = promisify(execFile);
const USERS = ['7', '123'];
const TOL = 1e-5;

let work, tarball, model, expected, browser;
const problems = [];

// The app's page: the result lands in window.edgerecResult (an error as { error }).
const MAIN = `import { load, WorkerModel } from 'edgerec';

async function main() {
  const users = ${JSON.stringify(USERS)};
  const model = await load('/model.edgerec');
  const worker = await WorkerModel.load('/model.edgerec');
  const out = { kernels: model.info().kernels, page: {}, worker: {} };
  for (const user of users) {
    out.page[user] = await model.recommend(user, { k: 5 });
    out.worker[user] = await worker.recommend(user, { k: 5 });
  }
  try {
    await load('/no-such-model.edgerec');
    out.wrongUrl = 'loaded';
  } catch (e) {
    out.wrongUrl = e.message;
  }
  worker.dispose();
  model.dispose();
  return out;
}
main().then((r) => { window.edgerecResult = r; }, (e) => { window.edgerecResult = { error: String(e && e.stack || e) }; });
`;
const HTML = (script) => `<!doctype html>
<html><head><meta charset="utf-8"><title>edgerec app</title></head>
<body><p>edgerec in a fresh app</p><script type="module" src="${script}"></script></body></html>
`;

/**
 * A fresh app folder with the packed package installed from its tarball, as `npm install` does
 * it (offline: the tarball has no dependency to fetch, and its peer onnxruntime-web is optional).
 * `withVite` adds vite as the app's own dependency: a link to web/node_modules/vite (the version
 * of web/package-lock.json), since an offline `npm install vite` needs registry metadata that
 * `npm ci` does not cache.
 */
async function makeApp(name, files, { withVite = false } = {}) {
  const dir = path.join(work, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }, null, 2));
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock', tarball], { cwd: dir });
  if (withVite) fs.symlinkSync(path.join(WEB, 'node_modules/vite'), path.join(dir, 'node_modules/vite'), 'dir');
  return dir;
}

/** Same ids rank by rank, scores within TOL (relative). */
function assertTop(got, want, what) {
  assert.deepEqual(got.map((r) => r.item), want.map((r) => r.item), what);
  for (let r = 0; r < want.length; ++r) {
    assert.ok(Math.abs(got[r].score - want[r].score) <= TOL * Math.max(1, Math.abs(want[r].score)),
      `${what}: rank ${r + 1}: ${got[r].score} vs ${want[r].score}`);
  }
}

async function runInChromium(url, what) {
  const page = await browser.context.newPage();
  page.on('pageerror', (e) => problems.push(`${what}: page error: ${e.message}`));
  // The one expected console error: the browser's own report of the deliberate wrong URL's 404.
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 404/.test(m.text())) {
      problems.push(`${what}: console error: ${m.text()}`);
    }
  });
  try {
    await page.goto(url);
    await page.waitForFunction(() => window.edgerecResult, null, { timeout: 60000 });
    const result = await page.evaluate(() => window.edgerecResult);
    assert.equal(result.error, undefined, `${what}: ${result.error}`);
    assert.equal(result.kernels, 'wasm-simd128');
    for (const user of USERS) {
      assertTop(result.page[user], expected[user], `${what}: load() on the page, user ${user}`);
      assertTop(result.worker[user], expected[user], `${what}: WorkerModel.load() in a worker, user ${user}`);
    }
    return result;
  } finally {
    await page.close();
  }
}

// Every file a build wrote, as one string, to look for what must not be there.
function allText(dir) {
  let text = '';
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && /\.(m?js|html)$/.test(e.name)) text += fs.readFileSync(path.join(e.parentPath ?? e.path, e.name), 'utf8');
  }
  return text;
}

function assertBrowserOnly(dir, what) {
  const text = allText(dir);
  for (const banned of ['node:fs', 'node:worker_threads', 'worker_threads', 'onnxruntime']) {
    assert.ok(!text.includes(banned), `${what}: the bundle mentions ${banned}`);
  }
}

before(async () => {
  if (skip) return;
  work = tempDir('edgerec-bundlers-');
  // The package exactly as npm would publish it.
  await run('npm', ['pack', '--pack-destination', work], { cwd: WEB });
  tarball = path.join(work, fs.readdirSync(work).find((f) => f.endsWith('.tgz')));
  const cli = edgerecCli();
  await run(cli, ['generate', '--out', path.join(work, 'data'), '--users', '400', '--items', '300', '--interactions', '12000', '--seed', '5']);
  model = path.join(work, 'model.edgerec');
  await run(cli, ['train', '--data', path.join(work, 'data/ratings.csv'), '--model', 'ials', '--factors', '16', '--seed', '5', '--out', model, '--quiet']);
  expected = {};
  for (const user of USERS) {
    expected[user] = JSON.parse((await run(cli, ['recommend', '--model', model, '--user', user, '--k', '5', '--json'])).stdout).items;
    assert.equal(expected[user].length, 5);
  }
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('npm pack: the tarball holds the runtime files, the types of every entry and the licence', { skip }, async () => {
  const { stdout } = await run('tar', ['-tzf', tarball]);
  const files = stdout.split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
  for (const f of ['package.json', 'README.md', 'src/index.js', 'src/node/index.js', 'src/worker.js', 'src/onnx.js',
    'dist/edgerec.mjs', 'dist/edgerec.wasm', 'dist/edgerec.single.js', 'dist/version.js',
    'types/index.d.ts', 'types/onnx.d.ts', 'types/worker.d.ts', 'types/single.d.ts']) {
    assert.ok(files.includes(f), `${f} is not in the tarball`);
  }
  assert.equal(files.includes('LICENSE'), fs.existsSync(path.join(REPO, 'LICENSE')), 'the repository LICENSE goes into the package');
  assert.ok(!files.some((f) => f.startsWith('test/') || f.startsWith('node_modules/') || f.startsWith('demo/')), 'only the package files');
});

test('Vite: `vite build` of a fresh app without configuration, run in Chromium (page and worker)', { skip }, async () => {
  const app = await makeApp('vite-app', { 'index.html': HTML('/main.js'), 'main.js': MAIN }, { withVite: true });
  assert.deepEqual(fs.readdirSync(path.join(app, 'node_modules')).filter((d) => d === 'edgerec' || d === 'vite'), ['edgerec', 'vite']);
  fs.mkdirSync(path.join(app, 'public'));
  fs.copyFileSync(model, path.join(app, 'public/model.edgerec'));
  const { stdout, stderr } = await run(process.execPath, [path.join(app, 'node_modules/vite/bin/vite.js'), 'build'], {
    cwd: app, env: { ...process.env, NO_COLOR: '1', CI: 'true' },
  });
  const output = stdout + stderr;
  assert.doesNotMatch(output, /externalized for browser compatibility/);
  assert.doesNotMatch(output, /warn|error/i, output);
  const dist = path.join(app, 'dist');
  assertBrowserOnly(dist, 'vite build');
  const assets = fs.readdirSync(path.join(dist, 'assets'));
  assert.ok(assets.some((f) => /^edgerec-.*\.wasm$/.test(f)), `no edgerec.wasm among the built assets: ${assets}`);
  assert.ok(assets.some((f) => /^worker-.*\.js$/.test(f)), `no worker chunk among the built assets: ${assets}`);
  const server = await serveStatic(dist);
  try {
    const result = await runInChromium(server.url, 'vite build');
    assert.match(result.wrongUrl, /no-such-model\.edgerec: HTTP 404/);
  } finally {
    await server.close();
  }
});

test('Vite: the dev server of a fresh app without configuration, in Chromium; a wrong model URL is named as an HTML page', { skip }, async () => {
  const app = await makeApp('vite-dev-app', { 'index.html': HTML('/main.js'), 'main.js': MAIN }, { withVite: true });
  fs.mkdirSync(path.join(app, 'public'));
  fs.copyFileSync(model, path.join(app, 'public/model.edgerec'));
  // The app's own vite, started through its API to capture what it would log.
  const vite = await import(pathToFileURL(path.join(app, 'node_modules/vite/dist/node/index.js')).href);
  // What the dev server would print to the terminal as warnings and errors.
  const logged = [];
  const logger = {
    hasWarned: false,
    info() {},
    warn(m) { logged.push(`warn: ${m}`); },
    warnOnce(m) { logged.push(`warn: ${m}`); },
    error(m) { logged.push(`error: ${m}`); },
    clearScreen() {},
    hasErrorLogged: () => false,
  };
  const server = await vite.createServer({ root: app, configFile: false, customLogger: logger, server: { host: '127.0.0.1', port: 0 } });
  await server.listen();
  try {
    const url = server.resolvedUrls.local[0];
    const result = await runInChromium(url, 'vite dev');
    // The dev server answers an unknown path with 200 and index.html.
    assert.match(result.wrongUrl, /no-such-model\.edgerec: not a model file \(got an HTML page: wrong URL\?\)/);
    assert.deepEqual(logged, []);
  } finally {
    await server.close();
  }
});

test('webpack: a zero-configuration build of a fresh app, run in Chromium (page and worker)', { skip }, async () => {
  const app = await makeApp('webpack-app', { 'src/index.js': MAIN });
  const { default: webpack } = await import('webpack');
  // webpack's defaults: entry ./src/index.js, output dist/main.js. `npx webpack` in the app
  // folder resolves both there; through the API the context and the output folder say so.
  const config = { context: app, mode: 'production', output: { path: path.join(app, 'dist') } };
  const stats = await new Promise((resolve, reject) => webpack(config, (e, s) => (e ? reject(e) : resolve(s))));
  const info = stats.toJson({ all: false, errors: true, warnings: true });
  assert.deepEqual(info.errors.map((e) => e.message), []);
  // webpack's one default performance hint is about any asset over 244 KiB: the wasm (about
  // 262 KiB) is one, and is expected; any other warning is not.
  const hint = (m) => /^asset size limit:/.test(m) && /Assets: \n(\s+\S+\.wasm \(\d+ KiB\)\n?)+$/.test(m);
  assert.deepEqual(info.warnings.map((w) => w.message).filter((m) => !hint(m)), []);
  const dist = path.join(app, 'dist');
  assertBrowserOnly(dist, 'webpack');
  assert.ok(fs.readdirSync(dist).some((f) => f.endsWith('.wasm')), 'webpack did not emit the wasm');
  fs.writeFileSync(path.join(dist, 'index.html'), HTML('/main.js'));
  fs.copyFileSync(model, path.join(dist, 'model.edgerec'));
  const server = await serveStatic(dist);
  try {
    await runInChromium(server.url, 'webpack');
  } finally {
    await server.close();
  }
});

test('esbuild: a plain --bundle build is free of Node modules and onnxruntime-web; with the worker as a second entry and the wasm copied it runs in Chromium', { skip }, async () => {
  const app = await makeApp('esbuild-app', { 'main.js': MAIN });
  const esbuild = path.join(WEB, 'node_modules/.bin/esbuild');
  const plain = await run(esbuild, ['main.js', '--bundle', '--format=esm', '--outdir=plain'], { cwd: app });
  assert.doesNotMatch(plain.stdout + plain.stderr, /warning|error/i, plain.stdout + plain.stderr);
  assertBrowserOnly(path.join(app, 'plain'), 'esbuild');
  // esbuild does not follow new URL(..., import.meta.url) (neither the worker nor the wasm), so
  // the package's README recipe: the worker as a second entry point beside the page's bundle,
  // and dist/edgerec.wasm served where the bundles' URL points (../dist/ from the bundles).
  const site = path.join(app, 'site');
  const recipe = await run(esbuild, ['main.js', 'edgerec/worker', '--bundle', '--format=esm', '--outdir=site/assets', '--entry-names=[name]'], { cwd: app });
  assert.doesNotMatch(recipe.stdout + recipe.stderr, /warning|error/i, recipe.stdout + recipe.stderr);
  assert.ok(fs.existsSync(path.join(site, 'assets/worker.js')), fs.readdirSync(path.join(site, 'assets')).join());
  fs.mkdirSync(path.join(site, 'dist'));
  fs.copyFileSync(path.join(app, 'node_modules/edgerec/dist/edgerec.wasm'), path.join(site, 'dist/edgerec.wasm'));
  fs.writeFileSync(path.join(site, 'index.html'), HTML('/assets/main.js'));
  fs.copyFileSync(model, path.join(site, 'model.edgerec'));
  const server = await serveStatic(site);
  try {
    await runInChromium(server.url, 'esbuild');
  } finally {
    await server.close();
  }
});

test('no page error in any app', { skip }, () => {
  assert.deepEqual(problems, []);
});
