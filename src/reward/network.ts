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
 *
 * Two heads (`RewardHead`):
 *   mlp       r(x, z) = s(x, z), the head's output.
 *   centered  r(x, z) = s(x, z) − mean_{x' ∈ R} s(x', z) + c0: the score is centred per prompt over
 *             a fixed set R of reference images, held in the graph as a constant (pixels for the
 *             tiny backbone, image features for a frozen one), so training and scoring centre over
 *             the same images and no function of the text alone reaches the score. c0
 *             (`CENTER_BIAS`) is a trainable scalar: the mean score of the reference images under
 *             any prompt, exactly.
 */
import { GraphBuilder } from '../train/builder';
import { makeTensor, tensorValue, type TensorValue } from '../train/ir';
import type { onnx } from '../train/onnx';
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

/** The head over the features: the plain MLP, or the MLP centred per prompt over reference images. */
export type RewardHead = { type: 'mlp' } | CenteredHead;

export interface CenteredHead {
  type: 'centered';
  /**
   * The reference rows R, flattened: images [R, 3, S, S] for the tiny backbone, image features
   * [R, Fi] for the 'features' kind (what `rewardInputs(config).image` takes for R rows).
   */
  reference: Float32Array;
  /** c0's initial value (default 0.5); a trained model's value replaces it. */
  bias?: number;
}

/** The centred head's trainable bias c0 (a head weight: it trains under a frozen backbone). */
export const CENTER_BIAS = 'head.center.bias';
/** The name of the reference rows' Constant in a centred graph. */
export const REFERENCE_CONSTANT = 'head_reference';

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
 * `rewardInputs(config)`; `candidates` is C. `head` picks the head (default mlp).
 */
export function rewardNet(
  b: GraphBuilder,
  config: RewardNetConfig,
  image: string,
  text: string,
  candidates: number,
  seed: number,
  head: RewardHead = { type: 'mlp' },
): string {
  const nn = new Layers(b, createRng(`reward:${seed}`));
  if (head.type === 'centered') return centeredNet(b, nn, config, image, text, candidates, head);
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
  const hidden = headHidden(b, img, txt, imgGate, txtGate);
  const score = nn.linear('head.out', hidden, H, 1); // [B, C, 1]
  return b.reshape(score, [-1, candidates]);
}

/** The head's hidden layer, relu(Wi i + Wt t + (Ui i) * (Ut t) + b), from its four projections. */
function headHidden(b: GraphBuilder, img: string, txt: string, imgGate: string, txtGate: string): string {
  return b.relu(b.add(b.add(img, txt), b.mul(imgGate, txtGate)));
}

/** Rows of the reference constant: its length over one image input row's size. */
export function referenceCount(config: RewardNetConfig, reference: Float32Array): number {
  const row = rewardInputs(config).image.shape.reduce((a, d) => a * d, 1);
  const R = reference.length / row;
  if (!Number.isInteger(R) || R < 1) {
    throw new Error(
      `The centred head's reference holds ${reference.length} values, not a whole number (at least 1) of image rows of ${row}.`,
    );
  }
  return R;
}

/**
 * The centred head: the same weights as the mlp head (same names, same draws), applied to the
 * B input images against their own candidates and to the R reference images against every text
 * row ([R, 1, H] broadcast against [1, B * C, H]); the reference scores are averaged over R and
 * subtracted, and c0 added.
 */
function centeredNet(
  b: GraphBuilder,
  nn: Layers,
  config: RewardNetConfig,
  image: string,
  text: string,
  candidates: number,
  head: CenteredHead,
): string {
  const R = referenceCount(config, head.reference);
  const io = rewardInputs(config);
  const reference = b.constant(head.reference, [R, ...io.image.shape], 'float32', REFERENCE_CONSTANT);
  // The reference rows go first through the backbone (one pass with the inputs, the same weights),
  // then the features split back: rows [0, R) are the references, [R, R + B) the inputs.
  const rows = b.concat([reference, image], 0);
  const f =
    config.kind === 'features'
      ? { image: rows, imageWidth: config.imageFeatures, text, textWidth: config.textFeatures }
      : tinyFeatures(b, nn, config, rows, text);
  const H = config.hidden;
  const F = f.imageWidth;
  const D = f.textWidth;
  const C = candidates;
  const refRows = (x: string) => b.slice(x, [0], [R], [0]);
  const inputRows = (x: string) => b.slice(x, [R], [Number.MAX_SAFE_INTEGER], [0]);

  const imgAll = nn.linear('head.image', f.image, F, H); // [R + B, H]
  const txtAll = nn.linear('head.text', f.text, D, H, false); // [B * C, H]
  const gateAll = nn.linear('head.image_gate', f.image, F, H, false); // [R + B, H]
  const txtGateAll = nn.linear('head.text_gate', f.text, D, H, false); // [B * C, H]
  // head.out as Layers.linear draws it, applied twice.
  const outW = nn.weight('head.out.weight', [H, 1], 1 / Math.sqrt(H));
  const outB = nn.filled('head.out.bias', [1], 0);
  const out = (hidden: string) => b.add(b.matmul(hidden, outW), outB);
  const c0 = nn.filled(CENTER_BIAS, [1], head.bias ?? 0.5);

  // s(x_b, z_b,c): [B, C].
  const img = b.unsqueeze(inputRows(imgAll), [1]); // [B, 1, H]
  const txt = b.reshape(txtAll, [-1, C, H]); // [B, C, H]
  const imgGate = b.unsqueeze(inputRows(gateAll), [1]);
  const txtGate = b.reshape(txtGateAll, [-1, C, H]);
  const s = b.reshape(out(headHidden(b, img, txt, imgGate, txtGate)), [-1, C]);

  // mean_r s(x'_r, z_n) for every text row n: [R, 1, H] against [1, B * C, H] -> [B, C].
  const refImg = b.unsqueeze(refRows(imgAll), [1]); // [R, 1, H]
  const refGate = b.unsqueeze(refRows(gateAll), [1]);
  const txtR = b.unsqueeze(txtAll, [0]); // [1, B * C, H]
  const txtGateR = b.unsqueeze(txtGateAll, [0]);
  const refHidden = headHidden(b, refImg, txtR, refGate, txtGateR); // [R, B * C, H]
  const refMean = b.reshape(b.reduceMean(out(refHidden), [0], false), [-1, C]); // [B, C]

  return b.add(b.sub(s, refMean), c0);
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
 * values by name; a centred `head` carries its reference rows into the graph as a constant.
 */
export function buildRewardScorer(
  config: RewardNetConfig,
  seed: number,
  weights?: ReadonlyMap<string, Float32Array>,
  head?: RewardHead,
): GraphBuilder {
  const b = new GraphBuilder({ name: 'alignrun_reward', opset: 17 });
  const io = rewardInputs(config);
  const image = b.input(io.image.name, io.image.dtype, ['batch', ...io.image.shape]);
  const text = b.input(io.text.name, io.text.dtype, ['batch', ...io.text.shape]);
  const r = rewardNet(b, config, image, text, 1, seed, head);
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

/** A centred model's reference rows (the Constant `REFERENCE_CONSTANT`); undefined for an mlp one. */
export function referenceRows(model: onnx.IModelProto): TensorValue | undefined {
  const node = (model.graph?.node ?? []).find(
    (n) => n.opType === 'Constant' && n.output?.[0] === REFERENCE_CONSTANT,
  );
  const value = node?.attribute?.find((a) => a.name === 'value')?.t;
  return value ? tensorValue(value) : undefined;
}
