/**
 * Separates what reward-weighted fine-tuning gains from what fine-tuning a model on its own images
 * costs. Compiles experiments/quickstart.yaml and runs its prompts, generate and label stages'
 * work with the plan's own params (simulated raters through a label store, aggregated as the label
 * stage does), then fine-tunes the base three ways with the plan's finetune params:
 *
 *   labels     w = label (the method, as the quickstart runs it)
 *   all-ones   the same images, every w = 1 (self-training without the feedback)
 *   rendered   512 rendered images of random shapes prompts, w = 1 (fine-tuning itself)
 *
 * and judges all four models with the evaluate stage's measure on the seen prompts, with seeds the
 * quickstart does not evaluate on.
 *
 *   node --import tsx scripts/self-training-control.ts [--work DIR] [--seeds 4,5,6,7,8,9,10,11]
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { generatePrompts } from '../src/domains/shapes/index';
import type { Image, PromptCategory } from '../src/domains/shapes/types';
import { evaluate, type EvaluateParams } from '../src/evaluate/evaluate';
import { finetune, type FinetuneParams } from '../src/finetune/finetune';
import { simulateLabels } from '../src/labels/sources';
import { LabelStore } from '../src/labels/store';
import { generateImages, type ManifestEntry } from '../src/model/generate';
import { schedulerFromSpec } from '../src/model/schedulers/index';
import { compileFile } from '../src/spec/compile';
import { aggregate } from '../workflows/labeling';

const { values } = parseArgs({
  options: {
    work: { type: 'string', default: '/tmp/alignrun-self-training' },
    seeds: { type: 'string', default: '4,5,6,7,8,9,10,11' },
  },
});
const work = values.work;
mkdirSync(work, { recursive: true });
const { plan, diagnostics } = await compileFile('experiments/quickstart.yaml', { stateDir: work });
if (!plan) throw new Error(diagnostics.map((d) => d.message).join('\n'));
const params = (stage: string): any => Object.values(plan.instances).find((i) => i.stage === stage)!.params;
const baseDir = plan.models.base.path;

const pp = params('prompts');
const prompts = generatePrompts({
  categories: pp.categories as PromptCategory[],
  perCategory: pp.per_category,
  split: pp.split,
  seed: pp.seed,
});

const gp = params('generate');
const genDir = join(work, 'generate');
await generateImages(
  {
    modelDir: baseDir,
    prompts: prompts.map((p) => ({ id: p.id, text: p.text })),
    imagesPerPrompt: gp.images_per_prompt,
    seed: gp.seed,
    scheduler: schedulerFromSpec(gp.sampler.scheduler),
    steps: gp.sampler.steps,
    guidanceScale: gp.sampler.guidance_scale,
    batchSize: gp.sampler.batch_size,
  },
  { outDir: genDir },
);
const manifest = readFileSync(join(genDir, 'manifest.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as ManifestEntry);

const lp = params('label');
const store = new LabelStore(':memory:');
const entries = new Map(manifest.map((m) => [basename(m.png, extname(m.png)), m]));
const task = 'self-training-control';
let labelled: { image: Image; prompt: string; label: number }[];
try {
  store.publishTask({
    id: task,
    experiment: plan.experiment,
    title: task,
    quorum: lp.quorum,
    images: [...entries].map(([id, m]) => ({ id, prompt: m.prompt, path: join(genDir, m.png) })),
  });
  const { raters, noise, bias } = lp.source;
  await simulateLabels({
    store,
    task,
    seed: lp.seed,
    raters: Array.from({ length: raters }, (_, i) => ({ name: `sim-${i + 1}`, noise, bias })),
  });
  const answers = new Map<string, { good: number; bad: number }>();
  for (const l of store.labels(task)) {
    const a = answers.get(l.image) ?? { good: 0, bad: 0 };
    if (l.value !== 'skip') a[l.value] += 1;
    answers.set(l.image, a);
  }
  labelled = [...entries].flatMap(([id, m]) => {
    const { good = 0, bad = 0 } = answers.get(id) ?? {};
    const label = aggregate(good, bad, lp.aggregation);
    if (label === null || good + bad < lp.quorum) return [];
    const buf = readFileSync(join(genDir, m.tensor));
    const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    return [{ image: { width: m.dims.at(-1)!, height: m.dims.at(-2)!, data }, prompt: m.prompt, label }];
  });
} finally {
  store.close();
}
const positives = labelled.filter((l) => l.label >= 0.5).length;
console.log(`${labelled.length} labelled images of the base model, ${positives} good`);

const fp = params('finetune') as FinetuneParams;
const arms: Record<string, { params: FinetuneParams; labelled: typeof labelled }> = {
  labels: { params: fp, labelled },
  'all-ones': { params: fp, labelled: labelled.map((l) => ({ ...l, label: 1 })) },
  rendered: {
    params: { ...fp, beta: 1, pretrain_data: { size: 512 } },
    labelled: labelled.map((l) => ({ ...l, label: 0 })),
  },
};
const models: Record<string, string> = { base: baseDir };
for (const [name, arm] of Object.entries(arms)) {
  const started = Date.now();
  models[name] = join(work, name);
  await finetune({ ...arm, baseDir, outDir: models[name] });
  console.log(`fine-tuned '${name}' in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

const ep = params('evaluate') as EvaluateParams;
const { metrics, sheets } = await evaluate({
  params: { ...ep, splits: ['seen'], seeds: values.seeds.split(',').map(Number) },
  models,
  prompts,
  outDir: join(work, 'evaluate'),
});
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const categories = pp.categories as PromptCategory[];
console.log(
  `\nSeen prompts (${prompts.length}) x seeds ${values.seeds}: ${metrics.base.seen.images} images per model`,
);
console.log(['model', 'aligned', ...categories, 'well-formed'].map((h) => h.padEnd(12)).join(''));
for (const [name, { seen: m }] of Object.entries(metrics)) {
  const cells = [
    pct(m.alignment),
    ...categories.map((c) => pct(m.alignmentByCategory[c])),
    pct(m.wellFormed),
  ];
  console.log([name, ...cells].map((c) => c.padEnd(12)).join(''));
}
console.log(`contact sheet: ${sheets.join(', ')}`);
