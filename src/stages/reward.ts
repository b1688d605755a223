// Stage `reward`: trains r(x, z) on the labels with the paper's auxiliary prompt-classification
// loss. Output: the reward model folder (ONNX scorer, tokenizer, metrics) as `reward`.
import { ApplicationFailure } from '@temporalio/common';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TokenizerError } from '../model/tokenizer';
import { holdOutSplit } from '../reward/data';
import { RewardInputError } from '../reward/errors';
import type { Separation } from '../reward/metrics';
import { checkBackbone, trainReward, type EpochMetrics, type RewardStageParams } from '../reward/train';
import { RewardModel } from '../reward/score';
import type { StageContext, StageImplementation } from '../runtime/stage';
import { histogram, linePlot } from '../tracking/plots';
import { labelledExamples, type LabelledExample } from './examples';
import { inputRef, sharedDir, upstreamArtifact, workDir } from './io';

export const run: StageImplementation = async (input, ctx) => {
  const p = input.instance.params as RewardStageParams;
  let examples: LabelledExample[];
  let test: LabelledExample[];
  const outDir = join(workDir(input, ctx), 'reward');
  let result;
  try {
    // Before any input is read: the spec's semantic check says so at file:line:col; this covers
    // plans built by hand.
    checkBackbone(p.backbone);
    const labels = inputRef(input, 'labels');
    const labelled = await labelledExamples(input, ctx, labels);
    const tokenizerDir = await sharedDir(ctx, upstreamArtifact(input, labels, 'tokenizer'), 'vocab.json');
    // Held-out split: never trained on, scored as `test` (e.g. unseen prompts).
    ({ train: examples, test } = holdOutSplit(labelled, p.test_split));
    result = await trainReward({
      params: p,
      examples,
      test,
      tokenizerDir,
      outDir,
      signal: ctx.signal,
      onProgress: ({ epoch, epochs, loss }) => {
        ctx.heartbeat({ step: epoch, steps: epochs });
        ctx.track.metrics([{ key: 'loss', value: loss, step: epoch }]);
      },
    });
  } catch (e) {
    if (e instanceof RewardInputError || e instanceof TokenizerError) {
      throw ApplicationFailure.nonRetryable(
        `Reward stage '${input.instance.stage}': ${e.message}`,
        'RewardStageError',
      );
    }
    throw e;
  }
  const metrics: Record<string, number> = { examples: examples.length };
  if (p.test_split) metrics.test_examples = test.length;
  const last = result.epochs[result.epochs.length - 1];
  if (last) Object.assign(metrics, { loss: last.loss, mse: last.mse, aux: last.aux });
  if (result.final) Object.assign(metrics, { n: result.final.n }, wholeSetMetrics(result.final, ''));
  // Held-out accuracy per category and split (the overall validation figures come from `final`).
  Object.assign(
    metrics,
    separationMetrics(last?.validation, ''),
    separationMetrics(last?.test, 'test_', true),
  );
  await trackReward(ctx, outDir, result.epochs, examples);
  return { artifacts: { reward: await ctx.store.putDir(outDir) }, metrics };
};

/**
 * `${prefix}accuracy_${group}_${value}` for each group of a held-out evaluation; with `overall`,
 * also `${prefix}accuracy`, `${prefix}auc`, `${prefix}mean_score` and `${prefix}good_share` of
 * the whole set.
 */
function separationMetrics(
  byGroup: EpochMetrics['validation'] | undefined,
  prefix: string,
  overall = false,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [group, byKey] of Object.entries(byGroup ?? {})) {
    if (group === 'all') {
      if (overall) Object.assign(out, wholeSetMetrics(byKey as unknown as Separation, prefix));
      continue;
    }
    for (const [key, s] of Object.entries(byKey))
      if (typeof s?.accuracy === 'number') out[`${prefix}accuracy_${group}_${key}`] = s.accuracy;
  }
  return out;
}

/** A held-out set's whole-set figures as metrics (the finite ones: AUC is null with one class). */
function wholeSetMetrics(s: Separation, prefix: string): Record<string, number> {
  const named: Record<string, number | null> = {
    accuracy: s.accuracy,
    auc: s.auc,
    mean_score: s.meanScore,
    good_share: s.goodShare,
  };
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(named)) if (v !== null && Number.isFinite(v)) out[`${prefix}${k}`] = v;
  return out;
}

/** MLflow: the model and its metrics, loss curves, and the reward histogram by label. */
async function trackReward(
  ctx: StageContext,
  outDir: string,
  epochs: { epoch: number; loss: number; mse: number; aux: number }[],
  examples: LabelledExample[],
): Promise<void> {
  ctx.track.artifact('reward.onnx', readFileSync(join(outDir, 'reward.onnx')));
  ctx.track.artifact('metrics.json', readFileSync(join(outDir, 'metrics.json')));
  if (epochs.length > 0) {
    const series = (['loss', 'mse', 'aux'] as const).map((k) => ({
      name: k,
      points: epochs.map((e) => [e.epoch, e[k]] as [number, number]),
    }));
    ctx.track.image(
      'loss.png',
      await linePlot({ title: 'Reward model training', xLabel: 'epoch', yLabel: 'loss', series }),
    );
  }
  const model = await RewardModel.open(outDir);
  try {
    const scores = await model.score(
      examples.map((e) => e.image),
      examples.map((e) => e.prompt),
    );
    const groups = [
      { name: 'labelled good', values: examples.flatMap((e, i) => (e.label >= 0.5 ? [scores[i]] : [])) },
      { name: 'labelled bad', values: examples.flatMap((e, i) => (e.label < 0.5 ? [scores[i]] : [])) },
    ].filter((g) => g.values.length > 0);
    ctx.track.image(
      'reward-by-label.png',
      await histogram({ title: 'Reward by label', xLabel: 'r(x, z)', groups }),
    );
  } finally {
    await model.close();
  }
}
