// types/index.d.ts is valid TypeScript and describes the package as an ES module user writes
// it: a small consumer program is type-checked against the declarations (tsc from the
// typescript devDependency; no JavaScript is emitted).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TSC = path.join(WEB, 'node_modules/typescript/bin/tsc');

const consumer = `
import { load, Profile, WorkerModel, EdgerecError, version } from 'edgerec';
import type { ItemMetadata, ScoredItem, ModelInfo, Contribution, Explanation, RecommendForResult, UserVector, Recommender } from 'edgerec';
import { loadOnnx, onnxMetadata } from 'edgerec/onnx';
import type { OnnxModel } from 'edgerec/onnx';
import 'edgerec/worker';
import 'edgerec/single';
// Code written once for every kind of model: it awaits what may be synchronous.
async function top(m: Recommender, user: string): Promise<string[]> {
  const info: ModelInfo = await m.info();
  const recs: ScoredItem[] = await m.recommend(user, { k: info.items > 10 ? 10 : info.items });
  const v: UserVector = await m.userVector(user);
  return recs.map((r) => r.item + v.offset);
}
async function main(bytes: Uint8Array): Promise<void> {
  const model = await load(bytes, { quantize: 'int8' });
  const info: ModelInfo = model.info();
  const kernels: string = info.kernels;
  const recs: ScoredItem[] = await model.recommend('u1', { k: 10, excludeSeen: true, include: ['a'], exclude: ['b'] });
  const profile = await Profile.open('me', { storage: 'memory' });
  await profile.rate('a', 5);
  await profile.addEvent('b');
  const rating: number | undefined = profile.get('a');
  const fold: RecommendForResult = await model.recommendFor(profile, { k: 5 });
  const used: number = fold.history.used + (fold.fallback === 'popularity' ? 1 : 0);
  const explained: Explanation = await model.explain([{ item: 'a', value: 1 }], recs[0].item);
  const itemMeta: ItemMetadata | null = model.item(recs[0].item);
  const title: string | undefined = recs[0].title ?? itemMeta?.title ?? undefined;
  const genres: string[] = [...(recs[0].genres ?? []), ...(itemMeta?.fields.genres ?? []), ...model.catalogue().map((m) => m.id)];
  const year: number | null | undefined = itemMeta?.numeric.year;
  const cold: ScoredItem[] = await model.recommendCold(profile, { k: 5, filter: 'genres=Drama', blendShrinkage: 10 });
  const byContent: ScoredItem[] = await model.similarByContent(null, { features: 'genres=Action', k: 3 });
  const why: Contribution[] = explained.weights;
  const total: number = explained.score - explained.rest - explained.others + used;
  const emb = model.itemEmbeddings();
  const n: number = emb ? emb.data.length : 0;
  const uv: UserVector = model.userVector('u1');
  const w = await WorkerModel.load(bytes);
  const same: ScoredItem[] = await w.recommend('u1');
  const ids: string[] = await w.items();
  const onnx: OnnxModel = await loadOnnx(new Uint8Array(0), model, { numThreads: 1 });
  const onnxIds: string[] = onnx.items();
  const meta: Record<string, string> = onnxMetadata(new Uint8Array(0));
  const all: string[][] = await Promise.all([top(model, 'u1'), top(w, 'u1'), top(onnx, 'u1')]);
  const single = await globalThis.edgerec.load(bytes);
  const singleInfo: ModelInfo = single.info();
  w.dispose();
  onnx.dispose();
  model.dispose();
  const e = new EdgerecError('x');
  const s: string = version + e.message + kernels + n + uv.offset + fold.length + why.length + same.length + ids.length +
    onnxIds.length + Object.keys(meta).length + all.length + singleInfo.kind + rating + total + String(explained.exact);
  void s;
}
void main;
`;

// Misuses the declarations must catch (so the check is not vacuous): [program, expected error].
const misuses = [
  [`import { load } from 'edgerec';\nasync function f() { const m = await load(new Uint8Array(0)); const x: number = await m.recommend('u'); void x; }\nvoid f;\n`,
    /TS2322.*ScoredItem\[\]/],
  // An OnnxModel has no history(), itemMatrix() or lastScored(): they are the wasm Model's.
  [`import { load } from 'edgerec';\nimport { loadOnnx } from 'edgerec/onnx';\nasync function f() { const m = await load(new Uint8Array(0)); const o = await loadOnnx('x.onnx', m); o.lastScored(); }\nvoid f;\n`,
    /TS2339.*lastScored/],
  // loadOnnx is not in the main entry any more.
  [`import { loadOnnx } from 'edgerec';\nvoid loadOnnx;\n`, /TS2305.*loadOnnx/],
  // WorkerModel's info() is a promise.
  [`import { WorkerModel } from 'edgerec';\nasync function f() { const w = await WorkerModel.load('m'); const k: string = w.info().kind; void k; }\nvoid f;\n`,
    /TS2339.*kind/],
];

test('the declarations of every entry type-check a consumer program, and catch misuses', { skip: !fs.existsSync(TSC) && 'typescript is not installed (npm install --prefix web)' }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgerec-types-'));
  try {
    // The package as a dependency of the consumer, resolved through its package.json exports.
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(WEB, path.join(dir, 'node_modules/edgerec'), 'dir');
    fs.writeFileSync(path.join(dir, 'main.ts'), consumer);
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], skipLibCheck: false, types: [] },
      files: ['main.ts'],
    }));
    fs.writeFileSync(path.join(dir, 'package.json'), '{"type": "module"}');
    let out = '';
    try {
      out = execFileSync(process.execPath, [TSC, '-p', dir], { encoding: 'utf8' });
    } catch (e) {
      assert.fail(`tsc failed:\n${e.stdout}${e.stderr}`);
    }
    assert.equal(out.trim(), '');
    // One more run over one file per misuse: each must fail, in its own file.
    const files = misuses.map((m, i) => `misuse${i}.ts`);
    misuses.forEach(([program], i) => fs.writeFileSync(path.join(dir, files[i]), program));
    const tsconfig = JSON.parse(fs.readFileSync(path.join(dir, 'tsconfig.json'), 'utf8'));
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ ...tsconfig, files }));
    let report = '';
    assert.throws(() => execFileSync(process.execPath, [TSC, '-p', dir], { encoding: 'utf8', stdio: 'pipe' }), (e) => {
      report = String(e.stdout);
      return true;
    });
    misuses.forEach(([program, error], i) => {
      const mine = report.split('\n').filter((line) => line.includes(`/${files[i]}(`) || line.startsWith(`${files[i]}(`)).join('\n');
      assert.match(mine, error, `not caught: ${program}\n${report}`);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
