import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadTokenizer } from '../../src/model/tokenizer';
import { buildTinyModel, tinyVocabularyWords } from '../../src/model/tiny';
import { loadModel } from '../../src/train/ir';

const committed = fileURLToPath(new URL('../../models/tiny-random', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'alignrun-tiny-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function files(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

// Ops alignrun's training engine differentiates (Constant and Identity carry no gradient work).
const TRAINABLE_OPS = new Set(
  'MatMul Add Mul Sub Div Conv InstanceNormalization Sigmoid Softmax Reshape Transpose Gather LayerNormalization Concat Resize ReduceMean Pow Sqrt Sin Cos Exp Unsqueeze Slice Constant Identity'.split(
    ' ',
  ),
);

test('the same seed writes byte-identical files; another seed other weights', () => {
  const a = files(buildTinyModel(join(scratch, 'a'), { seed: 11 }));
  const b = files(buildTinyModel(join(scratch, 'b'), { seed: 11 }));
  const c = files(buildTinyModel(join(scratch, 'c'), { seed: 12 }));
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [name, bytes] of a) assert.ok(bytes.equals(b.get(name)!), name);
  assert.ok(!a.get('unet/model.onnx')!.equals(c.get('unet/model.onnx')!));
});

test('models/tiny-random is what `scripts/build-tiny-model.ts models/tiny-random --seed 0` builds, under 10 MB', () => {
  const fresh = files(buildTinyModel(join(scratch, 'seed0'), { seed: 0 }));
  const shipped = files(committed);
  assert.deepEqual([...shipped.keys()], [...fresh.keys()]);
  let size = 0;
  for (const [name, bytes] of shipped) {
    assert.ok(
      bytes.equals(fresh.get(name)!),
      `${name} differs: rebuild with the command in models/README.md`,
    );
    size += bytes.length;
  }
  assert.ok(size < 10 * 1024 * 1024, `${size} bytes`);
});

test('both graphs use only ops the training engine differentiates', () => {
  for (const part of ['text_encoder', 'unet']) {
    const ops = new Set(
      (loadModel(join(committed, part, 'model.onnx')).graph?.node ?? []).map((n) => n.opType ?? ''),
    );
    const extra = [...ops].filter((op) => !TRAINABLE_OPS.has(op));
    assert.deepEqual(extra, [], `${part} uses ${extra.join(', ')}`);
  }
});

test('every word of every shapes-domain prompt is one token of the tiny vocabulary', () => {
  const tok = loadTokenizer(join(committed, 'tokenizer'));
  assert.equal(tok.maxLength, 16);
  for (const word of new Set(tinyVocabularyWords())) {
    const ids = tok.encode(word);
    assert.equal(ids.indexOf(tok.padId, 1), 2, `"${word}" is ${ids.indexOf(tok.padId, 1) - 1} tokens`);
  }
  // Words outside it still tokenise, into several byte-level pieces.
  assert.ok(tok.encode('zebra').indexOf(tok.padId, 1) > 3);
});
