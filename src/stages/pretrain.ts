// Stage `pretrain`: trains a base model's UNet on rendered shapes with the denoising loss.
// Output: the trained model folder as `model`.
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pretrain, type PretrainParams } from '../finetune/pretrain';
import type { StageImplementation } from '../runtime/stage';
import { inputRef, modelFolder, workDir } from './io';

export const run: StageImplementation = async (input, ctx) => {
  const p = input.instance.params as PretrainParams;
  const baseDir = await modelFolder(input, ctx, inputRef(input, 'model'));
  const work = workDir(input, ctx);
  const outDir = join(work, 'model');
  await pretrain({
    params: p,
    baseDir,
    outDir,
    signal: ctx.signal,
    onProgress: ({ step, steps, loss }) => {
      ctx.heartbeat({ step, steps });
      if (step % 25 === 0 || step === steps) ctx.track.metrics([{ key: 'loss', value: loss, step }]);
    },
  });
  const ckpt = join(outDir, 'checkpoint');
  if (existsSync(ckpt)) {
    rmSync(join(work, 'checkpoint-final'), { recursive: true, force: true });
    renameSync(ckpt, join(work, 'checkpoint-final'));
  }
  return { artifacts: { model: await ctx.store.putDir(outDir) }, metrics: { steps: p.steps ?? 0 } };
};
