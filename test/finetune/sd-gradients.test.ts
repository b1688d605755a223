// The denoising objective's loss and the gradient of every UNet weight on the tiny random
// SD-1.5-architecture fixture, in its three ONNX layouts, against PyTorch float64 autograd
// (scripts/reference/make_sd_fixture.py). Each ONNX initializer is compared with the torch
// parameter the fixture script found holding its values (transposed for exported Linear layers).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildDenoisingObjective, DENOISE_INPUTS, DENOISE_LOSS } from '../../src/finetune/objective';
import { readNpy } from '../../src/model/npy';
import { buildTrainingGraph, gradName, LOSS } from '../../src/train/engine';
import { loadModel, tensorValue, type TensorValue } from '../../src/train/ir';
import { createSession, runSession } from '../../src/train/session';

const FIXTURE = 'test/fixtures/sd-tiny';
const GOLD = join(FIXTURE, 'golden');
const ref = JSON.parse(readFileSync(join(GOLD, 'denoise.json'), 'utf8')) as {
  loss: number;
  params: { name: string; shape: number[] }[];
};
const grads = readNpy(join(GOLD, 'denoise-grads.npy')).data;
const refGrad = new Map<string, { data: Float32Array; shape: number[] }>();
{
  let off = 0;
  for (const p of ref.params) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    refGrad.set(p.name, { data: grads.subarray(off, off + n), shape: p.shape });
    off += n;
  }
}
const f32 = (name: string, v = readNpy(join(GOLD, `denoise-${name}.npy`))): TensorValue => ({
  dtype: 'float32',
  dims: v.shape,
  data: v.data,
});

function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

function relError(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

for (const layout of ['pipeline', 'conversion', 'optimum'] as const) {
  test(`denoising loss and every UNet weight's gradient match PyTorch on the ${layout} layout`, async (t) => {
    const unet = loadModel(join(FIXTURE, layout, 'unet', 'model.onnx'));
    const map = JSON.parse(readFileSync(join(GOLD, `param-map-${layout}.json`), 'utf8')).map as Record<
      string,
      { param: string; transposed: boolean }
    >;
    const objective = buildDenoisingObjective(unet, 2, { channels: 4, height: 16, width: 16 });
    const params = Object.keys(map);
    const training = await buildTrainingGraph(objective, {
      trainable: params,
      loss: { output: DENOISE_LOSS },
      inputShapes: { [DENOISE_INPUTS.context]: [2, 77, 16] },
    });
    const session = await createSession(training, { optimization: 'basic' });
    const inputs = new Set(training.graph!.input!.map((i) => i.name));
    const weights = new Map((unet.graph!.initializer ?? []).map((i) => [i.name, i]));
    const feeds: Record<string, TensorValue> = {
      [DENOISE_INPUTS.sample]: f32('sample'),
      [DENOISE_INPUTS.timestep]: f32('timestep'),
      [DENOISE_INPUTS.context]: f32('context'),
      [DENOISE_INPUTS.noise]: f32('target'),
      [DENOISE_INPUTS.weight]: f32('weight'),
    };
    for (const p of params) if (inputs.has(p)) feeds[p] = tensorValue(weights.get(p)!);
    const out = await runSession(session, feeds);
    await session.release();
    const loss = (out[LOSS].data as Float32Array)[0];
    assert.ok(Math.abs(loss - ref.loss) / ref.loss < 1e-5, `loss ${loss} against ${ref.loss}`);
    let worst = { name: '', err: 0 };
    for (const [name, m] of Object.entries(map)) {
      const g = out[gradName(name)];
      assert.ok(g, `a gradient for ${name}`);
      const r = refGrad.get(m.param)!;
      const ours = m.transposed
        ? transpose2d(g.data as Float32Array, g.dims[0], g.dims[1])
        : (g.data as Float32Array);
      const err = relError(ours, r.data);
      if (err > worst.err) worst = { name: `${name} (${m.param})`, err };
    }
    t.diagnostic(
      `${params.length} weights; worst relative error ${worst.err.toExponential(2)} at ${worst.name}`,
    );
    assert.equal(
      new Set(Object.values(map).map((m) => m.param)).size,
      ref.params.length,
      'every torch parameter is covered',
    );
    assert.ok(worst.err <= 1e-4, `worst relative error ${worst.err} at ${worst.name}`);
  });
}
