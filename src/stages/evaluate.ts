// Stage `evaluate`: judge alignment per category, mean reward and fidelity for every model on
// seen and unseen prompts over fixed seeds (a split's prompts are the `prompts` stage's where it
// has some in that split), and before/after contact sheets.
// Metrics: `<model>.<split>.alignment` (and per category, images, well_formed, frechet,
// mean_reward), and with two models `alignment_gain_<split>` = second / first (tuned over base).
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { evaluate, EvaluateInputError, type EvaluateParams } from '../evaluate/evaluate';
import type { StageImplementation } from '../runtime/stage';
import { barChart } from '../tracking/plots';
import type { InputRef } from '../spec/plan';
import { modelFolder, readJsonArtifact, sharedDir, upstreamArtifact, workDir } from './io';
import type { PromptRecord } from './prompts';

export const run: StageImplementation = async (input, ctx) => {
  const p = input.instance.params as EvaluateParams;
  const refs = ([] as InputRef[]).concat(input.instance.inputs.models ?? []);
  const models: Record<string, string> = {};
  // A swept model's plan entry is keyed name@hash; metrics use its spec name.
  for (const ref of refs)
    models['model' in ref ? input.models[ref.model].name : ref.stage] = await modelFolder(input, ctx, ref);
  const rewardIn = input.instance.inputs.reward;
  const rewardDir =
    rewardIn && !Array.isArray(rewardIn)
      ? await sharedDir(ctx, upstreamArtifact(input, rewardIn, 'reward'), 'metrics.json')
      : undefined;
  // The prompts a model was tuned on: evaluated as the seen (or unseen) split they are in.
  const promptsIn = input.instance.inputs.prompts;
  const prompts =
    promptsIn && !Array.isArray(promptsIn)
      ? (
          await readJsonArtifact<{ prompts: PromptRecord[] }>(
            ctx,
            upstreamArtifact(input, promptsIn, 'prompts'),
          )
        ).prompts
      : undefined;
  const outDir = join(workDir(input, ctx), 'evaluation');
  const result = await evaluate({
    params: p,
    models,
    rewardDir,
    prompts,
    outDir,
    signal: ctx.signal,
    onProgress: ({ done, total }) => ctx.heartbeat({ step: done, steps: total }),
  }).catch((e) => {
    if (!(e instanceof EvaluateInputError)) throw e;
    throw ApplicationFailure.nonRetryable(
      `Evaluate stage '${input.instance.stage}': ${e.message}`,
      'EvaluateStageError',
    );
  });
  const metrics: Record<string, number> = {};
  const put = (k: string, v: number | null) => {
    if (v !== null && Number.isFinite(v)) metrics[k] = v;
  };
  for (const [model, splits] of Object.entries(result.metrics)) {
    for (const [split, m] of Object.entries(splits)) {
      put(`${model}.${split}.images`, m.images);
      put(`${model}.${split}.alignment`, m.alignment);
      put(`${model}.${split}.well_formed`, m.wellFormed);
      for (const [check, v] of Object.entries(m.malformed)) put(`${model}.${split}.malformed.${check}`, v);
      put(`${model}.${split}.frechet`, m.frechet);
      put(`${model}.${split}.mean_reward`, m.meanReward);
      for (const [c, v] of Object.entries(m.alignmentByCategory)) put(`${model}.${split}.alignment.${c}`, v);
    }
  }
  const names = Object.keys(models);
  if (names.length === 2) {
    const [base, tuned] = names;
    for (const split of Object.keys(result.metrics[base] ?? {})) {
      const a = result.metrics[base][split].alignment;
      const b = result.metrics[tuned]?.[split]?.alignment;
      if (a !== null && b !== undefined && b !== null && a > 0) put(`alignment_gain_${split}`, b / a);
      if (a !== null && b !== undefined && b !== null) put(`alignment_delta_${split}`, b - a);
      const win = result.metrics[tuned]?.[split]?.rewardWinRate;
      if (win !== undefined) put(`reward_win_rate_${split}`, win);
    }
  }
  for (const sheet of result.sheets) ctx.track.image(basename(sheet), readFileSync(sheet));
  for (const split of Object.keys(result.metrics[names[0]] ?? {})) {
    const categories = Object.keys(result.metrics[names[0]][split].alignmentByCategory);
    if (categories.length === 0) continue; // free-text prompts: no judge, no categories
    const series = names.map((n) => ({
      name: n,
      values: categories.map((c) => result.metrics[n]?.[split]?.alignmentByCategory[c] ?? 0),
    }));
    const png = await barChart({
      title: `Alignment by category (${split} prompts)`,
      yLabel: 'aligned share',
      categories,
      series,
    });
    ctx.track.image(`alignment-${split}.png`, png);
  }
  ctx.track.artifact('metrics.json', readFileSync(result.metricsPath));
  return { artifacts: { evaluation: await ctx.store.putDir(outDir) }, metrics };
};
