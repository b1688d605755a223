/**
 * The reward network r(x, z), written with GraphBuilder so the training engine differentiates it:
 * an MLP head over image and text features. The features come from one of two backbones:
 *   tiny      trained from scratch with the head: a small conv image encoder and a
 *             one-attention-layer text encoder over the tiny model's token ids;
 *   features  given as inputs, computed by a frozen encoder outside the graph (a CLIP ONNX
 *             export, src/reward/encoders.ts), so only the head trains.
 *
 * One builder serves training and scoring: the image input has B rows and the text input B * C —
 * C candidate prompts per image (the original and K perturbations while training, C = 1 when
 * scoring) — and the result is r [B, C]. Every weight comes from `Layers`, so a seed fixes the
 * initialisation and the weights of a trained graph can be copied by name into a scoring graph.
 */
import { GraphBuilder } from '../train/builder';
import { makeTensor, tensorValue } from '../train/ir';
import { Layers } from '../model/tiny/layers';
import { createRng } from '../util/rng';

/** The tiny backbone, trained from scratch: images [B, 3, S, S] and token ids [B * C, L] (int32). */
export interface TinyNetConfig {
  kind?: 'tiny';
  /** Side of the (square) images. */
  imageSize: number;
  /** Token ids per prompt (the tokenizer's maxLength). */
  textLength: number;
  vocabSize: number;
  /** The padding token's id: padding is left out of the text features. */
  padId: number;
  /** Width of the head's hidden layer (the spec's `hidden`). */
  hidden: number;
}

/** A frozen backbone's features as inputs: image features [B, Fi] and text features [B * C, Ft]. */
export interface FeatureNetConfig {
  kind: 'features';
  imageFeatures: number;
  textFeatures: number;
  hidden: number;
}

export type RewardNetConfig = TinyNetConfig | FeatureNetConfig;

/** The names of a scoring graph's inputs and output: the contract of a reward model file. */
export const REWARD_IO = { image: 'image', inputIds: 'input_ids', score: 'score' } as const;
export const FEATURE_IO = { image: 'image_features', text: 'text_features' } as const;

/** The network's two inputs (image rows, text rows) with their element type and per-row shape. */
export function rewardInputs(config: RewardNetConfig): {
  image: { name: string; dtype: 'float32'; shape: number[] };
  text: { name: string; dtype: 'float32' | 'int32'; shape: number[] };
} {
  if (config.kind === 'features') {
    return {
      image: { name: FEATURE_IO.image, dtype: 'float32', shape: [config.imageFeatures] },
      text: { name: FEATURE_IO.text, dtype: 'float32', shape: [config.textFeatures] },
    };
  }
  const S = config.imageSize;
  return {
    image: { name: REWARD_IO.image, dtype: 'float32', shape: [3, S, S] },
    text: { name: REWARD_IO.inputIds, dtype: 'int32', shape: [config.textLength] },
  };
}

/** Feature widths of the two encoders (fixed: the tiny domain needs no more). */
const IMAGE_CHANNELS = [16, 32, 32];
const TEXT_WIDTH = 32;

/**
 * Emits r [B, C] for the image input (B rows) and the text input (B * C rows) named by
 * `rewardInputs(config)`; `candidates` is C.
 */
export function rewardNet(
  b: GraphBuilder,
  config: RewardNetConfig,
  image: string,
  text: string,
  candidates: number,
  seed: number,
): string {
  const nn = new Layers(b, createRng(`reward:${seed}`));
  const f =
    config.kind === 'features'
      ? { image, imageWidth: config.imageFeatures, text, textWidth: config.textFeatures }
      : tinyFeatures(b, nn, config, image, text);
  const H = config.hidden;
  const F = f.imageWidth;
  const D = f.textWidth;

  // Head: h = relu(Wi i + Wt t + (Ui i) * (Ut t) + b); r = w h + c. The product term lets the
  // head match image against text directly instead of through the ReLU alone.
  const img = b.unsqueeze(nn.linear('head.image', f.image, F, H), [1]); // [B, 1, H]
  const txt = b.reshape(nn.linear('head.text', f.text, D, H, false), [-1, candidates, H]); // [B, C, H]
  const imgGate = b.unsqueeze(nn.linear('head.image_gate', f.image, F, H, false), [1]);
  const txtGate = b.reshape(nn.linear('head.text_gate', f.text, D, H, false), [-1, candidates, H]);
  const hidden = b.relu(b.add(b.add(img, txt), b.mul(imgGate, txtGate)));
  const score = nn.linear('head.out', hidden, H, 1); // [B, C, 1]
  return b.reshape(score, [-1, candidates]);
}

