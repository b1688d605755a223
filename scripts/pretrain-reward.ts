/**
 * Pretrains the reward model's tiny backbone on rendered image-prompt pairs (src/reward/pretrain.ts)
 * and writes a reward model folder that a reward stage starts from with
 * `backbone: { init: FOLDER, freeze: true }` (the paper's frozen CLIP under a trained head).
 *
 *   node --import tsx scripts/pretrain-reward.ts OUT [--size 16000] [--epochs 20] [--lambda 1]
 *       [--seed 0] [--tokenizer models/tiny/tokenizer] [--negatives perturbed|random]
 *
 * The tokenizer must be the one of the models whose images the reward stage will score (its ids
 * are the text encoder's input). A rerun into the same OUT resumes from its checkpoint; the
 * checkpoint is removed once the last epoch is written.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderedPairs } from '../src/reward/pretrain';
import { trainReward } from '../src/reward/train';
import { countFlag } from './lib/flags';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    size: { type: 'string', default: '16000' },
    epochs: { type: 'string', default: '20' },
    lambda: { type: 'string', default: '1' },
    seed: { type: 'string', default: '0' },
    tokenizer: { type: 'string', default: 'models/tiny/tokenizer' },
    negatives: { type: 'string', default: 'perturbed' },
  },
});
if (positionals.length !== 1) {
  console.error(
    'usage: node --import tsx scripts/pretrain-reward.ts OUT [--size N] [--epochs N] [--lambda L]',
  );
  process.exit(2);
}
const out = positionals[0];
const size = countFlag('size', values.size)!;
const epochs = countFlag('epochs', values.epochs)!;
const lambda = Number(values.lambda);
if (!(lambda >= 0)) {
  console.error(`--lambda takes a number of 0 or more, not '${values.lambda}'.`);
  process.exit(2);
}
if (!/^\d+$/.test(values.seed)) {
  console.error(`--seed takes a whole number, not '${values.seed}'.`);
  process.exit(2);
}
const negatives = values.negatives;
if (negatives !== 'perturbed' && negatives !== 'random') {
  console.error(`--negatives takes 'perturbed' or 'random', not '${negatives}'.`);
  process.exit(2);
}
const started = Date.now();
const result = await trainReward({
  params: { lambda, epochs, seed: Number(values.seed) },
  examples: renderedPairs(size, values.seed, negatives),
  tokenizerDir: values.tokenizer,
  outDir: out,
  onProgress: ({ epoch, loss }) => {
    const secs = ((Date.now() - started) / 1000).toFixed(0);
    console.log(`epoch ${epoch}/${epochs}: loss ${loss.toFixed(4)} (${secs} s)`);
  },
});
rmSync(join(out, 'checkpoint'), { recursive: true, force: true });
const v = result.final!;
console.log(
  `${out}: held-out rendered pairs ${v.n}, accuracy ${(100 * v.accuracy).toFixed(1)}%, AUC ${v.auc?.toFixed(3)} (${((Date.now() - started) / 1000).toFixed(0)} s)`,
);
