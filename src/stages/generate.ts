// Stage `generate`: images for every prompt with a diffusion model. Writes into the instance's
// work folder, so a retried attempt resumes mid-batch; heartbeats progress.
import { join } from 'node:path';
import { generateImages } from '../model/generate';
import type { StageImplementation } from '../runtime/stage';
import type { GenerateStage, Sampler } from '../spec/types.gen';
import {
  inputRef,
  modelFolder,
  providerFor,
  readJsonArtifact,
  upstreamArtifact,
  workDir,
  type PlannedParams,
} from './io';
import type { PromptRecord } from './prompts';

export const run: StageImplementation = async (input, ctx) => {
  const p = input.instance.params as PlannedParams<GenerateStage, 'images_per_prompt'> & {
    sampler: Required<Sampler>;
  };
  const modelRef = inputRef(input, 'model');
  const modelDir = await modelFolder(input, ctx, modelRef);
  const promptsRef = upstreamArtifact(input, inputRef(input, 'prompts'), 'prompts');
  const { prompts } = await readJsonArtifact<{ prompts: PromptRecord[] }>(ctx, promptsRef);
  const outDir = workDir(input, ctx);
  const entries = await generateImages(
    {
      modelDir,
      prompts: prompts.map((x) => ({ id: x.id, text: x.text })),
      imagesPerPrompt: p.images_per_prompt,
      seed: p.seed,
      scheduler: p.sampler.scheduler,
      steps: p.sampler.steps,
      guidanceScale: p.sampler.guidance_scale,
      batchSize: p.sampler.batch_size,
      ...providerFor(input, modelRef),
    },
    { outDir, signal: ctx.signal, onProgress: (done, total) => ctx.heartbeat({ step: done, steps: total }) },
  );
  const images = await ctx.store.putDir(outDir);
  // Downstream stages that read prompts (the reward model) tokenise them as this model does.
  const tokenizer = await ctx.store.putDir(join(modelDir, 'tokenizer'));
  return {
    artifacts: { images, tokenizer, prompts: promptsRef },
    metrics: { images: entries.length },
  };
};