/** The tiny backbone's image features [B, F] and text features [B * C, D]. */
function tinyFeatures(
  b: GraphBuilder,
  nn: Layers,
  config: TinyNetConfig,
  images: string,
  ids: string,
): { image: string; imageWidth: number; text: string; textWidth: number } {
  // Image: a 1x1 conv of colour detectors, pooled over the whole image and over the border ring
  // (the background), then two strided 3x3 convs for shape and layout, pooled over positions.
  const S = config.imageSize;
  const [c0, c1, c2] = IMAGE_CHANNELS;
  const colours = b.relu(nn.conv('image.colour', images, 3, c0, 1));
  const ring = new Float32Array(S * S);
  for (let y = 0; y < S; y++)
    for (let x = 0; x < S; x++) if (Math.min(x, y, S - 1 - x, S - 1 - y) < 2) ring[y * S + x] = 1;
  const ringCount = ring.reduce((a, v) => a + v, 0);
  const ringMask = b.constant(
    ring.map((v) => v / ringCount),
    [S, S],
    'float32',
    'border_ring',
  );
  const colourFeat = b.reduceMean(colours, [2, 3], false); // [B, c0]
  const borderFeat = b.reduceSum(b.mul(colours, ringMask), [2, 3], false); // [B, c0]
  let x = b.relu(nn.conv('image.conv1', colours, c0, c1, 3, 2));
  x = b.relu(nn.conv('image.conv2', x, c1, c2, 3, 2));
  const imageFeat = b.concat([colourFeat, borderFeat, b.reduceMean(x, [2, 3], false)], 1); // [B, F]

  // Text: token + position embeddings, one self-attention layer (a colour word must know whether
  // it follows "on a", i.e. names the background), then the mean over the prompt's own tokens
  // (padding excluded, so short and long prompts weigh their words alike).
  const D = TEXT_WIDTH;
  const L = config.textLength;
  const tokens = b.gather(nn.weight('text.token', [config.vocabSize, D], 1), ids);
  let t = b.add(tokens, nn.weight('text.position', [L, D], 1));
  const h = nn.layerNorm('text.ln', t, D);
  const attended = nn.attention(
    nn.linear('text.q', h, D, D),
    nn.linear('text.k', h, D, D),
    nn.linear('text.v', h, D, D),
    D,
    1,
  );
  t = b.add(t, nn.linear('text.out', attended, D, D));
  const isPad = b.node('Equal', [ids, b.constant(Int32Array.of(config.padId), [], 'int32', 'pad_id')]);
  const keep = b.unsqueeze(b.sub(b.constant(1), b.cast(isPad, 'float32')), [2]); // [B * C, L, 1]
  const textFeat = b.div(b.reduceSum(b.mul(t, keep), [1], false), b.reduceSum(keep, [1], false)); // [B * C, D]
  return { image: imageFeat, imageWidth: 2 * c0 + c2, text: textFeat, textWidth: D };
}

/**
 * The standalone reward model: the network's inputs for N (image, prompt) pairs -> score [N]
 * (tiny: image [N, 3, S, S] float32 + input_ids [N, L] int32; features: image_features [N, Fi] +
 * text_features [N, Ft]). Weights are the seed's initialisation unless `weights` gives trained
 * values by name.
 */
export function buildRewardScorer(
  config: RewardNetConfig,
  seed: number,
  weights?: ReadonlyMap<string, Float32Array>,
): GraphBuilder {
  const b = new GraphBuilder({ name: 'alignrun_reward', opset: 17 });
  const io = rewardInputs(config);
  const image = b.input(io.image.name, io.image.dtype, ['batch', ...io.image.shape]);
  const text = b.input(io.text.name, io.text.dtype, ['batch', ...io.text.shape]);
  const r = rewardNet(b, config, image, text, 1, seed);
  b.output(b.node('Reshape', [r, b.int64s([-1])], {}, { outputs: REWARD_IO.score }), 'float32', ['batch']);
  if (weights) setWeights(b, weights);
  return b;
}

/** Replaces initializer values by name; every given weight must exist with the same size. */
export function setWeights(b: GraphBuilder, weights: ReadonlyMap<string, Float32Array>): void {
  for (const [name, data] of weights) {
    const k = b.initializers.findIndex((i) => i.name === name);
    if (k < 0) {
      throw new Error(
        `Reward weight '${name}' is not part of the reward network; was it trained with another config?`,
      );
    }
    b.initializers[k] = makeTensor(name, data, tensorValue(b.initializers[k]).dims);
  }
}
