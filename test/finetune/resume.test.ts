import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { makePrompt, renderPrompt } from '../../src/domains/shapes/index';
import { trainDenoiser, type DenoiseTrainingOptions } from '../../src/finetune/denoise';
import { finetune } from '../../src/finetune/finetune';
import { loadModelFolder } from '../../src/model/loader';

const prompt = makePrompt({ shape: 'triangle', count: 2, color: 'green' })!;
const data = [0, 1, 2].map((s) => ({
  image: renderPrompt(prompt, { seed: s }),
  prompt: prompt.text,
  weight: 1,
}));

test('denoising training: 4 steps equal 2 steps, a checkpoint and a resumed 2; the output folder loads', async () => {
  const root = mkdtempSync(join(tmpdir(), 'denoise-resume-'));
  try {
    const base: Omit<DenoiseTrainingOptions, 'outDir' | 'steps'> = {
      baseDir: 'models/tiny-random',
      modelData: data.slice(0, 2),
      pretrainData: data.slice(2).map((s) => ({ ...s, weight: 0.5 })),
      learningRate: 1e-3,
      batchSize: 2,
      checkpointEvery: 2,
      seed: 3,
    };
    const straight = await trainDenoiser({ ...base, outDir: join(root, 'a'), steps: 4 });
    assert.equal(straight.losses.length, 4);
    await trainDenoiser({ ...base, outDir: join(root, 'b'), steps: 2 });
    const resumed = await trainDenoiser({ ...base, outDir: join(root, 'b'), steps: 4 });
    assert.equal(resumed.resumedFrom, 2);
    assert.deepEqual(resumed.losses, straight.losses.slice(2));
    const weights = (dir: string) => readFileSync(join(root, dir, 'unet', 'model.onnx'));
    assert.ok(weights('a').equals(weights('b')), 'the resumed UNet is byte-identical');
    assert.ok(
      !weights('a').equals(readFileSync('models/tiny-random/unet/model.onnx')),
      'training changed it',
    );
    const folder = loadModelFolder(join(root, 'a'));
    assert.equal(folder.unetBatch, undefined, 'the UNet keeps its free batch dim');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('finetune ema_decay exports the weight average, not the last weights', async () => {
  const root = mkdtempSync(join(tmpdir(), 'finetune-ema-'));
  try {
    const run = (out: string, ema_decay?: number) =>
      finetune({
        params: { steps: 3, batch_size: 2, learning_rate: 1e-3, beta: 0, checkpoint_every: 10, ema_decay },
        baseDir: 'models/tiny-random',
        outDir: join(root, out),
        labelled: data.map((s, i) => ({ image: s.image, prompt: s.prompt, label: i % 2 })),
      });
    await run('last');
    await run('average', 0.5);
    const unet = (dir: string) => readFileSync(join(root, dir, 'unet', 'model.onnx'));
    const base = readFileSync('models/tiny-random/unet/model.onnx');
    // The average lies between the start and the last weights: unlike both.
    assert.ok(!unet('average').equals(unet('last')), 'the export is the average');
    assert.ok(!unet('average').equals(base), 'the average moved');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a cancelled fine-tune stops before its next step', async () => {
  const root = mkdtempSync(join(tmpdir(), 'denoise-cancel-'));
  try {
    const abort = new AbortController();
    const steps: number[] = [];
    await assert.rejects(
      trainDenoiser({
        baseDir: 'models/tiny-random',
        modelData: data,
        pretrainData: [],
        learningRate: 1e-3,
        batchSize: 2,
        seed: 3,
        steps: 1000,
        outDir: join(root, 'out'),
        signal: abort.signal,
        onProgress: ({ step }) => {
          steps.push(step);
          if (step === 3) abort.abort();
        },
      }),
      { name: 'AbortError' },
    );
    assert.deepEqual(steps, [1, 2, 3], 'no step after the cancel');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
