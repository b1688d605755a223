// Which prompts the evaluate stage judges: given prompts in their own split (the paper's seen
// prompts are the ones a model was tuned on), a fixed draw for a split none of them is in.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { evaluate } from '../../src/evaluate/evaluate';

const params = { per_category: 1, seeds: [0, 1], categories: ['color' as const], sampler: { steps: 2 } };

test('given seen prompts are evaluated as the seen split; unseen, which none of them is in, is drawn', async () => {
  const outDir = mkdtempSync(join(tmpdir(), 'evaluate-prompts-'));
  try {
    const given = ['a yellow circle', 'a blue square', 'a green triangle'];
    const progress: number[] = [];
    const { metrics, metricsPath } = await evaluate({
      params,
      models: { base: 'models/tiny' },
      prompts: given.map((text) => ({ text })),
      outDir,
      onProgress: ({ done, total }) => {
        assert.equal(total, 8);
        progress.push(done);
      },
    });
    // Three given prompts x two seeds; the unseen split: one drawn colour prompt x two seeds.
    assert.equal(metrics.base.seen.images, 6);
    assert.equal(metrics.base.unseen.images, 2);
    // Progress (the stage's heartbeat) comes after each of the two denoising steps, not only once
    // a split's images are all drawn: halfway through the seen split it has reported 3 of 8.
    assert.ok(progress.includes(3), progress.join());
    assert.equal(progress.at(-1), 8);
    assert.deepEqual(
      progress,
      [...progress].sort((a, b) => a - b),
      'never goes back',
    );
    assert.ok(readFileSync(metricsPath, 'utf8').includes('"seen"'));
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
});

test('a free-text prompt without a reward model to measure it is refused in one sentence', async () => {
  await assert.rejects(
    evaluate({
      params,
      models: { base: 'models/tiny' },
      prompts: [{ text: 'a photo of a cat' }],
      outDir: tmpdir(),
    }),
    {
      name: 'EvaluateInputError',
      message:
        'The evaluate stage measures free-text prompts such as "a photo of a cat" with a reward model (the shapes judge reads only shapes prompts); add reward: <reward stage>.',
    },
  );
});
