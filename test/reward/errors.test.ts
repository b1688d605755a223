import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { makePrompt, renderPrompt } from '../../src/domains/shapes/index';
import { holdOutSplit, type RewardExample } from '../../src/reward/data';
import { RewardModel } from '../../src/reward/score';
import { trainReward } from '../../src/reward/train';
import { GraphBuilder } from '../../src/train/builder';

const TOKENIZER = 'models/tiny-random/tokenizer';
const prompt = makePrompt({ shape: 'square', count: 1, color: 'blue' })!;
const example = (label: number, text = prompt.text): RewardExample => ({
  image: renderPrompt(prompt, { seed: label }),
  prompt: text,
  label,
});

test('bad reward inputs are refused with one sentence', async () => {
  const outDir = mkdtempSync(join(tmpdir(), 'reward-errors-'));
  try {
    const run = (examples: RewardExample[]) =>
      trainReward({ params: { epochs: 1 }, examples, tokenizerDir: TOKENIZER, outDir });
    await assert.rejects(run([]), {
      message: 'The reward stage got no labelled images; label some images first.',
    });
    await assert.rejects(run([example(1), example(1)]), {
      message: 'All 2 labels are good; a reward model needs both good and bad examples.',
    });
    await assert.rejects(run([example(1), example(0, '  ')]), {
      message: 'Labelled example 1 has an empty prompt; every image needs its prompt.',
    });
    await assert.rejects(run([example(1), example(2)]), {
      message: 'Labelled example 1 has label 2; labels must be 0 (bad) or 1 (good).',
    });
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
});

test('a reward model whose input names do not match is refused with what it has and what is needed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'reward-io-'));
  try {
    const b = new GraphBuilder();
    const x = b.input('pixels', 'float32', [1, 3, 32, 32]);
    b.output(b.identity(b.reduceMean(x, [1, 2, 3], false), 'score'), 'float32', [1]);
    mkdirSync(dir, { recursive: true });
    b.save(join(dir, 'reward.onnx'));
    await assert.rejects(RewardModel.open(dir), (err: Error) => {
      assert.match(
        err.message,
        /takes \(pixels\) and gives \(score\); a reward model takes \(image, input_ids\)/,
      );
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a held-out split holds its pairs out of training, and one with no labelled pair is refused', () => {
  const pairs = [
    { split: 'seen', n: 1 },
    { split: 'unseen', n: 2 },
    { split: 'seen', n: 3 },
  ];
  assert.deepEqual(holdOutSplit(pairs, undefined), { train: pairs, test: [] });
  const { train, test: held } = holdOutSplit(pairs, 'unseen');
  assert.deepEqual(
    train.map((p) => p.n),
    [1, 3],
  );
  assert.deepEqual(
    held.map((p) => p.n),
    [2],
  );
  assert.throws(() => holdOutSplit([{ split: 'seen' }], 'unseen'), {
    name: 'RewardInputError',
    message:
      "test_split is 'unseen' but no labelled image has a prompt in that split; label prompts of both splits (prompts stage split: all).",
  });
});
