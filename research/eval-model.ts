/**
 * Judges a shapes model the way the evaluate stage does and prints one table row per split —
 * for model cards and for watching a pretraining run. With --checkpoint, the UNet's weights are
 * first replaced by a training checkpoint's (its weight average when it has one).
 *
 *   node --import tsx research/eval-model.ts MODEL_DIR [--checkpoint DIR] [--out DIR]
 *        [--steps 30] [--guidance 1.5] [--per-category 8] [--seeds 0,1]
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { evaluate } from '../src/evaluate/evaluate';
import { loadCheckpoint } from '../src/train/checkpoint';
import { loadModel, makeTensor, saveModel } from '../src/train/ir';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    checkpoint: { type: 'string' },
    out: { type: 'string' },
    steps: { type: 'string', default: '30' },
    guidance: { type: 'string', default: '1.5' },
    'per-category': { type: 'string', default: '8' },
    seeds: { type: 'string', default: '0,1' },
  },
});
if (positionals.length !== 1) {
  console.error(
    'usage: node --import tsx research/eval-model.ts MODEL_DIR [--checkpoint DIR] [--out DIR] [--steps N] [--guidance G] [--per-category N] [--seeds 0,1]',
  );
  process.exit(2);
}
const work = mkdtempSync(join(tmpdir(), 'alignrun-eval-'));
let modelDir = positionals[0];
if (values.checkpoint) {
  const ckpt = loadCheckpoint(values.checkpoint);
  const weights = ckpt.ema ?? ckpt.params;
  const unetPath = join(modelDir, 'unet', 'model.onnx');
  const unet = loadModel(unetPath);
  const initializer = (unet.graph?.initializer ?? []).map((t) => {
    const w = weights[t.name ?? ''];
    return w ? makeTensor(t.name ?? '', w, (t.dims ?? []).map(Number)) : t;
  });
  const copy = join(work, 'model');
  cpSync(modelDir, copy, { recursive: true, filter: (src) => !src.endsWith('checkpoint') });
  saveModel({ ...unet, graph: { ...unet.graph, initializer } }, join(copy, 'unet', 'model.onnx'));
  console.log(`checkpoint step ${ckpt.step} (${ckpt.ema ? 'weight average' : 'raw weights'})`);
  modelDir = copy;
}
const result = await evaluate({
  params: {
    splits: ['seen', 'unseen'],
    per_category: Number(values['per-category']),
    seeds: values.seeds.split(',').map(Number),
    sampler: { scheduler: 'ddim', steps: Number(values.steps), guidance_scale: Number(values.guidance) },
  },
  models: { m: modelDir },
  outDir: values.out ?? join(work, 'eval'),
});
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
for (const [split, m] of Object.entries(result.metrics.m)) {
  const cats = Object.entries(m.alignmentByCategory)
    .map(([c, v]) => `${c} ${pct(v)}`)
    .join(', ');
  console.log(
    `${split}: aligned ${pct(m.alignment ?? NaN)} (${cats}), well-formed ${pct(m.wellFormed ?? NaN)}, Fréchet ${(m.frechet ?? NaN).toFixed(3)}, ${m.images} images`,
  );
}
if (values.out) console.log(`contact sheets: ${result.sheets.join(', ')}`);
rmSync(work, { recursive: true, force: true });
