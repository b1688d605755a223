/**
 * What the auxiliary loss does to the reward model on prompts it has no labels for. Redoes
 * experiments/reward-ablation.yaml's prompts, generate and label work with the plan's own params
 * (research/lib/plan-labels.ts), trains the reward stage's model on the seen prompts' labels for
 * each lambda and seed, and prints, on the unseen prompts' labels: accuracy, AUC, the mean score,
 * and the accuracy of calling every pair bad. Accuracy that rises with lambda while AUC does not
 * and the mean score falls means the model learnt to score new prompts low, not to rank better.
 * A spec whose reward stage starts from a pretrained model (backbone.init) also gets a row for
 * that model as it is, before any training on the labels.
 *
 *   node --import tsx research/reward-shortcut.ts [--work DIR] [--lambdas 0,0.5,1] [--seeds 0,1,2]
 *       [--per-category N]   (prompts per category; the spec's 12 by default)
 *       [--images-per-prompt N]   (images generated and labelled per prompt; the spec's 8 by default)
 *       [--model DIR]   (another base model than the spec's)
 *       [--spec FILE]   (another spec of the same shape, e.g. experiments/reward-ablation-frozen.yaml)
 *       [--init DIR]   (another pretrained reward model as backbone.init, e.g. one written by
 *                       scripts/pretrain-reward.ts --negatives random)
 *       [--unfreeze]   (train the init model's encoders with the head: backbone.freeze false)
 *       [--head mlp|centered]   (the reward head; centered scores s(x, z) − mean over reference
 *                                images of s(x', z) + c0, so no function of the prompt alone
 *                                reaches the score: the spec's head by default)
 *       [--reference-images N]   (the centred head's reference images; 32 by default)
 *       [--set KEY=VALUE ...]   (any other reward-stage param, e.g. --set perturb_from=labelled
 *                                --set temperature=0.25; a number when it reads as one)
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { holdOutSplit } from '../src/reward/data';
import { separation } from '../src/reward/metrics';
import { RewardModel } from '../src/reward/score';
import { hashJson } from '../src/spec/hash';
import { trainReward, type RewardStageParams } from '../src/reward/train';
import { countFlag } from '../scripts/lib/flags';
import { planLabels } from './lib/plan-labels';

const { values } = parseArgs({
  options: {
    work: { type: 'string', default: '/tmp/alignrun-reward-shortcut' },
    lambdas: { type: 'string', default: '0,0.5,1' },
    seeds: { type: 'string', default: '0,1,2' },
    'per-category': { type: 'string' },
    'images-per-prompt': { type: 'string' },
    model: { type: 'string' },
    spec: { type: 'string', default: 'experiments/reward-ablation.yaml' },
    init: { type: 'string' },
    unfreeze: { type: 'boolean', default: false },
    head: { type: 'string' },
    'reference-images': { type: 'string' },
    set: { type: 'string', multiple: true, default: [] },
  },
});
if (values.head !== undefined && values.head !== 'mlp' && values.head !== 'centered') {
  console.error(`--head takes mlp or centered, not '${values.head}'.`);
  process.exit(2);
}
/** `--set KEY=VALUE` flags as reward params (a value that reads as a number is one). */
function setFlags(flags: readonly string[]): Partial<RewardStageParams> {
  const out: Record<string, string | number> = {};
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    if (eq <= 0) {
      console.error(`--set takes KEY=VALUE (a reward-stage param), not '${flag}'.`);
      process.exit(2);
    }
    const value = flag.slice(eq + 1);
    out[flag.slice(0, eq)] = value !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
  }
  return out as Partial<RewardStageParams>;
}
const referenceImages = countFlag('reference-images', values['reference-images']);
const { params, baseDir, labelled } = await planLabels(values.spec, values.work, {
  perCategory: countFlag('per-category', values['per-category']),
  imagesPerPrompt: countFlag('images-per-prompt', values['images-per-prompt']),
  baseDir: values.model,
});
const specParams = params('reward') as RewardStageParams;
const withBackbone: RewardStageParams =
  values.init || values.unfreeze
    ? {
        ...specParams,
        backbone: {
          ...(specParams.backbone ?? { type: 'tiny' }),
          ...(values.init ? { init: resolve(values.init) } : {}),
          ...(values.unfreeze ? { freeze: false } : {}),
        },
      }
    : specParams;
