// The reward stage's CLIP backbone on a small CLIP-layout export built here (vision_model.onnx and
// text_model.onnx with CLIP's input and output names, the tiny model's tokenizer, a
// preprocessor_config.json): features, the training of the head on them, and the reward folder.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makePrompt, renderPrompt } from '../../src/domains/shapes/index';
import type { Image } from '../../src/domains/shapes/types';
import { ClipEncoder, vocabularySize } from '../../src/reward/encoders';
import type { RewardExample } from '../../src/reward/data';
import { separation } from '../../src/reward/metrics';
import { RewardModel } from '../../src/reward/score';
import { trainReward } from '../../src/reward/train';
import { GraphBuilder } from '../../src/train/builder';
import { createSession, runSession } from '../../src/train/session';
import { createRng } from '../../src/util/rng';

const TOKENIZER = 'models/tiny-random/tokenizer';
const SIZE = 16;
const WIDTH = 6;
const MEAN = [0.5, 0.4, 0.3];
const STD = [0.25, 0.2, 0.3];
let root: string;
let clipDir: string;
let visionW: Float32Array;
let tokenE: Float32Array;

/** vision: mean colour of pixel_values -> linear -> image_embeds; text: masked mean of token embeddings. */
function writeClipExport(dir: string): void {
  const rng = createRng('clip-test');
  const rand = (n: number) => Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  visionW = rand(3 * WIDTH);
  const v = new GraphBuilder({ opset: 17 });
  const px = v.input('pixel_values', 'float32', ['batch', 3, SIZE, SIZE]);
  const mean = v.reduceMean(px, [2, 3], false);
  const embeds = v.node(
    'MatMul',
    [mean, v.initializer('visual_projection', visionW, [3, WIDTH])],
    {},
    {
      outputs: 'image_embeds',
    },
  );
  v.output(embeds, 'float32', ['batch', WIDTH]);
  v.save(join(dir, 'onnx', 'vision_model.onnx'));

  const vocab = vocabularySize(TOKENIZER);
  tokenE = rand(vocab * WIDTH);
  const t = new GraphBuilder({ opset: 17 });
  const ids = t.input('input_ids', 'int64', ['batch', 'sequence']);
  const maskIn = t.input('attention_mask', 'int64', ['batch', 'sequence']);
  const tokens = t.gather(t.initializer('token_embedding', tokenE, [vocab, WIDTH]), ids);
  const mask = t.unsqueeze(t.cast(maskIn, 'float32'), [2]);
  const pooled = t.div(t.reduceSum(t.mul(tokens, mask), [1], false), t.reduceSum(mask, [1], false));
  t.output(t.identity(pooled, 'text_embeds'), 'float32', ['batch', WIDTH]);
  t.save(join(dir, 'onnx', 'text_model.onnx'));

  cpSync(TOKENIZER, dir, { recursive: true });
  writeFileSync(
    join(dir, 'preprocessor_config.json'),
    JSON.stringify({ crop_size: { height: SIZE, width: SIZE }, image_mean: MEAN, image_std: STD }),
  );
}

before(() => {
  root = mkdtempSync(join(tmpdir(), 'reward-clip-'));
  clipDir = join(root, 'clip');
  writeClipExport(clipDir);
});
after(() => rmSync(root, { recursive: true, force: true }));

const unit = (v: number[]) => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};
const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < tol, `[${i}] ${a[i]} vs ${b[i]}`);
};

test('CLIP features: normalised pixels through the vision tower, masked tokens through the text tower, unit length', async () => {
  const encoder = await ClipEncoder.open(clipDir);
  try {
    assert.deepEqual([encoder.imageFeatures, encoder.textFeatures], [WIDTH, WIDTH]);
    // A 32x32 image of one colour per channel: resizing keeps it, so the tower sees the normalised
    // colour everywhere and image_embeds = colour . W. CLIPImageProcessor works on uint8 pixels
    // (what a PNG of the image holds), so the colour is its byte over 255.
    const rgb = [0.8, -0.2, -1];
    const image: Image = { width: 32, height: 32, data: new Float32Array(3 * 32 * 32) };
    for (let c = 0; c < 3; c++) image.data.fill(rgb[c], c * 1024, (c + 1) * 1024);
    const colour = rgb.map((x, c) => (Math.round((Math.fround(x) + 1) * 127.5) / 255 - MEAN[c]) / STD[c]);
    const want = unit(
      Array.from({ length: WIDTH }, (_, j) => colour.reduce((s, x, c) => s + x * visionW[c * WIDTH + j], 0)),
    );
    close((await encoder.encodeImages([image]))[0], want);

    // Text: the mean embedding of the start token, the words and the first end token (padding out).
    const ids = encoder.tokenizer.encode('a red circle');
    const eos = encoder.tokenizer.encode('')[1];
    const real = ids.slice(0, ids.indexOf(eos, 1) + 1);
    assert.equal(real.length, 5, 'start, three words, end');
    const sum = Array.from({ length: WIDTH }, (_, j) =>
      real.reduce((s, id) => s + tokenE[id * WIDTH + j], 0),
    );
    const [red, again, blue] = await encoder.encodeTexts(['a red circle', 'a red circle', 'a blue circle']);
    close(red, unit(sum));
    assert.equal(red, again, 'a repeated prompt comes from the cache');
    assert.ok(Math.max(...red.map((x, j) => Math.abs(x - blue[j]))) > 1e-3);
  } finally {
    await encoder.close();
  }
});

