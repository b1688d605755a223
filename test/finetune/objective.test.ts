import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addNoise, noiseSchedule } from '../../src/finetune/data';
import { buildDenoisingObjective, DENOISE_LOSS, PER_SAMPLE } from '../../src/finetune/objective';
import { loadModelFolder } from '../../src/model/loader';
import { buildTrainingGraph } from '../../src/train/engine';
import { loadModel, type TensorValue } from '../../src/train/ir';
import { createSession, runSession } from '../../src/train/session';
import { createRng } from '../../src/util/rng';

const MODEL = 'models/tiny-random';
const B = 3;

function feeds(seed: string, weights: number[]) {
  const rng = createRng(seed);
  const fill = (n: number, f: () => number) => Float32Array.from({ length: n }, f);
  const per = 3 * 32 * 32;
  return {
    sample: { dtype: 'float32', dims: [B, 3, 32, 32], data: fill(B * per, () => rng.normal()) },
    timestep: { dtype: 'float32', dims: [B], data: Float32Array.from([10, 500, 990]) },
    encoder_hidden_states: {
      dtype: 'float32',
      dims: [B, 16, 64],
      data: fill(B * 16 * 64, () => rng.normal()),
    },
    noise: { dtype: 'float32', dims: [B, 3, 32, 32], data: fill(B * per, () => rng.normal()) },
    sample_weight: { dtype: 'float32', dims: [B], data: Float32Array.from(weights) },
  } satisfies Record<string, TensorValue>;
}

/** Per-sample mean squared error of the plain UNet's prediction against the noise, in float64. */
async function plainErrors(f: ReturnType<typeof feeds>): Promise<number[]> {
  const unet = await createSession(loadModel(`${MODEL}/unet/model.onnx`));
  const out = await runSession(unet, {
    sample: f.sample,
    timestep: f.timestep,
    encoder_hidden_states: f.encoder_hidden_states,
  });
  const eps = out.out_sample.data as Float32Array;
  const per = eps.length / B;
  return Array.from({ length: B }, (_, b) => {
    let s = 0;
    for (let i = b * per; i < (b + 1) * per; i++) s += (eps[i] - f.noise.data[i]) ** 2;
    return s / per;
  });
}

test('the weighted denoising loss: w = 1 gives the plain denoising loss, and each weight scales its own term', async () => {
  const objective = buildDenoisingObjective(loadModel(`${MODEL}/unet/model.onnx`), B);
  const training = await buildTrainingGraph(objective, {
    trainable: ['conv_out.bias'],
    loss: { output: DENOISE_LOSS },
    keepOutputs: true,
  });
  const session = await createSession(training);
  const run = async (f: ReturnType<typeof feeds>) => {
    const { 'conv_out.bias': bias } = Object.fromEntries(
      objective.graph!.initializer!.filter((t) => t.name === 'conv_out.bias').map((t) => [t.name!, t]),
    );
    const { tensorValue } = await import('../../src/train/ir');
    const out = await runSession(session, { ...f, 'conv_out.bias': tensorValue(bias) });
    return {
      loss: (out.loss.data as Float32Array)[0],
      per: Array.from(out[PER_SAMPLE].data as Float32Array),
      out,
    };
  };

  // w ≡ 1, no pretraining term: the plain denoising loss, mean over batch and pixels.
  const plain = feeds('a', [1, 1, 1]);
  const errors = await plainErrors(plain);
  const got = await run(plain);
  const mean = errors.reduce((s, v) => s + v, 0) / B;
  assert.ok(Math.abs(got.loss - mean) < 1e-5 * mean, `${got.loss} vs ${mean}`);
  got.per.forEach((v, b) => assert.ok(Math.abs(v - errors[b]) < 1e-5 * errors[b]));

  // Model sample with label 1, one with label 0 (drops out), a pretraining sample at β = 0.5.
  const mixed = feeds('a', [1, 0, 0.5]);
  const weighted = await run(mixed);
  const expected = (errors[0] * 1 + errors[1] * 0 + errors[2] * 0.5) / B;
  assert.ok(Math.abs(weighted.loss - expected) < 1e-5 * expected, `${weighted.loss} vs ${expected}`);

  // Gradient of the output bias, channel c: (2/B) Σ_b w_b mean_pixels(out − ε) over that channel's pixels.
  const unet = await createSession(loadModel(`${MODEL}/unet/model.onnx`));
  const pred = (
    await runSession(unet, {
      sample: mixed.sample,
      timestep: mixed.timestep,
      encoder_hidden_states: mixed.encoder_hidden_states,
    })
  ).out_sample.data as Float32Array;
  const w = [1, 0, 0.5];
  const grad = weighted.out['grad.conv_out.bias'].data as Float32Array;
  for (let c = 0; c < 3; c++) {
    let g = 0;
    for (let b = 0; b < B; b++)
      for (let i = 0; i < 1024; i++) {
        const k = b * 3072 + c * 1024 + i;
        g += (w[b] * 2 * (pred[k] - mixed.noise.data[k])) / (3072 * B);
      }
    assert.ok(
      Math.abs(grad[c] - g) < 1e-4 * Math.max(1e-3, Math.abs(g)) + 1e-6,
      `channel ${c}: ${grad[c]} vs ${g}`,
    );
  }
});

test('noising uses the model scheduler: x_t = sqrt(ᾱ_t) x0 + sqrt(1 − ᾱ_t) ε with linear betas', () => {
  const alphaBar = noiseSchedule(loadModelFolder(MODEL));
  assert.equal(alphaBar.length, 1000);
  // Linear betas 1e-4 .. 0.02 over 1000 steps: ᾱ_0 = 1 − 1e-4, ᾱ_1 = (1 − 1e-4)(1 − (1e-4 + 0.0199/999)).
  assert.ok(Math.abs(alphaBar[0] - 0.9999) < 1e-12);
  assert.ok(Math.abs(alphaBar[1] - 0.9999 * (1 - (1e-4 + 0.0199 / 999))) < 1e-12);
  const x = addNoise(Float32Array.of(1, -1), Float32Array.of(0.5, 2), 0.64);
  assert.ok(Math.abs(x[0] - (0.8 * 1 + 0.6 * 0.5)) < 1e-6);
  assert.ok(Math.abs(x[1] - (0.8 * -1 + 0.6 * 2)) < 1e-6);
});
