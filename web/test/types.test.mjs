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
import { load, Profile, WorkerModel, EdgerecError, version, loadOnnx } from 'edgerec';
import type { ScoredItem, ModelInfo, Contribution, Explanation, RecommendForResult, UserVector } from 'edgerec';
async function main(bytes: Uint8Array): Promise<void> {
  const model = await load(bytes, { quantize: 'int8' });
  const info: ModelInfo = model.info();
  const kernels: string = info.kernels;
  const recs: ScoredItem[] = await model.recommend('u1', { k: 10, excludeSeen: true, include: ['a'], exclude: ['b'] });
  const profile = await Profile.open('me', { storage: 'memory' });
  await profile.add('a', 2);
  const fold: RecommendForResult = await model.recommendFor(profile, { k: 5 });
  const used: number = fold.history.used + (fold.fallback === 'popularity' ? 1 : 0);
  const explained: Explanation = await model.explain([{ item: 'a', value: 1 }], recs[0].item);
  const why: Contribution[] = explained.weights;
  const total: number = explained.score - explained.rest - explained.others + used;
  const emb = model.itemEmbeddings();
  const n: number = emb ? emb.data.length : 0;
  const uv: UserVector = model.userVector('u1');
  const w = await WorkerModel.load(bytes);
  const same: ScoredItem[] = await w.recommend('u1');
  const ids: string[] = await w.items();
  w.dispose();
  model.dispose();
  const e = new EdgerecError('x');
  const s: string = version + e.message + kernels + n + uv.offset + fold.length + why.length + same.length + ids.length + total + String(explained.exact);
  void s;
  void loadOnnx;
}
void main;
`;

test('types/index.d.ts type-checks a consumer program', { skip: !fs.existsSync(TSC) && 'typescript is not installed (npm install --prefix web)' }, () => {
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
    // And a misuse is caught (so the check is not vacuous).
    fs.writeFileSync(path.join(dir, 'main.ts'), `import { load } from 'edgerec';\nasync function f() { const m = await load(new Uint8Array(0)); const x: number = await m.recommend('u'); void x; }\nvoid f;\n`);
    assert.throws(() => execFileSync(process.execPath, [TSC, '-p', dir], { encoding: 'utf8', stdio: 'pipe' }),
      (e) => /TS2322.*ScoredItem\[\]/.test(String(e.stdout)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