test('reward stage with a CLIP backbone: only the head trains, the folder scores through the export, labels separate', async () => {
  // One flat colour per image (the test is of the plumbing, and this tower sees mean colours):
  // each prompt's own colour is good, the next colour is bad.
  const colours = { red: [1, -1, -1], blue: [-1, -1, 1], green: [-1, 1, -1], yellow: [1, 1, -1] };
  const names = Object.keys(colours) as (keyof typeof colours)[];
  const flat = (rgb: number[], jitter: number): Image => {
    const data = new Float32Array(3 * 32 * 32);
    for (let c = 0; c < 3; c++) data.fill(rgb[c] * (1 - jitter), c * 1024, (c + 1) * 1024);
    return { width: 32, height: 32, data };
  };
  const examples: RewardExample[] = [];
  names.forEach((color, i) => {
    const prompt = makePrompt({ shape: 'circle', count: 1, color })!;
    for (let s = 0; s < 4; s++) {
      examples.push({ image: flat(colours[color], s * 0.05), prompt: prompt.text, label: 1 });
      examples.push({ image: flat(colours[names[(i + 1) % 4]], s * 0.05), prompt: prompt.text, label: 0 });
    }
  });
  const outDir = join(root, 'reward');
  const result = await trainReward({
    params: { backbone: { type: 'clip', path: clipDir }, epochs: 40, learning_rate: 0.01, batch_size: 8 },
    examples,
    tokenizerDir: '/nonexistent-not-needed-for-clip',
    outDir,
  });
  assert.equal(result.epochs.length, 40);
  const meta = JSON.parse(readFileSync(join(outDir, 'reward.json'), 'utf8'));
  assert.deepEqual(meta.backbone, { type: 'clip', path: clipDir });
  assert.deepEqual(meta.config, { kind: 'features', imageFeatures: WIDTH, textFeatures: WIDTH, hidden: 64 });
  // The scorer holds the head alone: its weights are head.*, the towers stay in the export.
  const head = await createSession(join(outDir, 'reward.onnx'));
  assert.deepEqual([...head.inputNames].sort(), ['image_features', 'text_features']);
  await head.release();

  const model = await RewardModel.open(outDir);
  try {
    const scores = await model.score(
      examples.map((e) => e.image),
      examples.map((e) => e.prompt),
    );
    const s = separation(
      scores,
      examples.map((e) => e.label),
    );
    assert.ok((s.auc ?? 0) > 0.9, `training-set AUC ${s.auc}`);
    // The same scores as the head on the encoder's features.
    const feeds = await model.encoder.feeds([examples[0].image], [examples[0].prompt]);
    const session = await createSession(join(outDir, 'reward.onnx'));
    const direct = (await runSession(session, feeds)).score.data as Float32Array;
    await session.release();
    close(direct, [scores[0]]);
  } finally {
    await model.close();
  }
});

test('a CLIP folder without the towers, or a clip backbone without a path, is one sentence', async () => {
  const example = (label: number): RewardExample => {
    const prompt = makePrompt({ shape: 'square', count: 1, color: 'blue' })!;
    return { image: renderPrompt(prompt, { seed: label }), prompt: prompt.text, label };
  };
  const run = (backbone: { type: 'clip'; path?: string }) =>
    trainReward({
      params: { backbone, epochs: 1 },
      examples: [example(0), example(1)],
      tokenizerDir: TOKENIZER,
      outDir: join(root, 'refused'),
    });
  const empty = join(root, 'empty');
  mkdirSync(empty, { recursive: true });
  await assert.rejects(run({ type: 'clip', path: empty }), {
    name: 'RewardInputError',
    message: `${empty} has no vision_model.onnx (looked in the folder and in onnx/); the CLIP backbone needs the vision and text towers with projections as separate ONNX files, as in transformers.js' CLIP exports.`,
  });
  await assert.rejects(run({ type: 'clip' }), {
    message: "backbone type 'clip' needs a 'path' to a CLIP ONNX export folder.",
  });
});
