/**
 * Separates what reward-weighted fine-tuning gains from what fine-tuning a model on its own images
 * costs. Compiles experiments/quickstart-tiny.yaml (the first quickstart, on models/tiny) and runs
 * its prompts, generate and label stages' work with the plan's own params (simulated raters
 * through a label store, aggregated as the label stage does), then fine-tunes the base three ways
 * with the plan's finetune params:
 *
 *   labels     w = label (the method, as the quickstart runs it)
 *   all-ones   the same images, every w = 1 (self-training without the feedback)
 *   rendered   512 rendered images of random shapes prompts, w = 1 (fine-tuning itself)
 *
 * and judges all four models with the evaluate stage's measure on the seen prompts, with seeds the
 * quickstart does not evaluate on: alignment (overall and per category) and both fidelity measures
 * (the well-formed share, and the Fréchet distance of image statistics to rendered images).
 *
 *   node --import tsx research/self-training-control.ts [--work DIR] [--seeds 4,5,6,7,8,9,10,11]
 *       [--images-per-prompt N] [--arms FILE] [--splits seen,unseen] [--spec FILE] [--model DIR]
 *
 * --images-per-prompt replaces the plan's generate count; --arms replaces the three arms with a
 * JSON list of { "name", "data", "params": { finetune params over the plan's } }, where data is
 * "labels", "all-ones", "none" (no model images, for arms on rendered data alone) or
 * "rendered-prompts": as many rendered images of each tuned prompt as it has labelled images, all
 * correct by construction, w = 1 (perfect images with perfect feedback: a ceiling for the method
 * on this base model). --splits also judges the unseen prompts the evaluate stage draws. --spec
 * takes another spec of the quickstart's shape (e.g. the same stages on another base model).
 * --model replaces the spec's base model: the images are drawn and the arms start from it (a
 * second round of feedback from a tuned model); give it its own --work folder.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderPrompt } from '../src/domains/shapes/index';
import { MALFORMED_CHECKS, type PromptCategory, type PromptSplit } from '../src/domains/shapes/types';
import { evaluate, type EvaluateParams, type SplitMetrics } from '../src/evaluate/evaluate';
import { finetune, type FinetuneParams } from '../src/finetune/finetune';
import { hashJson } from '../src/spec/hash';
import { countFlag } from '../scripts/lib/flags';
import { planLabels } from './lib/plan-labels';

const { values } = parseArgs({
  options: {
    work: { type: 'string', default: '/tmp/alignrun-self-training' },
    seeds: { type: 'string', default: '4,5,6,7,8,9,10,11' },
    'images-per-prompt': { type: 'string' },
    arms: { type: 'string' },
    splits: { type: 'string', default: 'seen' },
    spec: { type: 'string', default: 'experiments/quickstart-tiny.yaml' },
    model: { type: 'string' },
  },
});
const work = values.work;
const { params, baseDir, prompts, labelled } = await planLabels(values.spec, work, {
  imagesPerPrompt: countFlag('images-per-prompt', values['images-per-prompt']),
  baseDir: values.model,
});
const pp = params('prompts');
const positives = labelled.filter((l) => l.label >= 0.5).length;
console.log(`${labelled.length} labelled images of the base model, ${positives} good`);

const fp = params('finetune') as FinetuneParams;
type Data = 'labels' | 'all-ones' | 'rendered-prompts' | 'none';
const armSpecs: { name: string; data: Data; params?: FinetuneParams }[] = values.arms
  ? JSON.parse(readFileSync(values.arms, 'utf8'))
  : [
      { name: 'labels', data: 'labels' },
      { name: 'all-ones', data: 'all-ones' },
      { name: 'rendered', data: 'none', params: { beta: 1, pretrain_data: { size: 512 } } },
    ];
const byText = new Map(prompts.map((p) => [p.text, p]));
const weighted = (data: Data) =>
  data === 'labels'
    ? labelled
    : data === 'rendered-prompts'
      ? labelled.map((l, i) => ({
          ...l,
          image: renderPrompt(byText.get(l.prompt)!, { seed: `rendered-prompts:${i}` }),
          label: 1,
        }))
      : labelled.map((l) => ({ ...l, label: data === 'all-ones' ? 1 : 0 }));
const arms: Record<string, { params: FinetuneParams; labelled: typeof labelled }> = Object.fromEntries(
  armSpecs.map((a) => [a.name, { params: { ...fp, ...a.params }, labelled: weighted(a.data) }]),
);
const models: Record<string, string> = { base: baseDir };
for (const [name, arm] of Object.entries(arms)) {
  const started = Date.now();
  models[name] = join(work, name);
  // An arm's folder keeps its name (later runs point --model at it), so it records what it was
  // fine-tuned with: a rerun with the same params and labels resumes it, one with others is refused
  // instead of silently reusing the old weights.
  const key = hashJson({
    base: baseDir,
    params: arm.params,
    labels: arm.labelled.map((l) => [l.prompt, l.label]),
  });
  const keyFile = join(models[name], 'arm-key.txt');
  if (existsSync(models[name])) {
    const recorded = existsSync(keyFile) ? readFileSync(keyFile, 'utf8').trim() : '(none)';
    if (recorded !== key) {
      console.error(
        `${models[name]} holds a fine-tune with other params, labels or base model; remove it or give another --work.`,
      );
      process.exit(2);
    }
  } else {
    mkdirSync(models[name], { recursive: true });
    writeFileSync(keyFile, `${key}\n`);
  }
  await finetune({ ...arm, baseDir, outDir: models[name] });
  console.log(`fine-tuned '${name}' in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

const ep = params('evaluate') as EvaluateParams;
const splits = values.splits.split(',') as PromptSplit[];
const seeds = values.seeds.split(',').map(Number);
const { metrics, sheets } = await evaluate({
  params: { ...ep, splits, seeds },
  models,
  prompts,
  outDir: join(work, 'evaluate'),
});
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const categories = pp.categories as PromptCategory[];
const width = Math.max(12, ...Object.keys(metrics).map((n) => n.length + 2));
/** One table for a split: a header row, then a row of cells per model. */
function table(split: PromptSplit, first: string, headers: string[], cellsOf: (m: SplitMetrics) => string[]) {
  const col = Math.max(12, ...headers.map((h) => h.length + 1));
  const lead = Math.max(width, first.length + 1);
  console.log([first.padEnd(lead), ...headers.map((h) => h.padEnd(col))].join(''));
  for (const [name, splitMetrics] of Object.entries(metrics)) {
    console.log([name.padEnd(lead), ...cellsOf(splitMetrics[split]).map((c) => c.padEnd(col))].join(''));
  }
}
for (const split of splits) {
  const images = metrics.base[split].images;
  const n = images / seeds.length;
  console.log(`\n${split} prompts (${n} x seeds ${values.seeds}): ${images} images per model`);
  table(split, 'model', ['aligned', ...categories, 'well-formed', 'Fréchet'], (m) => [
    pct(m.alignment ?? NaN),
    ...categories.map((c) => pct(m.alignmentByCategory[c])),
    pct(m.wellFormed ?? NaN),
    (m.frechet ?? NaN).toFixed(4),
  ]);
  // Why images are not well formed: the share failing each check (an image can fail several).
  table(split, 'not well-formed:', [...MALFORMED_CHECKS], (m) =>
    MALFORMED_CHECKS.map((c) => pct(m.malformed[c])),
  );
}
console.log(`contact sheet: ${sheets.join(', ')}`);
