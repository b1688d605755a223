// The reward backbone's pretraining data, and a reward stage that starts from a pretrained reward
// model (backbone.init) and trains its head only (backbone.freeze).
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { judge, parsePrompt } from '../../src/domains/shapes/index';
import { renderedPairs, type PretrainNegatives } from '../../src/reward/pretrain';
import { rewardWeights, trainReward } from '../../src/reward/train';

const TOKENIZER = 'models/tiny-random/tokenizer';
let root: string;
let initDir: string;

const weights = (dir: string) => rewardWeights(join(dir, 'reward.onnx'));

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'reward-pretrain-'));
  initDir = join(root, 'init');
  await trainReward({
    params: { epochs: 1, lambda: 1 },
    examples: renderedPairs(64, 'test'),
    tokenizerDir: TOKENIZER,
    outDir: initDir,
  });
});
after(() => rmSync(root, { recursive: true, force: true }));

test('rendered pairs: every other pair is a mismatch one attribute away, and the draw is seeded', () => {
  const pairs = renderedPairs(40, 3);
  assert.equal(pairs.length, 40);
  assert.deepEqual(
    pairs.map((p) => p.label),
    Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 1 : 0)),
  );
  for (const p of pairs) {
    const parsed = parsePrompt(p.prompt);
    assert.ok(parsed, `"${p.prompt}" is a shapes prompt`);
    assert.equal(
      judge(p.image, parsed).aligned,
      p.label === 1,
      `the judge agrees with the label of "${p.prompt}"`,
    );
  }
  const again = renderedPairs(40, 3);
  assert.deepEqual(
    again.map((p) => p.prompt),
    pairs.map((p) => p.prompt),
  );
  assert.deepEqual(again[7].image.data, pairs[7].image.data);
  assert.notDeepEqual(
    renderedPairs(40, 4).map((p) => p.prompt),
    pairs.map((p) => p.prompt),
  );
  assert.throws(() => renderedPairs(1, 0), {
    message: 'Reward pretraining needs at least 2 pairs (one good, one bad), got 1.',
  });
});

test("rendered pairs with random negatives: a mismatch's prompt is another prompt of the domain, often wrong in several attributes", () => {
  // How many of the attributes a mismatch's prompt states does its image get wrong: one for a
  // perturbation, often more for a random draw.
  const wrongAttributes = (negatives: PretrainNegatives) => {
    const pairs = renderedPairs(200, 5, negatives);
    let several = 0;
    for (const p of pairs) {
      const parsed = parsePrompt(p.prompt);
      assert.ok(parsed, `"${p.prompt}" is a shapes prompt`);
      const j = judge(p.image, parsed);
      assert.equal(j.aligned, p.label === 1, `the judge agrees on "${p.prompt}"`);
      const wrong = [j.background, j.count, j.color, j.shape].filter((v) => v === false).length;
      if (wrong > 1) several++;
    }
    return several;
  };
  const random = wrongAttributes('random');
  const perturbed = wrongAttributes('perturbed');
  assert.ok(random > 40, `${random} of 100 random negatives get several attributes wrong`);
  assert.ok(perturbed < random / 2, `against ${perturbed} of 100 perturbations`);
});

test('backbone.freeze trains the head only, from the init model: the encoders keep its weights', async () => {
  const outDir = join(root, 'frozen');
  await trainReward({
    params: { epochs: 1, backbone: { type: 'tiny', init: initDir, freeze: true } },
    examples: renderedPairs(32, 'frozen'),
    tokenizerDir: TOKENIZER,
    outDir,
  });
  const before = weights(initDir);
  const after = weights(outDir);
  assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
  let heads = 0;
  for (const [name, w] of after) {
    if (name.startsWith('head.')) {
      if (name.endsWith('weight')) {
        heads++;
        assert.notDeepEqual(w, before.get(name), `${name} trained`);
      }
    } else assert.deepEqual(w, before.get(name), `${name} frozen`);
  }
  assert.ok(heads >= 4);
});

test('backbone.init without freeze starts every weight from the init model and trains them all', async () => {
  const outDir = join(root, 'tuned');
  await trainReward({
    params: { epochs: 1, backbone: { type: 'tiny', init: initDir } },
    examples: renderedPairs(32, 'tuned'),
    tokenizerDir: TOKENIZER,
    outDir,
  });
  const fresh = join(root, 'fresh');
  await trainReward({
    params: { epochs: 1 },
    examples: renderedPairs(32, 'tuned'),
    tokenizerDir: TOKENIZER,
    outDir: fresh,
  });
  const init = weights(initDir).get('text.token')!;
  const tuned = weights(outDir).get('text.token')!;
  const scratch = weights(fresh).get('text.token')!;
  const dist = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0);
  assert.notDeepEqual(tuned, init, 'the encoders train');
  assert.ok(dist(tuned, init) < dist(scratch, init), 'and start from the init weights');
});

test('a bad backbone.init or freeze is refused with one sentence', async () => {
  const run = (backbone: object) =>
    trainReward({
      params: { epochs: 1, backbone },
      examples: renderedPairs(8, 'bad'),
      tokenizerDir: TOKENIZER,
      outDir: join(root, 'bad'),
    });
  await assert.rejects(run({ freeze: true }), {
    message:
      "backbone.freeze keeps the encoders at their 'init' weights, but no 'init' reward model folder is given.",
  });
  await assert.rejects(run({ init: root, freeze: true }), {
    message: `backbone.init '${root}' has no reward.onnx; give the output folder of a reward stage or of scripts/pretrain-reward.ts.`,
  });
  const other = join(root, 'other');
  await trainReward({
    params: { epochs: 1, hidden: 8 },
    examples: renderedPairs(8, 'other'),
    tokenizerDir: TOKENIZER,
    outDir: other,
  });
  await assert.rejects(run({ init: other }), (err: Error) => {
    assert.match(
      err.message,
      /^backbone\.init '.*other' holds the reward network \{.*hidden:8\}, but this stage builds \{.*hidden:64\}; pretrain it with the same tokenizer, image size and hidden width\.$/,
    );
    return true;
  });
  const otherTokens = join(root, 'other-tokens');
  cpSync(initDir, otherTokens, { recursive: true });
  const vocabFile = join(otherTokens, 'tokenizer', 'vocab.json');
  const vocab = JSON.parse(readFileSync(vocabFile, 'utf8')) as Record<string, number>;
  const [a, b] = Object.keys(vocab);
  [vocab[a], vocab[b]] = [vocab[b], vocab[a]];
  writeFileSync(vocabFile, JSON.stringify(vocab));
  await assert.rejects(run({ init: otherTokens }), {
    message: `backbone.init '${otherTokens}' was trained with another tokenizer than the model whose images this stage scores; pretrain it with that model's tokenizer.`,
  });
});
