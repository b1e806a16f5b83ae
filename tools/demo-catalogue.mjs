#!/usr/bin/env node
// Writes the demo's catalogue.json (item id, title, genres) from one of:
//   --synthetic items.csv          `edgerec generate`'s items.csv ("item,title,genres", RFC 4180)
//   --ml100k u.item [--genres u.genre]   MovieLens 100K (pipe-separated, 19 genre flags, Latin-1)
//   --ml1m movies.dat              MovieLens 1M ("id::title::Genre|Genre", Latin-1)
// and --out catalogue.json, --source "label". Used by tools/build-demo.sh.
//
// Output, column by column (web/demo/catalogue.js reads it): {"source", "genres": [name...],
// "ids": every id concatenated, "idLengths": [n...], "titles": every title concatenated,
// "titleLengths": [n...], "genreCounts": [n...], "genreIndex": [genre index...]}, lengths in
// UTF-16 code units, one per item. A 100,000-item catalogue then parses into a few long strings
// and number arrays instead of 400,000 small objects (the page needs it before its first
// recommendation).
// Errors name the file and line and exit with status 1.
import fs from 'node:fs';

class InputError extends Error {}

function fail(file, line, what) {
  throw new InputError(`${file}:${line}: ${what}`);
}

// RFC 4180 records (quoted fields may hold commas, quotes as "" and newlines).
function* csvRecords(text, file) {
  let i = 0, line = 1;
  const n = text.length;
  while (i < n) {
    const fields = [];
    const startLine = line;
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        ++i;
        for (;;) {
          if (i >= n) fail(file, startLine, 'unterminated quoted field');
          const c = text[i++];
          if (c === '"') {
            if (text[i] === '"') { field += '"'; ++i; } else break;
          } else {
            if (c === '\n') ++line;
            field += c;
          }
        }
      } else {
        while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') field += text[i++];
      }
      fields.push(field);
      if (text[i] === ',') { ++i; continue; }
      if (text[i] === '\r') ++i;
      if (text[i] === '\n') { ++i; ++line; }
      else if (i < n) fail(file, line, 'unexpected character after a quoted field');
      break;
    }
    yield [startLine, fields];
  }
}

function genreTable() {
  const names = [];
  const index = new Map();
  return {
    names,
    id(name) {
      let g = index.get(name);
      if (g === undefined) {
        g = names.length;
        names.push(name);
        index.set(name, g);
      }
      return g;
    },
  };
}

function fromSynthetic(file) {
  const text = fs.readFileSync(file, 'utf8');
  const genres = genreTable();
  const items = [];
  let header = true;
  for (const [line, f] of csvRecords(text, file)) {
    if (header) {
      if (f[0] !== 'item' || f[1] !== 'title') fail(file, line, 'expected the header "item,title,genres"');
      header = false;
      continue;
    }
    if (f.length === 1 && f[0] === '') continue;
    if (f.length !== 3) fail(file, line, `expected 3 fields (item,title,genres), found ${f.length}`);
    if (!f[0]) fail(file, line, 'empty item id');
    items.push([f[0], f[1], f[2] ? f[2].split('|').map((g) => genres.id(g)) : []]);
  }
  if (header) fail(file, 1, 'empty file');
  return { genres: genres.names, items };
}

// MovieLens files are Latin-1 (titles such as "Très Bien"); decoding them as UTF-8 would
// mangle every accented title.
const latin1 = (file) => new TextDecoder('latin1').decode(fs.readFileSync(file));

const ML100K_GENRES = ['unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime',
  'Documentary', 'Drama', 'Fantasy', 'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi',
  'Thriller', 'War', 'Western'];

function fromMl100k(file, genreFile) {
  let names = ML100K_GENRES;
  if (genreFile) {
    names = [];
    latin1(genreFile).split('\n').forEach((row, k) => {
      if (!row.trim()) return;
      const [name, idx] = row.split('|');
      if (!/^\d+$/.test(idx ?? '')) fail(genreFile, k + 1, 'expected "name|index"');
      names[Number(idx)] = name;
    });
  }
  const items = [];
  latin1(file).split('\n').forEach((row, k) => {
    if (!row.trim()) return;
    const f = row.replace(/\r$/, '').split('|');
    if (f.length !== 5 + names.length) {
      fail(file, k + 1, `expected ${5 + names.length} '|'-separated fields (u.item), found ${f.length}`);
    }
    if (!/^\d+$/.test(f[0])) fail(file, k + 1, `item id '${f[0]}' is not a number`);
    const flags = f.slice(5);
    const gs = [];
    flags.forEach((v, g) => {
      if (v !== '0' && v !== '1') fail(file, k + 1, `genre flag ${g + 1} is '${v}', not 0 or 1`);
      if (v === '1' && names[g] !== 'unknown') gs.push(g);
    });
    items.push([f[0], f[1], gs]);
  });
  return { genres: names, items };
}

function fromMl1m(file) {
  const genres = genreTable();
  const items = [];
  latin1(file).split('\n').forEach((row, k) => {
    if (!row.trim()) return;
    const f = row.replace(/\r$/, '').split('::');
    if (f.length !== 3) fail(file, k + 1, `expected "id::title::genres" (movies.dat), found ${f.length} fields`);
    if (!/^\d+$/.test(f[0])) fail(file, k + 1, `item id '${f[0]}' is not a number`);
    items.push([f[0], f[1], f[2] ? f[2].split('|').map((g) => genres.id(g)) : []]);
  });
  return { genres: genres.names, items };
}

function main(argv) {
  const opt = {};
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i];
    if (!['--synthetic', '--ml100k', '--ml1m', '--genres', '--out', '--source'].includes(key) || i + 1 >= argv.length) {
      throw new InputError(`usage: demo-catalogue.mjs (--synthetic items.csv | --ml100k u.item [--genres u.genre] | --ml1m movies.dat) --out catalogue.json [--source label]; bad argument '${key}'`);
    }
    opt[key.slice(2)] = argv[i + 1];
  }
  if (!opt.out) throw new InputError('demo-catalogue.mjs: --out is required');
  for (const k of ['synthetic', 'ml100k', 'ml1m', 'genres']) {
    if (opt[k] && !fs.existsSync(opt[k])) throw new InputError(`${opt[k]}: no such file`);
  }
  let cat;
  if (opt.synthetic) cat = fromSynthetic(opt.synthetic);
  else if (opt.ml100k) cat = fromMl100k(opt.ml100k, opt.genres);
  else if (opt.ml1m) cat = fromMl1m(opt.ml1m);
  else throw new InputError('demo-catalogue.mjs: give --synthetic, --ml100k or --ml1m');
  const seen = new Set();
  for (const [id] of cat.items) {
    if (seen.has(id)) throw new InputError(`${opt.synthetic || opt.ml100k || opt.ml1m}: item id '${id}' appears twice`);
    seen.add(id);
  }
  const out = {
    source: opt.source || 'synthetic', genres: cat.genres,
    ids: cat.items.map((x) => x[0]).join(''), idLengths: cat.items.map((x) => x[0].length),
    titles: cat.items.map((x) => x[1]).join(''), titleLengths: cat.items.map((x) => x[1].length),
    genreCounts: cat.items.map((x) => x[2].length), genreIndex: cat.items.flatMap((x) => x[2]),
  };
  fs.writeFileSync(opt.out, JSON.stringify(out));
  return cat.items.length;
}

try {
  const n = main(process.argv.slice(2));
  console.error(`catalogue: ${n} items`);
} catch (e) {
  if (!(e instanceof InputError)) throw e;
  console.error(e.message);
  process.exit(1);
}
