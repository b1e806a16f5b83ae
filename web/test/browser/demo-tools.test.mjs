// The pieces under the browser tests that need no browser: the static server (MIME types,
// nothing outside its root), the demo's catalogue converter (quoting, Latin-1, errors naming
// file and line) and the map's PCA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { serveStatic } from '../../../tools/serve-static.mjs';
import { pca2 } from '../../demo/pca.js';
import { Catalogue } from '../../demo/catalogue.js';
import { REPO, tempDir } from '../../bench/chromium.mjs';

// A raw GET, so paths like /../x reach the server unnormalised.
function get(url, rawPath) {
  return new Promise((ok, fail) => {
    const u = new URL(url);
    http.get({ host: u.hostname, port: u.port, path: rawPath }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode, type: res.headers['content-type'], body: Buffer.concat(chunks).toString() }));
    }).on('error', fail);
  });
}

test('serve-static binds 127.0.0.1, serves module and wasm MIME types, and nothing outside its root', async () => {
  const dir = tempDir('edgerec-serve-');
  fs.mkdirSync(path.join(dir, 'site/sub'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'secret.txt'), 'secret');
  fs.writeFileSync(path.join(dir, 'site/index.html'), '<p>hi</p>');
  fs.writeFileSync(path.join(dir, 'site/a.mjs'), 'export {}');
  fs.writeFileSync(path.join(dir, 'site/a.wasm'), Buffer.from([0, 97, 115, 109]));
  fs.writeFileSync(path.join(dir, 'site/sub/x.json'), '{}');
  const s = await serveStatic(path.join(dir, 'site'), { isolate: true });
  try {
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal((await get(s.url, '/a.mjs')).type, 'text/javascript; charset=utf-8');
    assert.equal((await get(s.url, '/a.wasm')).type, 'application/wasm');
    const index = await get(s.url, '/');
    assert.equal(index.status, 200);
    assert.equal(index.body, '<p>hi</p>');
    assert.equal((await get(s.url, '/sub')).status, 301);
    assert.equal((await get(s.url, '/missing.js')).status, 404);
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/sub/../../secret.txt', '/%00']) {
      const r = await get(s.url, p);
      assert.ok(r.status === 403 || r.status === 404, `${p}: ${r.status}`);
      assert.notEqual(r.body, 'secret');
    }
    const h = await new Promise((ok) => http.get(s.url + 'a.mjs', (res) => { res.resume(); ok(res.headers); }));
    assert.equal(h['cross-origin-embedder-policy'], 'require-corp');
  } finally {
    await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const catalogue = (args) => promisify(execFile)('node', [path.join(REPO, 'tools/demo-catalogue.mjs'), ...args]);

test('demo-catalogue reads quoted CSV and Latin-1 MovieLens files, and names the line of bad input', async () => {
  const dir = tempDir('edgerec-catalogue-');
  try {
    fs.writeFileSync(path.join(dir, 'items.csv'), 'item,title,genres\n1,"Hello, ""World"" (1999)",Drama|Comedy\n2,Plain,\n3,"Two\nlines",Drama\n');
    await catalogue(['--synthetic', path.join(dir, 'items.csv'), '--out', path.join(dir, 'c.json')]);
    const c = new Catalogue(JSON.parse(fs.readFileSync(path.join(dir, 'c.json'), 'utf8')));
    assert.deepEqual(c.genres, ['Drama', 'Comedy']);
    assert.deepEqual(c.entries(), [['1', 'Hello, "World" (1999)', [0, 1]], ['2', 'Plain', []], ['3', 'Two\nlines', [0]]]);
    // Lookups by scan (before index()) and by the map agree; unknown ids are undefined / [].
    const scanned = ['3', '1', '2', '4'].map((id) => [c.title(id), c.genreIds(id)]);
    assert.deepEqual(scanned, [['Two\nlines', [0]], ['Hello, "World" (1999)', [0, 1]], ['Plain', []], [undefined, []]]);
    assert.equal(c.index().size, 3);
    assert.deepEqual(['3', '1', '2', '4'].map((id) => [c.title(id), c.genreIds(id)]), scanned);
    // A file that does not fit its lengths (or the old one-array-per-item layout) is refused, naming the field.
    const raw = JSON.parse(fs.readFileSync(path.join(dir, 'c.json'), 'utf8'));
    assert.throws(() => new Catalogue({ ...raw, idLengths: [1, 1, 2] }), /catalogue\.json: idLengths add up to 4, not the 3 characters/);
    assert.throws(() => new Catalogue({ source: 'x', genres: [], items: [['1', 'a', []]] }), /catalogue\.json: "ids" is not a string/);

    const flags = (on) => Array.from({ length: 19 }, (_, g) => (on.includes(g) ? '1' : '0')).join('|');
    fs.writeFileSync(path.join(dir, 'u.item'), Buffer.concat([
      Buffer.from(`7|Tr`, 'latin1'), Buffer.from([0xe8]), Buffer.from(`s Bien (1995)|01-Jan-1995||http://x|${flags([0, 8])}\n`, 'latin1'),
    ]));
    await catalogue(['--ml100k', path.join(dir, 'u.item'), '--out', path.join(dir, 'm.json'), '--source', 'ML']);
    const m = new Catalogue(JSON.parse(fs.readFileSync(path.join(dir, 'm.json'), 'utf8')));
    assert.equal(m.source, 'ML');
    assert.deepEqual(m.entries(), [['7', 'Très Bien (1995)', [8]]], 'the "unknown" genre is dropped');
    assert.equal(m.genres[8], 'Drama');

    fs.writeFileSync(path.join(dir, 'movies.dat'), '1::Toy Story (1995)::Animation|Comedy\n2::Broken\n');
    await assert.rejects(catalogue(['--ml1m', path.join(dir, 'movies.dat'), '--out', path.join(dir, 'x.json')]),
      (e) => e.stderr.includes('movies.dat:2: expected "id::title::genres"'));
    fs.writeFileSync(path.join(dir, 'bad.csv'), 'item,title,genres\n1,ok,Drama\n2,"open quote,Drama\n');
    await assert.rejects(catalogue(['--synthetic', path.join(dir, 'bad.csv'), '--out', path.join(dir, 'x.json')]),
      (e) => e.stderr.includes('bad.csv:3: unterminated quoted field'));
    fs.writeFileSync(path.join(dir, 'dup.csv'), 'item,title,genres\n1,a,\n1,b,\n');
    await assert.rejects(catalogue(['--synthetic', path.join(dir, 'dup.csv'), '--out', path.join(dir, 'x.json')]),
      (e) => e.stderr.includes("item id '1' appears twice"));
    assert.ok(!fs.existsSync(path.join(dir, 'x.json')), 'no output is written for bad input');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('pca2 recovers the two directions of largest variance', () => {
  // Points spread 10x along a, 3x along b and 0.1x along the other axes of 8-d space, with a
  // deterministic pseudo-random generator.
  const d = 8, n = 4000;
  const a = [1, 1, 0, 0, 0, 0, 0, 0].map((x) => x / Math.SQRT2);
  const b = [0, 0, 1, -1, 0, 0, 0, 0].map((x) => x / Math.SQRT2);
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const data = new Float32Array(n * d);
  for (let i = 0; i < n; ++i) {
    const s = 10 * rand(), t = 3 * rand();
    for (let j = 0; j < d; ++j) data[i * d + j] = 5 + s * a[j] + t * b[j] + 0.1 * rand();
  }
  const p = pca2(data, n, d, { sample: 1000 });
  const dot = (x, y) => x.reduce((s, v, j) => s + v * y[j], 0);
  assert.ok(Math.abs(dot(p.axes[0], a)) > 0.999, `first axis ${p.axes[0]}`);
  assert.ok(Math.abs(dot(p.axes[1], b)) > 0.999, `second axis ${p.axes[1]}`);
  assert.ok(Math.abs(dot(p.axes[0], p.axes[1])) < 1e-6);
  assert.ok(p.variance[0] > p.variance[1] && (p.variance[0] + p.variance[1]) / p.totalVariance > 0.98);
  assert.equal(p.coords.length, 2 * n);
  // The projection of a point is its offset from the mean along the axes.
  const x0 = Array.from(data.subarray(0, d)).map((v, j) => v - p.mean[j]);
  assert.ok(Math.abs(p.coords[0] - dot(x0, p.axes[0])) < 1e-4);
});
