/**
 * The reward model's training objective as one ONNX graph (Lee et al. 2023, eq. 1-2):
 *
 *   L = (1/B) Σ_b (r(x_b, z_b) − y_b)²                                   regression on labels
 *     + λ · Σ_b a_b · −log softmax_i( r(x_b, z_b,i) / T + m_b,i )[0]     pick the original prompt
 *
 * where z_b,0 is the original prompt and z_b,1..K its perturbations, y_b ∈ {0, 1} the label,
 * m_b,i = 0 for a real candidate and −1e9 for a missing one (a prompt with fewer than K
 * neighbours), and a_b the auxiliary weight of example b: 1/n_aux for the n_aux examples the
 * auxiliary task applies to (the positive ones by default), else 0. The engine turns the graph
 * into a training graph whose outputs are the loss, its gradients, and `mse`, `aux`, `scores`.
 */
import { GraphBuilder } from '../train/builder';
import { buildTrainingGraph } from '../train/engine';
import type { onnx } from '../train/onnx';
import { rewardInputs, rewardNet, setWeights, type RewardHead, type RewardNetConfig } from './network';

export interface RewardBatchShape {
  /** Examples per batch. */
  batch: number;
  /** Perturbed prompts per example (K); candidates per example are K + 1. */
  perturbations: number;
}

/**
 * Inputs of the objective graph, besides the trainable weights and the network's own two inputs
 * (`rewardInputs(config)`: images and token ids, or a frozen backbone's features).
 */
export const OBJECTIVE_INPUTS = {
  label: 'label',
  candidateMask: 'candidate_mask',
  auxWeight: 'aux_weight',
  lambda: 'lambda',
  invTemperature: 'inv_temperature',
} as const;

/** A missing candidate's logit offset: exp(−1e9) is exactly 0 in float32. */
export const MISSING_CANDIDATE = -1e9;

/**
 * The forward objective: outputs total (the loss), mse, aux and scores [B, K + 1]. A centred
 * `head` centres every score over its reference images, the same as the scoring graph does.
 */
export function buildObjective(
  config: RewardNetConfig,
  shape: RewardBatchShape,
  seed: number,
  init?: ReadonlyMap<string, Float32Array>,
  head?: RewardHead,
): onnx.ModelProto {
  const B = shape.batch;
  const C = shape.perturbations + 1;
  const I = OBJECTIVE_INPUTS;
  const b = new GraphBuilder({ name: 'alignrun_reward_objective', opset: 17 });
  const io = rewardInputs(config);
  const image = b.input(io.image.name, io.image.dtype, [B, ...io.image.shape]);
  const text = b.input(io.text.name, io.text.dtype, [B * C, ...io.text.shape]);
  const label = b.input(I.label, 'float32', [B]);
  const mask = b.input(I.candidateMask, 'float32', [B, C]);
  const auxWeight = b.input(I.auxWeight, 'float32', [B]);
  const lambda = b.input(I.lambda, 'float32', []);
  const invT = b.input(I.invTemperature, 'float32', []);

  const scores = b.identity(rewardNet(b, config, image, text, C, seed, head), 'scores'); // [B, C]
  const original = b.reshape(b.slice(scores, [0], [1], [1]), [B]);
  const err = b.sub(original, label);
  const mse = b.node('ReduceMean', [b.mul(err, err)], { keepdims: 0 }, { outputs: 'mse' });

  const logits = b.add(b.mul(scores, invT), mask);
  const logp = b.reshape(b.slice(b.logSoftmax(logits, 1), [0], [1], [1]), [B]);
  const aux = b.node('ReduceSum', [b.neg(b.mul(logp, auxWeight))], { keepdims: 0 }, { outputs: 'aux' });

  const total = b.identity(b.add(mse, b.mul(lambda, aux)), 'total');
  b.output(total, 'float32', []);
  b.output(mse, 'float32', []);
  b.output(aux, 'float32', []);
  b.output(scores, 'float32', [B, C]);
  if (init) setWeights(b, init);
  return b.build();
}

/**
 * The training graph of the objective. `init` replaces initial weights by name (a pretrained
 * backbone); `trainable` picks the weights that train (default all: the rest stay constants);
 * `head` picks the head (default mlp).
 */
export async function buildRewardTrainingGraph(
  config: RewardNetConfig,
  shape: RewardBatchShape,
  seed: number,
  options: {
    init?: ReadonlyMap<string, Float32Array>;
    trainable?: (name: string) => boolean;
    head?: RewardHead;
  } = {},
): Promise<{ forward: onnx.ModelProto; training: onnx.ModelProto }> {
  const forward = buildObjective(config, shape, seed, options.init, options.head);
  const training = await buildTrainingGraph(forward, {
    trainable: options.trainable ?? (() => true),
    loss: { output: 'total' },
    keepOutputs: true,
  });
  return { forward, training };
}
