// The wasm build itself: the SIMD kernels are really there, the default flavour stays small,
// the single-file flavour works from its one file, and every version number is CMake's.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { load, version } from '../src/index.js';

const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPO = path.dirname(WEB);
const DIST = path.join(WEB, 'dist');
const GOLDEN = path.join(REPO, 'models/golden/v1');

test('the wasm contains f32x4 and i32x4.dot_i16x8 instructions (wasm-objdump, package wabt)', () => {
  const text = execFileSync('wasm-objdump', ['-d', path.join(DIST, 'edgerec.wasm')], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const count = (re) => (text.match(re) || []).length;
  assert.ok(count(/\bf32x4\.mul\b/g) >= 4, `f32x4.mul: ${count(/\bf32x4\.mul\b/g)}`);
  assert.ok(count(/\bf32x4\.add\b/g) >= 4, `f32x4.add: ${count(/\bf32x4\.add\b/g)}`);
  assert.ok(count(/\bi32x4\.dot_i16x8_s\b/g) >= 4, 'the int8 kernel');
  assert.ok(count(/\bf32x4\.gt\b/g) >= 4, 'the top-K scan');
});

test('the default flavour (wasm + JS glue) is under 300 KB uncompressed', () => {
  const wasm = fs.statSync(path.join(DIST, 'edgerec.wasm')).size;
  const glue = fs.statSync(path.join(DIST, 'edgerec.mjs')).size;
  assert.ok(wasm + glue < 300 * 1024, `edgerec.wasm ${wasm} B + edgerec.mjs ${glue} B = ${wasm + glue} B`);
});

test('versions: CMake project = package.json = version export = the wasm build', async () => {
  const cmake = fs.readFileSync(path.join(REPO, 'CMakeLists.txt'), 'utf8').match(/project\(edgerec VERSION ([0-9.]+)/);
  assert.ok(cmake, 'project(edgerec VERSION x.y.z) in CMakeLists.txt');
  const pkg = JSON.parse(fs.readFileSync(path.join(WEB, 'package.json'), 'utf8'));
  assert.equal(pkg.version, cmake[1]);
  assert.equal(version, cmake[1]);
  const model = await load(fs.readFileSync(path.join(GOLDEN, 'ials.edgerec')));
  assert.equal(model.info().version, cmake[1]);
  model.dispose();
});

test('package.json: ES module with types first in exports', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(WEB, 'package.json'), 'utf8'));
  assert.equal(pkg.name, 'edgerec');
  assert.equal(pkg.type, 'module');
  assert.equal(Object.keys(pkg.exports['.'])[0], 'types');
  assert.ok(fs.existsSync(path.join(WEB, pkg.exports['.'].types)));
  assert.ok(fs.existsSync(path.join(WEB, pkg.exports['.'].default)));
});

test('the single-file flavour loads in Node from its one file alone', async () => {
  // Copied alone into an empty directory: nothing beside it to fetch.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgerec-single-'));
  try {
    const file = path.join(dir, 'edgerec.single.js');
    fs.copyFileSync(path.join(DIST, 'edgerec.single.js'), file);
    await import(pathToFileURL(file).href);
    const api = globalThis.edgerec;
    assert.ok(api && typeof api.load === 'function', 'sets globalThis.edgerec');
    assert.equal(api.version, version);
    const bytes = fs.readFileSync(path.join(GOLDEN, 'svd.edgerec'));
    const single = await api.load(bytes);
    const regular = await load(bytes);
    assert.equal(single.info().kernels, 'wasm-simd128');
    for (const user of ['1', '2', '3']) assert.deepEqual(await single.recommend(user, { k: 5 }), await regular.recommend(user, { k: 5 }));
    await assert.rejects(single.recommend('nope'), (e) => e instanceof api.EdgerecError && /unknown user id 'nope'/.test(e.message));
    const profile = await api.Profile.open('p');
    await profile.add(single.items()[0]);
    assert.equal((await single.recommendFor(profile, { k: 3 })).length, 3);
    single.dispose();
    regular.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
