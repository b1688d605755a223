// Gradient check of the whole tiny UNet (models/tiny-random, as shipped): weights from the first
// conv to the last, through GroupNorm, cross-attention, the skip connections and the upsampling,
// against finite differences; and the `alignrun gradcheck` command run on it as a user would.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gradcheck } from '../../src/train/gradcheck';
import { loadModel } from '../../src/train/ir';
import { TOLERANCE } from './helpers';

const root = fileURLToPath(new URL('../../', import.meta.url));
const UNET = `${root}models/tiny-random/unet/model.onnx`;
const SHAPES = { sample: [2, 3, 32, 32], timestep: [2], encoder_hidden_states: [2, 16, 64] };
const WRT = [
  'conv_in.weight',
  'down0.res.norm1.weight',
  'down1.attn.q.weight',
  'up0.res.skip.weight',
  'conv_out.weight',
];

test('gradcheck on the whole tiny UNet: first conv, GroupNorm scale, attention projection, skip conv and last conv', async () => {
  const model = loadModel(UNET);
  const names = new Set(model.graph!.initializer!.map((t) => t.name));
  for (const w of WRT) assert.ok(names.has(w), `the tiny UNet has a weight '${w}'`);
  const report = await gradcheck(model, { wrt: WRT, inputShapes: SHAPES, samples: 3, seed: 3 });
  // Conv and Resize have no double kernel: the decomposed float64 reference must have run.
  assert.equal(report.numericPrecision, 'float64');
  const tol = TOLERANCE[report.precision];
  for (const r of report.rows) {
    assert.ok(
      r.worstRelError < tol,
      `${r.param}: worst relative error ${r.worstRelError.toExponential(2)} (analytic ${r.analytic}, numeric ${r.numeric}) in ${report.precision}`,
    );
  }
  assert.deepEqual(
    report.rows.map((r) => r.param),
    WRT,
  );
});

test('`alignrun gradcheck` on the tiny UNet exits 0 and prints the table', () => {
  const shapes = Object.entries(SHAPES).flatMap(([k, d]) => ['--input-shape', `${k}=${d.join(',')}`]);
  const r = spawnSync(
    process.execPath,
    [
      `${root}bin/alignrun.js`,
      'gradcheck',
      UNET,
      '--wrt',
      'conv_in.weight,mid.attn.q.weight',
      '--samples',
      '2',
      ...shapes,
    ],
    { encoding: 'utf8', cwd: root, timeout: 50_000 },
  );
  assert.equal(r.status, 0, `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0], /^gradient check: engine float(32|64), finite differences float(32|64)$/);
  assert.match(r.stdout, /^parameter\s+checked\s+worst rel err\s+analytic\s+numeric$/m);
  assert.match(r.stdout, /^conv_in\.weight\s+2\s+\d\.\d\de-\d+\s+\S+\s+\S+\s+ok$/m);
  assert.match(r.stdout, /^mid\.attn\.q\.weight\s+2\s+\S+\s+\S+\s+\S+\s+ok$/m);
  assert.match(lines[lines.length - 1], /^all parameters within tolerance\.$/);
});
