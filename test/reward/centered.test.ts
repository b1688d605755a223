// The centred reward head: r(x, z) = s(x, z) − mean_{x' ∈ R} s(x', z) + c0 over a fixed set R of
// reference images held in the graph, so no function of the prompt alone reaches the score.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Image } from '../../src/domains/shapes/types';
import {
  buildRewardScorer,
  CENTER_BIAS,
  referenceRows,
  type CenteredHead,
  type RewardNetConfig,
} from '../../src/reward/network';
import { buildRewardTrainingGraph } from '../../src/reward/objective';
import { renderedPairs } from '../../src/reward/pretrain';
import { RewardModel } from '../../src/reward/score';
import { rewardWeights, trainReward } from '../../src/reward/train';
import { loadModel, type TensorValue, tensorValue } from '../../src/train/ir';
import { createSession, runSession } from '../../src/train/session';
import { createRng } from '../../src/util/rng';

const TINY: RewardNetConfig = { imageSize: 8, textLength: 4, vocabSize: 10, padId: 0, hidden: 6 };
const FEATURES: RewardNetConfig = { kind: 'features', imageFeatures: 5, textFeatures: 7, hidden: 6 };
const TOKENIZER = 'models/tiny-random/tokenizer';
const R = 5;
const C0 = 0.3;

const f32 = (dims: number[], data: ArrayLike<number>): TensorValue => ({
  dtype: 'float32',
  dims,
  data: Float32Array.from(data),
});
const close = (a: number, b: number, tol = 1e-5) => assert.ok(Math.abs(a - b) < tol, `${a} vs ${b}`);

/** Per-row shape of the image input, and n random rows of it (or of text features). */
const imageRow = (config: RewardNetConfig) =>
  config.kind === 'features' ? [config.imageFeatures] : [3, config.imageSize, config.imageSize];
function uniform(n: number, label: string): Float32Array {
  const rng = createRng(label);
  return Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
}

function head(config: RewardNetConfig): CenteredHead {
  const row = imageRow(config).reduce((a, d) => a * d, 1);
  return { type: 'centered', reference: uniform(R * row, 'reference'), bias: C0 };
}

/** The network's feeds for images (rows of `images`) against text rows. */
function feeds(
  config: RewardNetConfig,
  images: Float32Array,
  textRows: number[][],
): Record<string, TensorValue> {
  const row = imageRow(config);
  const nImages = images.length / row.reduce((a, d) => a * d, 1);
  const n = textRows.length;
  return config.kind === 'features'
    ? {
        image_features: f32([nImages, ...row], images),
        text_features: f32([n, config.textFeatures], textRows.flat()),
      }
    : {
        image: f32([nImages, ...row], images),
        input_ids: { dtype: 'int32', dims: [n, 4], data: Int32Array.from(textRows.flat()) },
      };
}

/** Text rows: token ids for the tiny backbone, random features for the 'features' kind. */
function prompts(config: RewardNetConfig, n: number): number[][] {
  if (config.kind === 'features')
    return Array.from({ length: n }, (_, i) => [...uniform(config.textFeatures, `text:${i}`)]);
  const rng = createRng('prompts');
  return Array.from({ length: n }, () => [1 + rng.int(9), 1 + rng.int(9), 1 + rng.int(9), 0]);
}

/** Weights for every initializer of the centred network, off its initialisation (c0 = C0). */
async function randomWeights(config: RewardNetConfig, h: CenteredHead) {
  const { forward } = await buildRewardTrainingGraph(config, { batch: 2, perturbations: 1 }, 3, { head: h });
  const rng = createRng('weights');
  const weights = new Map<string, Float32Array>();
  for (const t of forward.graph!.initializer!) {
    const v = tensorValue(t);
    weights.set(
      t.name!,
      // The seed's initialisation (a realistic scale) moved off it, biases included.
      t.name === CENTER_BIAS
        ? Float32Array.of(C0)
        : Float32Array.from(v.data as Float32Array, (x) => x + 0.1 * rng.normal()),
    );
  }
  return weights;
}

async function scorer(config: RewardNetConfig, h: CenteredHead, weights: Map<string, Float32Array>) {
  const session = await createSession(buildRewardScorer(config, 3, weights, h).build());
  return async (images: Float32Array, textRows: number[][]) =>
    (await runSession(session, feeds(config, images, textRows))).score.data as Float32Array;
}

