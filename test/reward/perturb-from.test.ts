import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePrompt } from '../../src/domains/shapes/index';
import { objectiveBatch, perturbations, type RewardExample } from '../../src/reward/data';
import type { RewardEncoder } from '../../src/reward/encoders';
import { MISSING_CANDIDATE, OBJECTIVE_INPUTS } from '../../src/reward/objective';
import { createRng } from '../../src/util/rng';
import { differences } from '../helpers/prompts';

test('with a pool, perturbations are only prompts of the pool, each one attribute away', () => {
  const pool = new Set(['a blue circle', 'a red square', 'a green circle', 'two circles', 'a red triangle']);
  for (let seed = 0; seed < 20; seed++) {
    const out = perturbations('a red circle', 3, createRng(seed), pool);
    // Of the pool, 'a blue circle', 'a red square', 'a green circle' and 'a red triangle' are one swap away.
    assert.equal(out.length, 3);
    assert.equal(new Set(out).size, 3);
    for (const t of out) {
      assert.ok(pool.has(t), `${t} is not in the pool`);
      assert.equal(differences(parsePrompt('a red circle')!, parsePrompt(t)!).length, 1, t);
    }
  }
  // Every neighbour when k allows; none when the pool holds no neighbour.
  assert.deepEqual(
    new Set(perturbations('a red circle', 10, createRng(1), pool)),
    new Set([...pool].filter((t) => t !== 'two circles')),
  );
  assert.deepEqual(perturbations('a red circle', 3, createRng(1), new Set(['four squares'])), []);
  // Free text too: only the swaps in the pool.
  assert.deepEqual(
    perturbations('a red apple on a table', 3, createRng(2), new Set(['a green apple on a table', 'a pear'])),
    ['a green apple on a table'],
  );
  // Without a pool, any swap of the vocabulary.
  assert.equal(perturbations('a red circle', 3, createRng(1)).length, 3);
});

test('objectiveBatch with a pool masks the missing candidates and leaves an example with no labelled neighbour out of the auxiliary term', async () => {
  const image = {
    width: 8,
    height: 8,
    data: new Uint8ClampedArray(8 * 8 * 3),
  } as unknown as RewardExample['image'];
  const examples: RewardExample[] = [
    { image, prompt: 'a red circle', label: 1 },
    { image, prompt: 'a blue circle', label: 1 },
    { image, prompt: 'four squares', label: 1 },
  ];
  let texts: readonly string[] = [];
  const encoder: RewardEncoder = {
    config: () => ({ kind: 'features', imageFeatures: 1, textFeatures: 1, hidden: 1 }),
    feeds: async (_images, t) => {
      texts = t;
      return {};
    },
    close: async () => {},
  };
  const pool = new Set(examples.map((e) => e.prompt));
  const options = { perturbations: 2, auxOn: 'positive' as const, lambda: 1, temperature: 1, pool };
  const feeds = await objectiveBatch(examples, [0, 1, 2], encoder, options, createRng(5));
  // C = 3 candidates per example: 'a red circle' and 'a blue circle' each have the other as their
  // only labelled neighbour; 'four squares' has none.
  assert.deepEqual(texts, [
    'a red circle',
    'a blue circle',
    'a red circle',
    'a blue circle',
    'a red circle',
    'a blue circle',
    'four squares',
    'four squares',
    'four squares',
  ]);
  const M = MISSING_CANDIDATE;
  assert.deepEqual([...feeds[OBJECTIVE_INPUTS.candidateMask].data], [0, 0, M, 0, 0, M, 0, M, M]);
  assert.deepEqual([...feeds[OBJECTIVE_INPUTS.auxWeight].data], [0.5, 0.5, 0]);
});
