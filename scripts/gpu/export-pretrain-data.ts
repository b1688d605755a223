// Writes the pretrain stage's data (renderedData in src/finetune/pretrain.ts) as flat binary
// files, for scripts/gpu/pretrain_jax.py on the lent GPU machine:
//   prompts.json  the prompt texts; index 0 is the empty prompt (classifier-free guidance)
//   context.f32   the frozen text encoder's hidden states, [prompts, length, width] float32
//   images.u8     N rendered images, [N, 3, 32, 32] uint8 ((x + 1) * 127.5, rounded)
//   labels.u16    the caption (prompt index) of each image, [N] uint16
//   meta.json     shapes, the data seed and the share of loose captions
//
//   node --import tsx scripts/gpu/export-pretrain-data.ts MODEL_DIR OUT_DIR N [SEED] [MISDESCRIBE]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { allPrompts } from '../../src/domains/shapes/index';
import { PROMPT_CATEGORIES } from '../../src/domains/shapes/types';
import { TextConditioner } from '../../src/finetune/data';
import { renderedData } from '../../src/finetune/pretrain';
import { loadModelFolder } from '../../src/model/loader';

const [modelDir, outDir, nArg, seedArg, misArg] = process.argv.slice(2);
const n = Number(nArg);
const seed = seedArg ?? 'gpu0';
const misdescribe = Number(misArg ?? 0);
if (!modelDir || !outDir || !Number.isInteger(n) || n < 1 || !(misdescribe >= 0 && misdescribe <= 1)) {
  console.error(
    'usage: node --import tsx scripts/gpu/export-pretrain-data.ts MODEL_DIR OUT_DIR N [SEED] [MISDESCRIBE 0..1]',
  );
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const texts = ['', ...PROMPT_CATEGORIES.flatMap((c) => allPrompts(c)).map((p) => p.text)];
const index = new Map(texts.map((t, i) => [t, i]));
const conditioner = await TextConditioner.open(loadModelFolder(modelDir));
await conditioner.prepare(texts);
const per = conditioner.length * conditioner.width;
const context = new Float32Array(texts.length * per);
texts.forEach((t, i) => context.set(conditioner.get(t), i * per));
await conditioner.close();

const data = renderedData([...PROMPT_CATEGORIES], n, seed, misdescribe);
const size = 3 * 32 * 32;
const images = new Uint8Array(n * size);
const labels = new Uint16Array(n);
data.forEach((s, i) => {
  for (let j = 0; j < size; j++) images[i * size + j] = Math.round((s.image.data[j] + 1) * 127.5);
  labels[i] = index.get(s.prompt)!;
});
writeFileSync(join(outDir, 'prompts.json'), JSON.stringify(texts));
writeFileSync(join(outDir, 'context.f32'), Buffer.from(context.buffer));
writeFileSync(join(outDir, 'images.u8'), Buffer.from(images.buffer));
writeFileSync(join(outDir, 'labels.u16'), Buffer.from(labels.buffer));
const meta = {
  n,
  prompts: texts.length,
  length: conditioner.length,
  width: conditioner.width,
  seed,
  misdescribe,
};
writeFileSync(join(outDir, 'meta.json'), JSON.stringify(meta));
console.log(`wrote ${n} images (${texts.length - 1} prompts) to ${outDir}`);
