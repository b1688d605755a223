// Stage `finetune`: reward-weighted likelihood fine-tuning of the generator,
// E_Dmodel[w * ||eps - eps_theta||^2] + beta * E_Dpre[||eps - eps_theta||^2]. Checkpoints in the
// instance's work folder, so a retried attempt resumes. Output: a model folder as `model`.
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LORA_FILE } from '../finetune/denoise';
import { finetune, type FinetuneParams } from '../finetune/finetune';
import type { StageImplementation } from '../runtime/stage';
import { linePlot } from '../tracking/plots';
import { generatedImages, labelledExamples } from './examples';
import { inputRef, modelFolder, sharedDir, upstreamArtifact, workDir } from './io';

export const run: StageImplementation = async (input, ctx) => {
  const p = input.instance.params as FinetuneParams;
  const baseDir = await modelFolder(input, ctx, inputRef(input, 'model'));
  const labelled = await labelledExamples(input, ctx, inputRef(input, 'labels'));
  const rewardIn = input.instance.inputs.reward;
  const rewardDir =
    rewardIn && !Array.isArray(rewardIn)
      ? await sharedDir(ctx, upstreamArtifact(input, rewardIn, 'reward'), 'metrics.json')
      : undefined;
  const unlabelledIn = input.instance.inputs['unlabelled.images'];
  const unlabelled =
    unlabelledIn && !Array.isArray(unlabelledIn)
      ? await generatedImages(input, ctx, unlabelledIn)
      : undefined;
  const work = workDir(input, ctx);
  const outDir = join(work, 'model');
  let lossSum = 0;
  let lossN = 0;
  const curve: [number, number][] = [];
  await finetune({
    params: p,
    baseDir,
    outDir,
    labelled,
    unlabelled,
    rewardDir,
    latentCacheDir: join(ctx.stateDir, 'cache', 'pretrain-latents'),
    signal: ctx.signal,
    onProgress: ({ step, steps, loss }) => {
      ctx.heartbeat({ step, steps });
      lossSum += loss;
      lossN++;
      if (step % 10 === 0 || step === steps) {
        ctx.track.metrics([{ key: 'loss', value: lossSum / lossN, step }]);
        curve.push([step, lossSum / lossN]);
        lossSum = 0;
        lossN = 0;
      }
    },
  });
  // The resume state stays in the work folder; the model artifact is just the SD-layout folder.
  const ckpt = join(outDir, 'checkpoint');
  if (existsSync(ckpt)) {
    rmSync(join(work, 'checkpoint-final'), { recursive: true, force: true });
    renameSync(ckpt, join(work, 'checkpoint-final'));
  }
  if (curve.length > 0) {
    const series = [{ name: 'weighted denoising loss', points: curve }];
    ctx.track.image(
      'loss.png',
      await linePlot({ title: 'Fine-tuning', xLabel: 'step', yLabel: 'loss', series }),
    );
  }
  // The tuned weights (LoRA adapters are merged into them).
  ctx.track.artifact('unet/model.onnx', readFileSync(join(outDir, 'unet', 'model.onnx')));
  if (existsSync(join(outDir, LORA_FILE)))
    ctx.track.artifact(LORA_FILE, readFileSync(join(outDir, LORA_FILE)));
  return {
    artifacts: { model: await ctx.store.putDir(outDir) },
    metrics: { labelled: labelled.length, unlabelled: unlabelled?.length ?? 0, steps: p.steps ?? 0 },
  };
};
