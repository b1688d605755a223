/**
 * The evaluate stage: for each model and each prompt split, generates images for fixed prompts
 * and seeds and measures alignment (the judge's `aligned`, per category), mean reward (with a
 * reward model), and fidelity (the share the judge finds well formed, and the Fréchet distance of
 * image statistics to rendered images of the same prompts). Writes metrics.json and, per split,
 * a contact sheet with one row per model over the same prompts and seeds.
 *
 * The prompts of a split are the given ones in that split (e.g. the prompts a model was tuned on:
 * the paper's "seen" prompts), else a fixed draw of `per_category` per category from the split.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  generatePrompts,
  judge,
  parsePrompt,
  promptId,
  promptSplit,
  renderPrompt,
} from '../domains/shapes/index';
import {
  MALFORMED_CHECKS,
  type Image,
  type MalformedCheck,
  type PromptCategory,
  type PromptSplit,
} from '../domains/shapes/types';
import { contactSheet } from '../model/images';
import { DiffusionPipeline } from '../model/pipeline';
import type { SchedulerName } from '../model/schedulers/index';
import { RewardModel } from '../reward/score';
import { withSchemaDefaults } from '../spec/defaults';
import { frechetDistance, imageFeatures } from './fidelity';

/** A user-visible problem with the evaluate stage's inputs. */
export class EvaluateInputError extends Error {
  override name = 'EvaluateInputError';
}

/** The evaluate stage's params, named as in the spec (evaluate_stage). */
export interface EvaluateParams {
  splits?: PromptSplit[];
  categories?: PromptCategory[];
  per_category?: number;
  seeds?: (number | string)[];
  sampler?: {
    scheduler?: SchedulerName | 'dpmpp_2m';
    steps?: number;
    guidance_scale?: number;
    /** Images per UNet call (default 8, as in the schema). */
    batch_size?: number;
  };
  /** Seed of the prompt draw (fixed, so every model sees the same prompts). */
  seed?: number;
}

export interface EvaluateInput {
  params: EvaluateParams;
  /** Model name -> SD-layout folder, e.g. { base: 'models/tiny', tuned: 'out/finetune' }. */
  models: Record<string, string>;
  /** A reward stage's output folder, for mean reward. */
  rewardDir?: string;
  /**
   * Prompts to evaluate on, by split (shapes prompts); a split none of them is in is drawn. Free-text
   * prompts (any prompt the shapes domain does not parse) are evaluated by reward alone.
   */
  prompts?: readonly { text: string }[];
  outDir: string;
  onProgress?: (p: { done: number; total: number }) => void;
  signal?: AbortSignal;
}

export interface SplitMetrics {
  images: number;
  /** Share of images the judge finds aligned with their prompt (null for free-text prompts). */
  alignment: number | null;
  alignmentByCategory: Record<string, number>;
  /** Share of images the judge finds well formed (null for free-text prompts). */
  wellFormed: number | null;
  /** Share of images failing each well-formedness check (an image can fail several). */
  malformed: Record<MalformedCheck, number>;
  /** Fréchet distance of image statistics to rendered images of the same prompts and seeds. */
  frechet: number | null;
  meanReward: number | null;
  /** With two models, free-text prompts: the share of prompt-seed pairs the second scores higher. */
  rewardWinRate?: number;
}

export interface EvaluateResult {
  metrics: Record<string, Record<string, SplitMetrics>>;
  metricsPath: string;
  sheets: string[];
}

/** How the evaluated models sample: the spec's sampler, defaults filled in. */
interface Sampling {
  scheduler: SchedulerName;
  steps: number;
  guidanceScale: number;
  batchSize: number;
}

/** `given` with the schema's defaults, the sampler's included (the defaults live only there). */
function resolveParams(given: EvaluateParams): Required<Omit<EvaluateParams, 'seed'>> & EvaluateParams {
  return withSchemaDefaults(given, 'evaluate_stage') as Required<Omit<EvaluateParams, 'seed'>> &
    EvaluateParams;
}

