import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { makePrompt, renderPrompt } from '../../src/domains/shapes/index';
import { addNoise, denoiseTarget } from '../../src/finetune/data';
import { trainDenoiser } from '../../src/finetune/denoise';
import { loadModelFolder } from '../../src/model/loader';
import { alphasCumprod, createScheduler, parseSchedulerConfig } from '../../src/model/schedulers/index';
import { createRng } from '../../src/util/rng';

const prompt = makePrompt({ shape: 'square', count: 1, color: 'red', background: 'blue' })!;
const image = renderPrompt(prompt, { seed: 0 });

for (const prediction of ['epsilon', 'v_prediction'] as const) {
  test(`the ${prediction} training target is what the DDIM sampler reads: the oracle recovers the image`, () => {
    const config = parseSchedulerConfig({
      prediction_type: prediction,
      timestep_spacing: 'trailing',
      set_alpha_to_one: false,
      clip_sample: false,
    });
    const alphaBar = alphasCumprod(config);
    const scheduler = createScheduler('ddim', config, 20);
    const rng = createRng('oracle');
    let x: Float32Array = Float32Array.from(image.data, () => rng.normal());
    scheduler.timesteps.forEach((t, k) => {
      // The noise that, with this image, gives x at t; the target training would regress to.
      const eps = Float32Array.from(
        x,
        (v, i) => (v - Math.sqrt(alphaBar[t]) * image.data[i]) / Math.sqrt(1 - alphaBar[t]),
      );
      x = scheduler.step(denoiseTarget(image.data, eps, alphaBar[t], prediction), k, x);
    });
    const worst = Math.max(...x.map((v, i) => Math.abs(v - image.data[i])));
    assert.ok(worst < 0.05, `recovered within ${worst}`);
  });
}

test('v target: sqrt(a) eps - sqrt(1 - a) x0, and x0 = sqrt(a) x_t - sqrt(1 - a) v', () => {
  const eps = Float32Array.from(image.data, (_, i) => Math.sin(i));
  const a = 0.3;
  const v = denoiseTarget(image.data, eps, a, 'v_prediction');
  const xt = addNoise(image.data, eps, a);
  for (let i = 0; i < 50; i++) {
    assert.ok(Math.abs(v[i] - (Math.sqrt(a) * eps[i] - Math.sqrt(1 - a) * image.data[i])) < 1e-6);
    assert.ok(Math.abs(Math.sqrt(a) * xt[i] - Math.sqrt(1 - a) * v[i] - image.data[i]) < 1e-5);
  }
  assert.equal(denoiseTarget(image.data, eps, a), eps);
});

test('scheduler overrides train with the new target and ship in the output folder', async () => {
  const root = mkdtempSync(join(tmpdir(), 'denoise-vpred-'));
  try {
    await trainDenoiser({
      baseDir: 'models/tiny-random',
      outDir: root,
      modelData: [],
      pretrainData: [{ image, prompt: prompt.text, weight: 1 }],
      steps: 1,
      learningRate: 1e-3,
      batchSize: 2,
      seed: 0,
      schedulerOverrides: { prediction_type: 'v_prediction' },
    });
    const folder = loadModelFolder(root);
    assert.equal(folder.scheduler.predictionType, 'v_prediction');
    assert.equal(folder.scheduler.numTrainTimesteps, 1000);
    assert.equal(loadModelFolder('models/tiny-random').scheduler.predictionType, 'epsilon');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
