// Runs an exported ONNX scoring graph with onnxruntime-node and compares its top-k with what
// `edgerec recommend --json` printed (used by test_cli_onnx.sh).
//
//   node onnx_check.mjs MODEL.onnx USERS.json RATINGS.csv EXPECT_DIR K [MIN,MAX]
//
// MIN,MAX (rating models): the graph outputs raw scores, while `recommend` serves a rating
// model's predicted ratings clipped to the training rating range; the check clips the graph's
// scores the same way before comparing (the order is the raw scores' in both).
//
// EXPECT_DIR holds <user>.all.json (recommend --include-seen) and <user>.new.json (recommend,
// seen items excluded) for each user to check. Seen items are excluded the way web/src/onnx.js
// does it: ask the graph for k + |seen| and drop the seen ones. Prints "N passed, N failed".
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../web/package.json'));
const ort = require('onnxruntime-node');

const [onnxPath, usersPath, ratingsPath, expectDir, kArg, rangeArg] = process.argv.slice(2);
const [rmin, rmax] = rangeArg ? rangeArg.split(',').map(Number) : [-Infinity, Infinity];
const K = Number(kArg);
const TOL = 1e-4;
const table = JSON.parse(fs.readFileSync(usersPath, 'utf8'));
const row = new Map(table.users.map((id, i) => [id, i]));

const seen = new Map();
for (const line of fs.readFileSync(ratingsPath, 'utf8').split('\n').slice(1)) {
  if (!line) continue;
  const [u, it] = line.split(',');
  if (!seen.has(u)) seen.set(u, new Set());
  seen.get(u).add(it);
}
const itemIds = JSON.parse(fs.readFileSync(path.join(expectDir, 'items.json'), 'utf8'));

let pass = 0, fail = 0;
const check = (cond, what) => { if (cond) pass++; else { fail++; console.error('FAIL:', what); } };

const session = await ort.InferenceSession.create(onnxPath, { intraOpNumThreads: 1 });
check(session.inputNames.includes('user_vector') && session.inputNames.includes('k'), 'inputs user_vector and k');
check(session.inputNames.includes('offset') === table.has_offset, 'offset input iff has_offset');
check(session.outputNames.join() === 'scores,indices', 'outputs scores, indices');

async function topk(users, k) {
  const d = table.dims;
  const uv = new Float32Array(users.length * d);
  const off = new Float32Array(users.length);
  users.forEach((u, b) => {
    uv.set(table.vectors[row.get(u)], b * d);
    off[b] = table.offsets[row.get(u)];
  });
  const feeds = {
    user_vector: new ort.Tensor('float32', uv, [users.length, d]),
    k: new ort.Tensor('int64', BigInt64Array.from([BigInt(k)]), [1]),
  };
  if (table.has_offset) feeds.offset = new ort.Tensor('float32', off, [users.length, 1]);
  const r = await session.run(feeds);
  if (r.scores.dims[0] !== users.length || r.scores.dims[1] !== k) throw new Error(`bad output dims ${r.scores.dims}`);
  return users.map((_, b) => Array.from({ length: k }, (_, j) => ({
    item: itemIds[Number(r.indices.data[b * k + j])],
    score: Math.min(Math.max(r.scores.data[b * k + j], rmin), rmax),
  })));
}

// Same ids rank by rank, except that items whose scores differ by less than TOL may swap (the
// two engines sum the dot products in different orders).
function same(got, want, what) {
  if (got.length !== want.length) return check(false, `${what}: ${got.length} items, expected ${want.length}`);
  let ok = true;
  for (let j = 0; j < want.length; j++) {
    if (Math.abs(got[j].score - want[j].score) > TOL) {
      ok = false;
      console.error(`${what}: rank ${j} score ${got[j].score} vs ${want[j].score}`);
    }
    if (got[j].item !== want[j].item) {
      const tie = want.some((w) => w.item === got[j].item && Math.abs(w.score - got[j].score) <= TOL) ||
        Math.abs(got[j].score - want[want.length - 1].score) <= TOL;
      if (!tie) {
        ok = false;
        console.error(`${what}: rank ${j} item ${got[j].item} vs ${want[j].item}`);
      }
    }
  }
  check(ok, what);
}

const users = fs.readdirSync(expectDir).filter((f) => f.endsWith('.all.json')).map((f) => f.slice(0, -9));
check(users.length >= 3, 'at least three users to check');
for (const u of users) {
  const all = JSON.parse(fs.readFileSync(path.join(expectDir, `${u}.all.json`), 'utf8')).items;
  const fresh = JSON.parse(fs.readFileSync(path.join(expectDir, `${u}.new.json`), 'utf8')).items;
  same((await topk([u], K))[0], all, `user ${u} top-${K} including seen`);
  const s = seen.get(u) ?? new Set();
  const wide = (await topk([u], Math.min(itemIds.length, K + s.size)))[0];
  same(wide.filter((x) => !s.has(x.item)).slice(0, K), fresh, `user ${u} top-${K} without seen`);
}
// A batch gives each row what a single run gives.
const batch = await topk(users, K);
for (let b = 0; b < users.length; b++) {
  const single = (await topk([users[b]], K))[0];
  check(JSON.stringify(batch[b]) === JSON.stringify(single), `batch row ${b} equals the single run`);
}
// k = every item: a full ranking, best first.
const full = (await topk([users[0]], itemIds.length))[0];
check(full.every((x, j) => j === 0 || full[j - 1].score >= x.score), 'k = items gives a sorted full ranking');
console.log(`${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