export async function evaluate(input: EvaluateInput): Promise<EvaluateResult> {
  const p = resolveParams(input.params);
  const { splits, categories, seeds } = p;
  const names = Object.keys(input.models);
  if (names.length === 0)
    throw new EvaluateInputError('The evaluate stage got no models; name at least one.');
  const reward = input.rewardDir ? await RewardModel.open(input.rewardDir) : null;
  const sampling: Sampling = {
    scheduler: p.sampler.scheduler!,
    steps: p.sampler.steps!,
    guidanceScale: p.sampler.guidance_scale!,
    batchSize: Math.max(1, p.sampler.batch_size!),
  };
  mkdirSync(input.outDir, { recursive: true });

  const freeText = (input.prompts ?? []).find(({ text }) => !parsePrompt(text));
  if (freeText) {
    if (!reward) {
      throw new EvaluateInputError(
        `The evaluate stage measures free-text prompts such as "${freeText.text}" with a reward model (the shapes judge reads only shapes prompts); add reward: <reward stage>.`,
      );
    }
    try {
      return await evaluateFreeText(input, reward, { seeds, ...sampling });
    } finally {
      await reward?.close();
    }
  }
  const given = (input.prompts ?? []).map(({ text }) => {
    const parsed = parsePrompt(text)!;
    return { ...parsed, id: promptId(parsed), split: promptSplit(parsed) };
  });
  const work = splits.map((split) => {
    const mine = given.filter((g) => g.split === split && categories.includes(g.category));
    const prompts =
      mine.length > 0
        ? mine
        : generatePrompts({ categories, perCategory: p.per_category, split, seed: p.seed ?? 0 });
    const jobs = prompts.flatMap((prompt) => seeds.map((seed) => ({ prompt, seed: `${prompt.id}:${seed}` })));
    return { split, jobs };
  });
  const total = names.length * work.reduce((s, w) => s + w.jobs.length, 0);
  let done = 0;
  const metrics: Record<string, Record<string, SplitMetrics>> = {};
  const sheets: string[] = [];
  try {
    for (const { split, jobs } of work) {
      if (jobs.length === 0) continue;
      const rendered = jobs.map((j) => imageFeatures(renderPrompt(j.prompt, { seed: j.seed })));
      const rows: { name: string; images: Image[] }[] = [];
      for (const name of names) {
        input.signal?.throwIfAborted();
        const images = await generateJobs(input, name, jobs, { ...sampling, done, total });
        done += jobs.length;
        input.onProgress?.({ done, total });
        const verdicts = images.map((im, k) => judge(im, jobs[k].prompt));
        const byCategory: Record<string, number> = {};
        for (const c of categories) {
          const idx = jobs.flatMap((j, k) => (j.prompt.category === c ? [k] : []));
          if (idx.length) byCategory[c] = idx.filter((k) => verdicts[k].aligned).length / idx.length;
        }
        const scores = reward
          ? await reward.score(
              images,
              jobs.map((j) => j.prompt.text),
            )
          : null;
        (metrics[name] ??= {})[split] = {
          images: images.length,
          alignment: verdicts.filter((v) => v.aligned).length / images.length,
          alignmentByCategory: byCategory,
          wellFormed: verdicts.filter((v) => v.wellFormed).length / images.length,
          malformed: Object.fromEntries(
            MALFORMED_CHECKS.map((c) => [
              c,
              verdicts.filter((v) => v.malformed.includes(c)).length / images.length,
            ]),
          ) as Record<MalformedCheck, number>,
          frechet: frechetDistance(images.map(imageFeatures), rendered),
          meanReward: scores ? scores.reduce((s, v) => s + v, 0) / scores.length : null,
        };
        rows.push({ name, images });
      }
      // Same prompts and seeds in every row: the first seed of up to 8 prompts.
      const shown = jobs
        .map((_, k) => k)
        .filter((k) => k % seeds.length === 0)
        .slice(0, 8);
      const cells = rows.flatMap((r) =>
        shown.map((k) => ({ image: r.images[k], caption: `${r.name}: ${jobs[k].prompt.text}` })),
      );
      const path = join(input.outDir, `sheet-${split}.png`);
      writeFileSync(
        path,
        await contactSheet(cells, {
          columns: shown.length,
          title: `${split} prompts: ${names.join(' vs ')}`,
        }),
      );
      sheets.push(path);
    }
  } finally {
    await reward?.close();
  }
  const metricsPath = join(input.outDir, 'metrics.json');
  writeFileSync(metricsPath, `${JSON.stringify({ params: p, models: input.models, metrics }, null, 2)}\n`);
  return { metrics, metricsPath, sheets };
}