for (const config of [TINY, FEATURES]) {
  const kind = config.kind ?? 'tiny';

  test(`centred head (${kind}): the mean score of the reference images is c0 for every prompt`, async () => {
    const h = head(config);
    const weights = await randomWeights(config, h);
    const score = await scorer(config, h, weights);
    const texts = prompts(config, 4);
    let spread = 0;
    for (const t of texts) {
      const s = await score(
        h.reference,
        Array.from({ length: R }, () => t),
      );
      const mean = s.reduce((a, v) => a + v, 0) / R;
      close(mean, C0);
      spread = Math.max(spread, Math.max(...s) - Math.min(...s));
    }
    assert.ok(spread > 1e-3, 'the reference images score differently from each other');
  });

  test(`centred head (${kind}): no text-only term reaches the score`, async () => {
    const h = head(config);
    const weights = await randomWeights(config, h);
    const images = uniform(3 * imageRow(config).reduce((a, d) => a * d, 1), 'images');
    const texts = prompts(config, 3);
    const base = await (await scorer(config, h, weights))(images, texts);
    // A shift of s shared by every pair (the output bias) changes no score.
    const shifted = new Map(weights).set('head.out.bias', Float32Array.of(5));
    const moved = await (await scorer(config, h, shifted))(images, texts);
    base.forEach((v, i) => close(moved[i], v));
    // With the image paths cut, s(x, z) is a function of the prompt alone: every score is c0.
    const textOnly = new Map(weights);
    for (const name of ['head.image.weight', 'head.image_gate.weight'])
      textOnly.set(name, new Float32Array(weights.get(name)!.length));
    const flat = await (await scorer(config, h, textOnly))(images, texts);
    assert.notDeepEqual(base, flat);
    for (const v of flat) close(v, C0);
  });

  test(`centred head (${kind}): the training objective's scores are the scoring graph's`, async () => {
    const h = head(config);
    const B = 3;
    const K = 2;
    const C = K + 1;
    const { forward, training } = await buildRewardTrainingGraph(config, { batch: B, perturbations: K }, 3, {
      head: h,
    });
    const weights = await randomWeights(config, h);
    const session = await createSession(training);
    const row = imageRow(config).reduce((a, d) => a * d, 1);
    const images = uniform(B * row, 'batch');
    const texts = prompts(config, B * C);
    const params: Record<string, TensorValue> = {};
    for (const t of forward.graph!.initializer!)
      params[t.name!] = f32(tensorValue(t).dims, weights.get(t.name!)!);
    const out = await runSession(session, {
      ...feeds(config, images, texts),
      label: f32([B], [1, 0, 1]),
      candidate_mask: f32([B, C], new Float32Array(B * C)),
      aux_weight: f32([B], [0.5, 0, 0.5]),
      lambda: f32([], [0.5]),
      inv_temperature: f32([], [1]),
      ...params,
    });
    const trained = out.scores.data as Float32Array;
    assert.ok(new Set(trained).size === B * C, 'every pair scores differently');
    assert.ok(out[`grad.${CENTER_BIAS}`], 'c0 trains');
    const score = await scorer(config, h, weights);
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        const s = await score(images.subarray(b * row, (b + 1) * row), [texts[b * C + c]]);
        close(s[0], trained[b * C + c]);
      }
    }
  });
}

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'reward-centered-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

test('a centred reward stage on a frozen mlp init: reward.json names the head, RewardModel scores the references at c0', async () => {
  const initDir = join(root, 'init');
  await trainReward({
    params: { epochs: 1 },
    examples: renderedPairs(32, 'init'),
    tokenizerDir: TOKENIZER,
    outDir: initDir,
  });
  const outDir = join(root, 'centered');
  const examples = renderedPairs(32, 'centered');
  await trainReward({
    params: {
      epochs: 1,
      head: 'centered',
      reference_images: 8,
      backbone: { type: 'tiny', init: initDir, freeze: true },
    },
    examples,
    tokenizerDir: TOKENIZER,
    outDir,
  });
  const meta = JSON.parse(readFileSync(join(outDir, 'reward.json'), 'utf8'));
  assert.equal(meta.head.type, 'centered');
  assert.equal(meta.head.reference_images, 8);
  assert.equal(meta.head.reference.length, 8);
  for (const r of meta.head.reference)
    assert.ok(
      examples.some((e) => e.prompt === r.prompt && e.label === r.label),
      `${r.prompt} is a label`,
    );

  // The encoders keep the init's weights; the head trains, c0 with it.
  const init = rewardWeights(join(initDir, 'reward.onnx'));
  const trained = rewardWeights(join(outDir, 'reward.onnx'));
  assert.deepEqual([...trained.keys()].sort(), [...init.keys(), CENTER_BIAS].sort());
  for (const [name, w] of init) if (!name.startsWith('head.')) assert.deepEqual(trained.get(name), w, name);
  const c0 = trained.get(CENTER_BIAS)![0];
  const labelMean = examples.reduce((a, e) => a + e.label, 0) / examples.length;
  assert.notEqual(c0, labelMean, 'c0 trained');
  close(c0, labelMean, 0.05);

  // The references are stored in reward.onnx; scored by the model folder, their mean is c0.
  const rows = referenceRows(loadModel(join(outDir, 'reward.onnx')))!;
  assert.deepEqual(rows.dims, [8, 3, 32, 32]);
  const plane = 3 * 32 * 32;
  const images: Image[] = Array.from({ length: 8 }, (_, i) => ({
    width: 32,
    height: 32,
    data: (rows.data as Float32Array).slice(i * plane, (i + 1) * plane),
  }));
  const model = await RewardModel.open(outDir);
  try {
    for (const prompt of ['two red circles on a blue background', examples[3].prompt]) {
      const s = await model.score(
        images,
        images.map(() => prompt),
      );
      close(s.reduce((a, v) => a + v, 0) / s.length, c0);
    }
    // A score does not depend on what else is scored with it.
    const alone = await model.score([examples[0].image], [examples[0].prompt]);
    const together = await model.score(
      examples.slice(0, 5).map((e) => e.image),
      examples.slice(0, 5).map((e) => e.prompt),
    );
    close(alone[0], together[0]);
  } finally {
    await model.close();
  }
});
