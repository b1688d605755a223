// Gradient check of the real diffusers UNet export (test/fixtures/sd-tiny, pipeline layout). Its
// Conv, InstanceNormalization, Erf (GEGLU) and nearest Resize have no double kernel in onnxruntime's
// CPU provider, so the float64 reference is the decomposed graph (precision.ts): float32 finite
// differences misjudge its correct gradients by up to 1e-3. The check must also catch a broken
// rule. And an attention + LayerNorm + GELU block built with GraphBuilder passes likewise.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type GradcheckReport, gradcheck } from '../../src/train/gradcheck';
import { loadModel } from '../../src/train/ir';
import { RULES } from '../../src/train/ops/index';
import { checkOp, TOLERANCE } from './helpers';

const root = fileURLToPath(new URL('../../', import.meta.url));
const UNET = `${root}test/fixtures/sd-tiny/pipeline/unet/model.onnx`;
const SHAPES = { sample: [1, 4, 16, 16], timestep: [1], encoder_hidden_states: [1, 77, 16] };
/** The exporter names MatMul weights by number: this one is down_blocks.0 attn1.to_q. */
const TO_Q = 'onnx::MatMul_1745';
/** From the first conv to the last and an attention projection, in graph order (the report's). */
const WRT = [
  'conv_in.weight',
  'time_embedding.linear_1.weight',
  'down_blocks.0.attentions.0.transformer_blocks.0.norm1.weight',
  'down_blocks.0.resnets.0.conv1.weight',
  'conv_out.weight',
  TO_Q,
];

const check = (wrt: string[], samples: number) =>
  gradcheck(loadModel(UNET), { wrt, inputShapes: SHAPES, samples, seed: 5 });

/** Float64 finite differences, and `params` (default all) within the float32 engine's tolerance. */
function assertWithin(report: GradcheckReport, params = report.rows.map((r) => r.param)) {
  assert.equal(report.numericPrecision, 'float64', 'float64 finite differences');
  assert.equal(report.numericNote, undefined);
  for (const r of report.rows.filter((row) => params.includes(row.param))) {
    assert.ok(
      r.worstRelError < TOLERANCE[report.precision],
      `${r.param}: worst relative error ${r.worstRelError.toExponential(2)} (analytic ${r.analytic}, numeric ${r.numeric}) in ${report.precision}`,
    );
  }
}

test('gradcheck on the diffusers UNet export: float64 reference, every weight within tolerance', async () => {
  const report = await check(WRT, 2);
  assert.deepEqual(
    report.rows.map((r) => r.param),
    WRT,
  );
  assertWithin(report);
});

test('gradcheck on the diffusers UNet export catches a Softmax rule off by 1%', async () => {
  const softmax = RULES.Softmax;
  // Scale its input gradient: attn1.to_q reaches the loss only through an attention Softmax,
  // conv_out only downstream of every Softmax.
  RULES.Softmax = (n, gy, c) => softmax(n, gy, c).map((g) => g && c.b.mul(g, c.scalar(1.01, n.input[0])));
  let report: GradcheckReport;
  try {
    report = await check([TO_Q, 'conv_out.weight'], 1);
  } finally {
    RULES.Softmax = softmax;
  }
  const toQ = report.rows.find((r) => r.param === TO_Q)!;
  assert.ok(toQ.worstRelError > 5e-3, `to_q: worst relative error ${toQ.worstRelError.toExponential(2)}`);
  assertWithin(report, ['conv_out.weight']);
});

test('`alignrun gradcheck` on the diffusers UNet export exits 0 with float64 finite differences', () => {
  const shapes = Object.entries(SHAPES).flatMap(([k, d]) => ['--input-shape', `${k}=${d.join(',')}`]);
  // conv_in's gradient flows back through every op of the export.
  const args = ['gradcheck', UNET, '--wrt', 'conv_in.weight', '--samples', '2', ...shapes];
  const r = spawnSync(process.execPath, [`${root}bin/alignrun.js`, ...args], {
    encoding: 'utf8',
    cwd: root,
    timeout: 50_000,
  });
  assert.equal(r.status, 0, `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout.split('\n')[0], /^gradient check: engine float32, finite differences float64$/);
  assert.doesNotMatch(r.stdout, /warning/);
  assert.match(r.stdout, /^all parameters within tolerance\.$/m);
});

test('an attention + LayerNorm + GELU block: every parameter within tolerance against float64', () =>
  checkOp({
    // Pre-norm transformer block on [2, 6, 8] tokens; exact GELU (Erf), as torch exports it below opset 20.
    build: (b, param) => {
      const x = b.input('x', 'float32', [2, 6, 8]);
      const ln = (h: string, name: string) =>
        b.layerNorm(h, param(`${name}.weight`, [8], { positive: true }), param(`${name}.bias`, [8]));
      const h = ln(x, 'ln1');
      const [q, k, v] = ['q', 'k', 'v'].map((p) => b.matmul(h, param(`attn.${p}`, [8, 8])));
      const scores = b.div(b.matmul(q, b.transpose(k, [0, 2, 1])), b.constant(Math.sqrt(8)));
      const attn = b.add(x, b.matmul(b.matmul(b.softmax(scores), v), param('attn.out', [8, 8])));
      const hidden = b.gelu(b.matmul(ln(attn, 'ln2'), param('mlp.fc1', [8, 16])));
      return b.add(attn, b.matmul(hidden, param('mlp.fc2', [16, 8])));
    },
    numericPrecision: 'float64',
  }));