interface Job {
  prompt: { text: string };
  seed: string;
}

/** One model's images for the jobs, in batches of the sampler's batch_size, with progress. */
async function generateJobs(
  input: EvaluateInput,
  name: string,
  jobs: readonly Job[],
  o: Sampling & { done: number; total: number },
): Promise<Image[]> {
  const pipeline = await DiffusionPipeline.open(input.models[name]);
  const images: Image[] = [];
  try {
    // In batches of the sampler's batch_size: one UNet call over a whole split (over a
    // thousand images) was measured 2.5x slower per image than batches of 16 on 2 cores.
    for (let at = 0; at < jobs.length; at += o.batchSize) {
      const chunk = jobs.slice(at, at + o.batchSize);
      const base = o.done + at;
      images.push(
        ...(await pipeline.generate({
          prompts: chunk.map((j) => j.prompt.text),
          seeds: chunk.map((j) => j.seed),
          scheduler: o.scheduler,
          steps: o.steps,
          guidanceScale: o.guidanceScale,
          signal: input.signal,
          // Progress (the stage's heartbeat) after every denoising step.
          onStep: (step, steps) =>
            input.onProgress?.({ done: base + Math.floor((chunk.length * step) / steps), total: o.total }),
        })),
      );
    }
  } finally {
    await pipeline.close();
  }
  return images;
}

/**
 * Free-text prompts (a real model's): the shapes judge and rendered references do not apply, so
 * each model is measured by the reward model on the given prompts over the seeds (mean reward,
 * and with two models the share of prompt-seed pairs where the second scores higher), as one
 * split named 'prompts', with a contact sheet. Scorers beyond the trained reward (CLIP score,
 * preference models, detectors) are not here yet.
 */
async function evaluateFreeText(
  input: EvaluateInput,
  reward: RewardModel | null,
  o: Sampling & { seeds: (number | string)[] },
): Promise<EvaluateResult> {
  const names = Object.keys(input.models);
  const prompts = input.prompts ?? [];
  const jobs = prompts.flatMap((prompt, i) =>
    o.seeds.map((seed) => ({ prompt, seed: `prompt${i}:${seed}` })),
  );
  const total = names.length * jobs.length;
  const metrics: Record<string, Record<string, SplitMetrics>> = {};
  const rows: { name: string; images: Image[]; scores: Float32Array | number[] | null }[] = [];
  for (const [k, name] of names.entries()) {
    input.signal?.throwIfAborted();
    const images = await generateJobs(input, name, jobs, { ...o, done: k * jobs.length, total });
    const scores = reward
      ? await reward.score(
          images,
          jobs.map((j) => j.prompt.text),
        )
      : null;
    metrics[name] = {
      prompts: {
        images: images.length,
        alignment: null,
        alignmentByCategory: {},
        wellFormed: null,
        malformed: {} as Record<MalformedCheck, number>,
        frechet: null,
        meanReward: scores ? Array.from(scores).reduce((s, v) => s + v, 0) / scores.length : null,
      },
    };
    rows.push({ name, images, scores });
  }
  input.onProgress?.({ done: total, total });
  if (rows.length === 2 && rows[0].scores && rows[1].scores) {
    const [a, b] = [rows[0].scores, rows[1].scores];
    metrics[names[1]].prompts.rewardWinRate = Array.from(b).filter((v, i) => v > a[i]).length / b.length;
  }
  const shown = jobs
    .map((_, k) => k)
    .filter((k) => k % o.seeds.length === 0)
    .slice(0, 8);
  const cells = rows.flatMap((r) =>
    shown.map((k) => ({ image: r.images[k], caption: `${r.name}: ${jobs[k].prompt.text}` })),
  );
  const sheet = join(input.outDir, 'sheet-prompts.png');
  writeFileSync(
    sheet,
    await contactSheet(cells, { columns: shown.length, title: `prompts: ${names.join(' vs ')}` }),
  );
  const metricsPath = join(input.outDir, 'metrics.json');
  writeFileSync(
    metricsPath,
    `${JSON.stringify({ params: input.params, models: input.models, metrics }, null, 2)}\n`,
  );
  return { metrics, metricsPath, sheets: [sheet] };
}