// Only flags given enter the params (they key the run folders: a plain run keeps its folders).
const rp: RewardStageParams = {
  ...withBackbone,
  ...(values.head ? { head: values.head as 'mlp' | 'centered' } : {}),
  ...(referenceImages ? { reference_images: referenceImages } : {}),
  ...setFlags(values.set),
};
if (rp.reference_images !== undefined && rp.head !== 'centered') {
  console.error("--reference-images sizes the centred head's reference set; give --head centered too.");
  process.exit(2);
}
if (values.unfreeze && !rp.backbone?.init) {
  console.error(
    '--unfreeze trains a pretrained backbone with the head; give --init or a spec with backbone.init.',
  );
  process.exit(2);
}
const { train, test } = holdOutSplit(labelled, rp.test_split ?? 'unseen');
const good = (xs: typeof labelled) => xs.filter((e) => e.label >= 0.5).length;
console.log(
  `train: ${train.length} labels of seen prompts (${good(train)} good); test: ${test.length} labels of unseen prompts (${good(test)} good)`,
);

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const seeds = values.seeds.split(',').map(Number);
const rows: string[] = [];
const row = (cells: string[]) => cells.map((c) => c.padEnd(16)).join('');
const init = rp.backbone?.init;
if (init) {
  const model = await RewardModel.open(init);
  const scores = await model.score(
    test.map((e) => e.image),
    test.map((e) => e.prompt),
  );
  await model.close();
  const t = separation(
    scores,
    test.map((e) => e.label),
  );
  console.log(
    `the init model, not trained on these labels: accuracy ${pct(t.accuracy)}, AUC ${t.auc?.toFixed(3)}`,
  );
  rows.push(
    row([
      'init, untrained',
      pct(t.accuracy),
      t.auc?.toFixed(3) ?? '',
      t.meanScore.toFixed(3),
      '',
      pct(1 - t.goodShare),
    ]),
  );
}
for (const lambda of values.lambdas.split(',').map(Number)) {
  const runs = [];
  for (const seed of seeds) {
    const trial = { ...rp, lambda, seed };
    // The folder is named by the params and the labels: a rerun with other params, another model
    // or another image count does not resume these weights.
    const key = hashJson({ trial, labels: train.map((e) => [e.prompt, e.label]) }).slice(0, 8);
    const r = await trainReward({
      params: trial,
      examples: train,
      test,
      tokenizerDir: join(baseDir, 'tokenizer'),
      outDir: join(values.work, `reward-l${lambda}-s${seed}-${key}`),
    });
    const last = r.epochs[r.epochs.length - 1];
    const t = last.test!.all;
    runs.push({ test: t, validation: last.validation?.all });
    console.log(
      `lambda ${lambda} seed ${seed}: accuracy ${pct(t.accuracy)}, AUC ${t.auc?.toFixed(3)}, mean score ${t.meanScore.toFixed(3)}`,
    );
  }
  const t = runs.map((r) => r.test);
  rows.push(
    row([
      `${lambda}`,
      pct(mean(t.map((s) => s.accuracy))),
      mean(t.map((s) => s.auc ?? NaN)).toFixed(3),
      mean(t.map((s) => s.meanScore)).toFixed(3),
      mean(runs.map((r) => r.validation?.meanScore ?? NaN)).toFixed(3),
      pct(1 - t[0].goodShare),
    ]),
  );
}
console.log(`\nUnseen prompts' labels, mean of seeds ${values.seeds}:`);
console.log(row(['lambda', 'accuracy', 'AUC', 'mean score', '(seen, val.)', "'all bad' acc."]));
for (const r of rows) console.log(r);
