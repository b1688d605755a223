/**
 * The method end to end on the pretrained tiny model, measured: generate images for seen prompts,
 * simulated labels (the judge's verdict flipped with probability 0.1), reward (λ = 0.5, and λ = 0
 * for the comparison, over three seeds, tested on images of unseen prompts), fine-tuning with
 * β = 1 and β = 0, and evaluation of base and tuned models on seen and unseen prompts.
 *
 *   node --import tsx src/finetune/experiment.ts [BASE_DIR] [OUT_DIR] [--quick]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { generatePrompts, judge } from '../domains/shapes/index';
import type { GeneratedPrompt, Image, PromptSplit } from '../domains/shapes/types';
import { evaluate } from '../evaluate/evaluate';
import { DiffusionPipeline } from '../model/pipeline';
import type { RewardExample } from '../reward/data';
import { trainReward } from '../reward/train';
import { createRng } from '../util/rng';
import { finetune } from './finetune';

export interface ExperimentOptions {
  baseDir: string;
  outDir: string;
  perCategory: number;
  imagesPerPrompt: number;
  samplerSteps: number;
  guidance: number;
  finetuneSteps: number;
  rewardEpochs: number;
  log?: (line: string) => void;
}

async function generateLabelled(
  o: ExperimentOptions,
  split: PromptSplit,
  seed: number,
  perCategory: number,
): Promise<RewardExample[]> {
  const prompts = generatePrompts({ perCategory, split, seed });
  const jobs: { prompt: GeneratedPrompt; seed: string }[] = prompts.flatMap((prompt) =>
    Array.from({ length: o.imagesPerPrompt }, (_, k) => ({ prompt, seed: `gen:${split}:${prompt.id}:${k}` })),
  );
  const pipeline = await DiffusionPipeline.open(o.baseDir);
  let images: Image[];
  try {
    images = await pipeline.generate({
      prompts: jobs.map((j) => j.prompt.text),
      seeds: jobs.map((j) => j.seed),
      scheduler: 'ddim',
      steps: o.samplerSteps,
      guidanceScale: o.guidance,
    });
  } finally {
    await pipeline.close();
  }
  const rng = createRng(`labels:${split}:${seed}`);
  return images.map((image, i) => {
    const aligned = judge(image, jobs[i].prompt).aligned;
    const flipped = rng.next() < 0.1;
    return { image, prompt: jobs[i].prompt.text, label: aligned !== flipped ? 1 : 0 };
  });
}

export async function runExperiment(o: ExperimentOptions): Promise<Record<string, unknown>> {
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const time = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;
  mkdirSync(o.outDir, { recursive: true });
  const labelled = await generateLabelled(o, 'seen', 7, o.perCategory);
  const good = labelled.filter((e) => e.label === 1).length;
  log(`generated and labelled ${labelled.length} images of seen prompts (${good} good) [${time()}]`);
  const unseenTest = await generateLabelled(o, 'unseen', 8, Math.max(2, o.perCategory / 2));
  log(`generated ${unseenTest.length} labelled images of unseen prompts for the reward test [${time()}]`);

  const rewardRuns: Record<string, number[]> = { 'lambda=0.5': [], 'lambda=0': [] };
  let rewardDir = '';
  for (const seed of [0, 1, 2]) {
    for (const lambda of [0.5, 0]) {
      const outDir = join(o.outDir, `reward-l${lambda}-s${seed}`);
      const r = await trainReward({
        params: { lambda, seed, epochs: o.rewardEpochs, learning_rate: 0.005, batch_size: 16 },
        examples: labelled,
        test: unseenTest,
        tokenizerDir: join(o.baseDir, 'tokenizer'),
        outDir,
      });
      const acc = r.epochs[r.epochs.length - 1].test!.all.accuracy;
      rewardRuns[`lambda=${lambda}`].push(acc);
      if (lambda === 0.5 && seed === 0) rewardDir = outDir;
      log(`reward lambda=${lambda} seed=${seed}: unseen accuracy ${acc.toFixed(3)} [${time()}]`);
    }
  }

  const tuned: Record<string, string> = {};
  for (const beta of [1, 0]) {
    const dir = join(o.outDir, `tuned-beta${beta}`);
    await finetune({
      params: {
        beta,
        steps: o.finetuneSteps,
        batch_size: 8,
        learning_rate: 3e-4,
        pretrain_data: { size: 256 },
      },
      baseDir: o.baseDir,
      outDir: dir,
      labelled,
      rewardDir,
    });
    tuned[`tuned-beta${beta}`] = dir;
    log(`fine-tuned with beta=${beta} [${time()}]`);
  }

  const evaluation = await evaluate({
    params: {
      per_category: o.perCategory,
      seeds: [0, 1],
      sampler: { scheduler: 'ddim', steps: o.samplerSteps, guidance_scale: o.guidance },
      seed: 11,
    },
    models: { base: o.baseDir, ...tuned },
    rewardDir,
    outDir: join(o.outDir, 'evaluate'),
  });
  log(`evaluated [${time()}]`);
  const m = evaluation.metrics;
  const ratio = (model: string, split: string) =>
    m[model][split].alignment / Math.max(1e-9, m.base[split].alignment);
  const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
  const summary = {
    seconds: (Date.now() - t0) / 1000,
    labelled: { images: labelled.length, good },
    reward: {
      unseenAccuracy: rewardRuns,
      lambdaGainPoints: 100 * (mean(rewardRuns['lambda=0.5']) - mean(rewardRuns['lambda=0'])),
    },
    alignment: Object.fromEntries(
      Object.keys(m).map((k) => [k, { seen: m[k].seen.alignment, unseen: m[k].unseen.alignment }]),
    ),
    ratios: { seen: ratio('tuned-beta1', 'seen'), unseen: ratio('tuned-beta1', 'unseen') },
    fidelityDropPoints: Object.fromEntries(
      Object.keys(tuned).map((k) => [k, 100 * (m.base.seen.wellFormed - m[k].seen.wellFormed)]),
    ),
    frechet: Object.fromEntries(Object.keys(m).map((k) => [k, m[k].seen.frechet])),
    metrics: evaluation.metricsPath,
    sheets: evaluation.sheets,
  };
  writeFileSync(join(o.outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const quick = process.argv.includes('--quick');
  runExperiment({
    baseDir: args[0] ?? 'models/tiny',
    outDir: args[1] ?? '.alignrun/experiment',
    perCategory: quick ? 4 : 8,
    imagesPerPrompt: quick ? 4 : 6,
    samplerSteps: 10,
    guidance: 4,
    finetuneSteps: quick ? 40 : 120,
    rewardEpochs: quick ? 10 : 20,
    log: (line) => console.log(line),
  })
    .then((s) => console.log(JSON.stringify(s, null, 2)))
    .catch((err: Error) => {
      console.error(err.message);
      process.exit(1);
    });
}
