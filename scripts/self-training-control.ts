/**
 * Separates what reward-weighted fine-tuning gains from what fine-tuning a model on its own images
 * costs. On the quickstart's prompts (32 seen shapes prompts), labels the model's images with
 * simulated raters (3, 10% noise, majority) and fine-tunes the base three ways with the same
 * settings, then judges each on the same prompts and fresh seeds:
 *
 *   labels     w = label (the method, beta 0)
 *   all-ones   the same images, every w = 1 (self-training without the feedback)
 *   rendered   rendered images of random shapes prompts, w = 1 (fine-tuning itself, no model images)
 *
 *   node --import tsx scripts/self-training-control.ts [--model models/tiny] [--work DIR]
 *        [--images-per-prompt 8] [--steps 600] [--lr 1e-4] [--batch 8] [--seeds 4,5,6,7,8,9,10,11]
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generatePrompts, judge, parsePrompt } from '../src/domains/shapes/index';
import { PROMPT_CATEGORIES, type Image } from '../src/domains/shapes/types';
import { finetune, type FinetuneParams } from '../src/finetune/finetune';
import { simulatedLabel } from '../src/labels/sources';
import { generateImages, type ManifestEntry } from '../src/model/generate';
import { DiffusionPipeline } from '../src/model/pipeline';
import { schedulerFromSpec } from '../src/model/schedulers/index';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/tiny' },
    work: { type: 'string', default: '/tmp/alignrun-self-training' },
    'images-per-prompt': { type: 'string', default: '8' },
    steps: { type: 'string', default: '600' },
    lr: { type: 'string', default: '1e-4' },
    batch: { type: 'string', default: '8' },
    seeds: { type: 'string', default: '4,5,6,7,8,9,10,11' },
  },
});
const sampler = { scheduler: 'ddim' as const, steps: 25, guidanceScale: 1.5 };
const work = values.work;
mkdirSync(work, { recursive: true });
const prompts = generatePrompts({ categories: PROMPT_CATEGORIES, perCategory: 8, split: 'seen', seed: 7 });

// The model's own images, labelled as the quickstart's label stage does.
const genDir = join(work, 'generate');
await generateImages(
  {
    modelDir: values.model,
    prompts: prompts.map((p) => ({ id: p.id, text: p.text })),
    imagesPerPrompt: Number(values['images-per-prompt']),
    seed: 7,
    batchSize: 16,
    ...sampler,
  },
  { outDir: genDir },
);
const manifest = readFileSync(join(genDir, 'manifest.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as ManifestEntry);
const labelled = manifest.map((m) => {
  const buf = readFileSync(join(genDir, m.tensor));
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const image: Image = { width: m.dims.at(-1)!, height: m.dims.at(-2)!, data };
  const aligned = judge(image, parsePrompt(m.prompt)!).aligned;
  const good = [0, 1, 2].filter(
    (r) =>
      simulatedLabel(aligned, { name: `sim-${r}`, noise: 0.1 }, 7, `${m.promptId}#${m.index}`) === 'good',
  ).length;
  return { image, prompt: m.prompt, label: good >= 2 ? 1 : 0 };
});
const positives = labelled.filter((l) => l.label === 1).length;
console.log(`${labelled.length} images of the base model, ${positives} labelled good`);

const common: FinetuneParams = {
  steps: Number(values.steps),
  learning_rate: Number(values.lr),
  batch_size: Number(values.batch),
  checkpoint_every: 1_000_000,
};
const arms: Record<string, () => Promise<unknown>> = {
  labels: () =>
    finetune({
      params: { ...common, beta: 0 },
      baseDir: values.model,
      outDir: join(work, 'labels'),
      labelled,
    }),
  'all-ones': () =>
    finetune({
      params: { ...common, beta: 0 },
      baseDir: values.model,
      outDir: join(work, 'all-ones'),
      labelled: labelled.map((l) => ({ ...l, label: 1 })),
    }),
  rendered: () =>
    finetune({
      params: { ...common, beta: 1, pretrain_data: { size: 512 } },
      baseDir: values.model,
      outDir: join(work, 'rendered'),
      labelled: labelled.map((l) => ({ ...l, label: 0 })),
    }),
};

const seeds = values.seeds.split(',');
const jobs = prompts.flatMap((p) => seeds.map((s) => ({ p, seed: `${p.id}:${s}` })));
async function judged(dir: string) {
  const pipeline = await DiffusionPipeline.open(dir);
  let images: Image[];
  try {
    images = await pipeline.generate({
      prompts: jobs.map((j) => j.p.text),
      seeds: jobs.map((j) => j.seed),
      scheduler: schedulerFromSpec(sampler.scheduler),
      steps: sampler.steps,
      guidanceScale: sampler.guidanceScale,
    });
  } finally {
    await pipeline.close();
  }
  const verdicts = images.map((im, k) => judge(im, jobs[k].p));
  const share = (f: (k: number) => boolean, idx = jobs.map((_, k) => k)) =>
    `${((100 * idx.filter(f).length) / idx.length).toFixed(1)}%`;
  const byCategory = PROMPT_CATEGORIES.map((c) =>
    share(
      (k) => verdicts[k].aligned,
      jobs.flatMap((j, k) => (j.p.category === c ? [k] : [])),
    ),
  );
  return [share((k) => verdicts[k].aligned), ...byCategory, share((k) => verdicts[k].wellFormed)];
}

const rows: [string, string[]][] = [['base', await judged(values.model)]];
for (const [name, train] of Object.entries(arms)) {
  const started = Date.now();
  await train();
  console.log(`fine-tuned '${name}' in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  rows.push([name, await judged(join(work, name))]);
}
console.log(`\nSeen prompts (${prompts.length}) x seeds ${values.seeds}: ${jobs.length} images per model`);
const head = ['model', 'aligned', ...PROMPT_CATEGORIES, 'well-formed'];
console.log(head.map((h) => h.padEnd(12)).join(''));
for (const [name, cells] of rows) console.log([name, ...cells].map((c) => c.padEnd(12)).join(''));
