import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildRewardScorer, type RewardNetConfig } from '../../src/reward/network';
import { buildRewardTrainingGraph, MISSING_CANDIDATE } from '../../src/reward/objective';
import { type TensorValue, tensorValue } from '../../src/train/ir';
import { createSession, runSession } from '../../src/train/session';
import { createRng } from '../../src/util/rng';

const CONFIG: RewardNetConfig = { imageSize: 8, textLength: 4, vocabSize: 10, padId: 0, hidden: 6 };
const B = 2;
const K = 1;
const C = K + 1;

function f32(dims: number[], data: ArrayLike<number>): TensorValue {
  return { dtype: 'float32', dims, data: Float32Array.from(data) };
}

/** Two images, each with its original prompt and one perturbation (token ids), labels [1, 0]. */
function batch(o: { lambda: number; temperature: number; mask?: number[]; aux?: number[] }) {
  const rng = createRng('objective-test');
  const image = Array.from({ length: B * 3 * 64 }, () => rng.uniform(-1, 1));
  const ids = [1, 2, 3, 0, 1, 2, 4, 0, 5, 6, 7, 0, 5, 8, 7, 0];
  return {
    image: f32([B, 3, 8, 8], image),
    input_ids: { dtype: 'int32', dims: [B * C, 4], data: Int32Array.from(ids) } as TensorValue,
    label: f32([B], [1, 0]),
    candidate_mask: f32([B, C], o.mask ?? [0, 0, 0, 0]),
    aux_weight: f32([B], o.aux ?? [1, 0]),
    lambda: f32([], [o.lambda]),
    inv_temperature: f32([], [1 / o.temperature]),
  };
}

async function objective(weights: (name: string, v: TensorValue) => TensorValue) {
  const { forward, training } = await buildRewardTrainingGraph(CONFIG, { batch: B, perturbations: K }, 3);
  const params: Record<string, TensorValue> = {};
  for (const t of forward.graph!.initializer!) params[t.name!] = weights(t.name!, tensorValue(t));
  const session = await createSession(training);
  return {
    params,
    run: async (feeds: Record<string, TensorValue>) => {
      const out = await runSession(session, { ...feeds, ...params });
      const num = (k: string) => (out[k].data as Float32Array)[0];
      return { loss: num('loss'), mse: num('mse'), aux: num('aux'), out };
    },
  };
}

const close = (a: number, b: number, tol = 1e-5) => assert.ok(Math.abs(a - b) < tol, `${a} vs ${b}`);

test('with only the output bias set, every score is that bias and each loss term is its hand value', async () => {
  // r = 0.25 for every (image, prompt): mse = ((0.25-1)^2 + 0.25^2)/2; the pick-the-prompt
  // cross-entropy over two equal scores is log 2 (one candidate: log 1 = 0).
  const { run } = await objective((name, v) =>
    name === 'head.out.bias' ? f32(v.dims, [0.25]) : f32(v.dims, new Float32Array(v.data.length)),
  );
  let r = await run(batch({ lambda: 0.5, temperature: 1 }));
  close(r.mse, 0.3125);
  close(r.aux, Math.log(2));
  close(r.loss, 0.3125 + 0.5 * Math.log(2));
  // Auxiliary loss on both examples (aux_on: all), the second with its perturbation missing.
  r = await run(batch({ lambda: 2, temperature: 1, mask: [0, 0, 0, MISSING_CANDIDATE], aux: [0.5, 0.5] }));
  close(r.aux, 0.5 * Math.log(2) + 0.5 * 0);
  close(r.loss, 0.3125 + 2 * 0.5 * Math.log(2));
});

test('on random weights the loss, its terms and the bias gradient match a plain TypeScript computation', async () => {
  const { params, run } = await objective((_, v) => v);
  // Scores of every (image, candidate) pair from the standalone scorer, with the same weights.
  const weights = new Map(Object.entries(params).map(([k, v]) => [k, v.data as Float32Array]));
  const scorer = await createSession(buildRewardScorer(CONFIG, 3, weights).build());
  for (const temperature of [1, 0.5]) {
    const feeds = batch({ lambda: 0.7, temperature, aux: [1, 0] });
    const images = feeds.image.data as Float32Array;
    const ids = feeds.input_ids.data as Int32Array;
    const r: number[][] = [];
    for (let b = 0; b < B; b++) {
      r.push([]);
      for (let c = 0; c < C; c++) {
        const out = await runSession(scorer, {
          image: f32([1, 3, 8, 8], images.subarray(b * 192, (b + 1) * 192)),
          input_ids: { dtype: 'int32', dims: [1, 4], data: ids.slice((b * C + c) * 4, (b * C + c + 1) * 4) },
        });
        r[b].push((out.score.data as Float32Array)[0]);
      }
    }
    assert.notEqual(r[0][0], r[0][1], 'the perturbed prompt scores differently');
    const y = [1, 0];
    const mse = ((r[0][0] - y[0]) ** 2 + (r[1][0] - y[1]) ** 2) / 2;
    const z = r[0].map((v) => v / temperature);
    const ce = Math.log(z.reduce((s, v) => s + Math.exp(v), 0)) - z[0];
    const got = await run(feeds);
    close(got.mse, mse);
    close(got.aux, ce);
    close(got.loss, mse + 0.7 * ce);
    // d loss / d output bias: the softmax ignores a shift shared by all candidates, so only the
    // regression term moves it: (2/B) sum (r_b0 - y_b).
    const gBias = (got.out['grad.head.out.bias'].data as Float32Array)[0];
    close(gBias, r[0][0] - 1 + r[1][0] - 0, 1e-4);
  }
});
