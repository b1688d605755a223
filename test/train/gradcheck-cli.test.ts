import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { GraphBuilder } from '../../src/train/builder';
import { runGradcheck } from '../../src/train/gradcheck-cli';

const dir = mkdtempSync(join(tmpdir(), 'alignrun-gradcheck-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function saveModel(): string {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [2, 3]);
  const w = b.initializer('w', Float32Array.from([0.1, -0.2, 0.3, 0.4, -0.5, 0.6]), [3, 2]);
  b.output(b.identity(b.tanh(b.matmul(x, w)), 'y'), 'float32', [2, 2]);
  const path = join(dir, 'm.onnx');
  b.save(path);
  return path;
}

async function run(argv: string[]) {
  const lines: string[] = [];
  const code = await runGradcheck(argv, (l) => lines.push(l));
  return { code, text: lines.join('\n') };
}

test('gradcheck prints a table and exits 0 within tolerance', async () => {
  const { code, text } = await run([saveModel(), '--wrt', 'w', '--loss', 'mean-square']);
  assert.equal(code, 0, text);
  assert.match(text, /engine float64, finite differences float64/);
  assert.match(text, /^w\s+6\s+\S+e-\d+.*ok$/m);
});

test('gradcheck returns 1 when the tolerance is impossibly tight', async () => {
  const { code, text } = await run([saveModel(), '--wrt', 'w', '--tolerance', '1e-300']);
  assert.equal(code, 1);
  assert.match(text, /1 parameter\(s\) above tolerance/);
});

test('--help prints the usage and exits 0', async () => {
  const { code, text } = await run(['--help']);
  assert.equal(code, 0);
  assert.match(text, /^usage: alignrun gradcheck MODEL\.onnx --wrt/);
});

test('bad arguments and missing files get one clear sentence', async () => {
  assert.match((await run([])).text, /Give the model file to check\./);
  assert.match((await run([saveModel()])).text, /Name the weights to check with --wrt/);
  assert.match(
    (await run([saveModel(), '--wrt', 'w', '--loss', 'l1'])).text,
    /--loss 'l1' is not one of sum, mean-square/,
  );
  assert.match(
    (await run([join(dir, 'missing.onnx'), '--wrt', 'w'])).text,
    /'.*missing\.onnx' does not exist/,
  );
  assert.match((await run([saveModel(), '--wrt', 'nope'])).text, /Trainable 'nope' is not an initializer/);
  assert.equal((await run(['--bogus'])).code, 1);
});

test('where no float64 reference can run, the float32 finite differences come with a warning', async () => {
  // NonZero (no gradient needed) has no double kernel and no float64 rewrite.
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [2, 3]);
  const w = b.initializer('w', Float32Array.from([0.1, -0.2, 0.3, 0.4, -0.5, 0.6]), [3, 2]);
  const count = b.reduceMean(b.cast(b.node('NonZero', [x]), 'float32'), [0, 1], false);
  b.output(b.identity(b.mul(b.tanh(b.matmul(x, w)), count), 'y'), 'float32', [2, 2]);
  const path = join(dir, 'nonzero.onnx');
  b.save(path);
  const { text } = await run([path, '--wrt', 'w']);
  assert.match(
    text,
    /finite differences float32\nwarning: no float64 reference graph could run: .*NonZero.*not proof/,
  );
});
