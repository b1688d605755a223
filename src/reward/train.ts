/**
 * The reward stage: trains r(x, z) on labelled image-prompt pairs with the regression loss plus
 * the auxiliary prompt-classification loss, and writes a standalone scoring model.
 *
 * Backbones: `tiny` (image and text encoders trained from scratch with the head) or `clip` (a frozen
 * CLIP ONNX export given by path: its embeddings are computed once and only the head trains).
 *
 * Output folder:
 *   reward.onnx    tiny: image [N, 3, S, S] + input_ids [N, L] int32 -> score [N];
 *                  clip: image_features [N, Fi] + text_features [N, Ft] -> score [N]
 *   reward.json    the network config, the backbone (the CLIP folder's absolute path), the head
 *                  (for the centred head: the reference images' count, which training pairs they
 *                  are, and where the graph holds them) and the training params (what
 *                  `RewardModel.open` reads)
 *   tokenizer/     tiny: a copy of the tokenizer the ids come from
 *   metrics.json   per-epoch losses, and accuracy/AUC on held-out labels by category and split
 *   checkpoint/    the latest epoch's weights and optimiser state (a rerun resumes from it)
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { loadCheckpoint, saveCheckpoint } from '../train/checkpoint';
import { AdamW, clipGradNorm, type Tensors } from '../train/optim';
import { createSession, runSession } from '../train/session';
import { loadModel, tensorValue } from '../train/ir';
import { initializerValues } from '../train/ops/context';
import { createRng } from '../util/rng';
import { checkExamples, describeExamples, objectiveBatch, type RewardExample } from './data';
import { RewardInputError } from './errors';
import { separationByGroup, type Separation } from './metrics';
import { ClipEncoder, TinyEncoder, type RewardEncoder } from './encoders';
import {
  buildRewardScorer,
  CENTER_BIAS,
  REFERENCE_CONSTANT,
  rewardInputs,
  type RewardHead,
  type RewardNetConfig,
} from './network';
import { buildRewardTrainingGraph } from './objective';
import { scoreWithSession, type CenteredHeadJson } from './score';
import type { RewardStage } from '../spec/types.gen';
import { withSchemaDefaults } from '../spec/defaults';

/** The reward stage's params, named as in the experiment spec (reward_stage). */
/** The reward stage's training params, as the spec names them (types from the schema). */
export type RewardParams = Pick<
  RewardStage,
  | 'lambda'
  | 'perturbations'
  | 'temperature'
  | 'aux_on'
  | 'perturb_from'
  | 'learning_rate'
  | 'epochs'
  | 'batch_size'
  | 'validation_split'
  | 'hidden'
  | 'backbone'
  | 'head'
  | 'reference_images'
> & { seed?: number };
/** Stage params beyond training's: which split's labels are held out as the test set. */
export type RewardStageParams = RewardParams & Pick<RewardStage, 'test_split'>;

export interface RewardStageInput {
  params: RewardParams;
  examples: readonly RewardExample[];
  /** Tokenizer folder of the diffusion model whose prompts are scored (the tiny backbone's ids). */
  tokenizerDir: string;
  outDir: string;
  /** Extra labelled pairs never trained on (e.g. images of unseen prompts), reported as `test`. */
  test?: readonly RewardExample[];
  onProgress?: (p: { epoch: number; epochs: number; loss: number }) => void;
  signal?: AbortSignal;
}

export interface EpochMetrics {
  epoch: number;
  loss: number;
  mse: number;
  aux: number;
  validation: ReturnType<typeof separationByGroup> | null;
  test: ReturnType<typeof separationByGroup> | null;
}

export interface RewardResult {
  modelPath: string;
  metricsPath: string;
  epochs: EpochMetrics[];
  /** The last epoch's held-out accuracy (validation, else test), for a stage summary. */
  final: Separation | null;
}

type Resolved = Required<RewardParams>;

/** The params the training reads, defaulted as the schema says (the defaults live only there). */
function resolve(p: RewardParams): Resolved {
  const out = withSchemaDefaults({ ...p, seed: p.seed ?? 0 }, 'reward_stage');
  // reference_images has no schema default (it is refused without head: centered).
  return { ...out, reference_images: out.reference_images ?? 32 } as Resolved;
}

export async function trainReward(input: RewardStageInput): Promise<RewardResult> {
  const params = resolve(input.params);
  const all = describeExamples(input.examples);
  const imageSize = all[0]?.image.width ?? 32;
  checkExamples(all, imageSize);
  const encoder = await openEncoder(params.backbone, input.tokenizerDir, imageSize);
  try {
    return await train(input, params, all, encoder);
  } finally {
    await encoder.close();
  }
}

/** Refuses a backbone that cannot be opened whatever the labels (a clip backbone without a path). */
export function checkBackbone(backbone: RewardStageParams['backbone']): void {
  if (backbone?.type === 'clip' && !backbone.path) {
    throw new RewardInputError("backbone type 'clip' needs a 'path' to a CLIP ONNX export folder.");
  }
  if (backbone?.freeze && !backbone.init) {
    throw new RewardInputError(
      "backbone.freeze keeps the encoders at their 'init' weights, but no 'init' reward model folder is given.",
    );
  }
}

async function openEncoder(
  backbone: Resolved['backbone'],
  tokenizerDir: string,
  imageSize: number,
): Promise<RewardEncoder> {
  checkBackbone(backbone);
  if (backbone.type !== 'clip') return TinyEncoder.fromTokenizerDir(tokenizerDir, imageSize);
  return ClipEncoder.open(backbone.path!);
}

async function train(
  input: RewardStageInput,
  params: Resolved,
  all: RewardExample[],
  encoder: RewardEncoder,
): Promise<RewardResult> {
  const config = encoder.config(params.hidden);
  const rng = createRng(`reward:${params.seed}`);

  // Held-out labels: a seeded share, at least one example on each side when there are two.
  const order = rng.fork('split').shuffle(all.map((_, i) => i));
  const nVal = Math.min(all.length - 1, Math.round(params.validation_split * all.length));
  const validation = order.slice(0, nVal).map((i) => all[i]);
  const train = order.slice(nVal).map((i) => all[i]);
  const test = input.test ? describeExamples(input.test) : [];

  const B = Math.min(params.batch_size, train.length);
  const init = params.backbone.init
    ? initialWeights(params.backbone.init, config, input.tokenizerDir)
    : undefined;
  // An mlp stage started from a centred model: c0 is not part of its network.
  if (params.head !== 'centered') init?.delete(CENTER_BIAS);
  const { head, references } = await rewardHead(params, train, encoder, config, rng);
  // A frozen backbone: the encoders stay constants of the graph at their init weights.
  const trainable = (name: string) => !params.backbone.freeze || name.startsWith('head.');
  const { forward, training } = await buildRewardTrainingGraph(
    config,
    { batch: B, perturbations: params.perturbations },
    params.seed,
    { init, trainable, head },
  );
  const session = await createSession(training);
  let weights: Tensors = {};
  const dims: Record<string, number[]> = {};
  for (const t of forward.graph!.initializer!) {
    if (!trainable(t.name!)) continue;
    const v = tensorValue(t);
    weights[t.name!] = v.data as Float32Array;
    dims[t.name!] = v.dims;
  }
  const optimizer = new AdamW({ weightDecay: 0 });
  const allWeights = () => new Map([...(init ?? new Map<string, Float32Array>()), ...toMap(weights)]);

  mkdirSync(input.outDir, { recursive: true });
  const ckptDir = join(input.outDir, 'checkpoint');
  let history: EpochMetrics[] = [];
  let start = 0;
  if (existsSync(join(ckptDir, 'checkpoint.json'))) {
    const ckpt = loadCheckpoint(ckptDir);
    weights = ckpt.params;
    optimizer.load(ckpt.optimizer);
    start = ckpt.step;
    history = (ckpt.meta?.history as EpochMetrics[]) ?? [];
  }

  const batchOptions = {
    perturbations: params.perturbations,
    auxOn: params.aux_on,
    lambda: params.lambda,
    temperature: params.temperature,
    // Every candidate is then some training label's own prompt: none is only ever a negative.
    pool: params.perturb_from === 'labelled' ? new Set(train.map((e) => e.prompt)) : undefined,
  };
  const stepsPerEpoch = Math.ceil(train.length / B);
  for (let epoch = start; epoch < params.epochs; epoch++) {
    const epochRng = rng.fork(`epoch:${epoch}`);
    const perm = epochRng.shuffle(train.map((_, i) => i));
    let sums = { loss: 0, mse: 0, aux: 0 };
    for (let s = 0; s < stepsPerEpoch; s++) {
      input.signal?.throwIfAborted();
      // The last batch wraps to the start of this epoch's order, so every batch is full.
      const idx = Array.from({ length: B }, (_, j) => perm[(s * B + j) % perm.length]);
      const feeds = await objectiveBatch(train, idx, encoder, batchOptions, epochRng.fork(`batch:${s}`));
      for (const [name, data] of Object.entries(weights))
        feeds[name] = { dtype: 'float32', dims: dims[name], data };
      const out = await runSession(session, feeds);
      const grads: Tensors = {};
      for (const name of Object.keys(weights)) grads[name] = out[`grad.${name}`].data as Float32Array;
      clipGradNorm(grads, 1);
      optimizer.step(weights, grads, params.learning_rate);
      sums = {
        loss: sums.loss + (out.loss.data as Float32Array)[0],
        mse: sums.mse + (out.mse.data as Float32Array)[0],
        aux: sums.aux + (out.aux.data as Float32Array)[0],
      };
    }
    const scorer = await createSession(buildRewardScorer(config, params.seed, allWeights(), head).build());
    const evaluate = async (set: RewardExample[]) =>
      set.length === 0
        ? null
        : separationByGroup(
            await scoreWithSession(
              scorer,
              encoder,
              set.map((e) => e.image),
              set.map((e) => e.prompt),
            ),
            set.map((e) => e.label),
            { category: set.map((e) => e.category), split: set.map((e) => e.split) },
          );
    history.push({
      epoch: epoch + 1,
      loss: sums.loss / stepsPerEpoch,
      mse: sums.mse / stepsPerEpoch,
      aux: sums.aux / stepsPerEpoch,
      validation: await evaluate(validation),
      test: await evaluate(test),
    });
    await scorer.release();
    saveCheckpoint(ckptDir, {
      step: epoch + 1,
      params: weights,
      optimizer: optimizer.state(),
      rngState: Uint32Array.of(epoch + 1),
      meta: { history },
    });
    input.onProgress?.({ epoch: epoch + 1, epochs: params.epochs, loss: sums.loss / stepsPerEpoch });
  }

  const modelPath = join(input.outDir, 'reward.onnx');
  buildRewardScorer(config, params.seed, allWeights(), head).save(modelPath);
  const tokDir = join(input.outDir, 'tokenizer');
  rmSync(tokDir, { recursive: true, force: true });
  let backbone: Resolved['backbone'] = { type: 'tiny' };
  if (params.backbone.type === 'clip') backbone = { type: 'clip', path: resolvePath(params.backbone.path!) };
  else cpSync(input.tokenizerDir, tokDir, { recursive: true });
  writeFileSync(
    join(input.outDir, 'reward.json'),
    `${JSON.stringify({ config, backbone, ...(references ? { head: references } : {}), params }, null, 2)}\n`,
  );
  const metricsPath = join(input.outDir, 'metrics.json');
  const summary = {
    params,
    examples: { train: train.length, validation: validation.length, test: test.length },
    epochs: history,
  };
  writeFileSync(metricsPath, `${JSON.stringify(summary, null, 2)}\n`);
  const last = history[history.length - 1];
  return { modelPath, metricsPath, epochs: history, final: (last?.validation ?? last?.test)?.all ?? null };
}

/**
 * The head the params ask for. The centred head's reference images are a seeded draw (the run's
 * seed, fork 'reference') of `reference_images` distinct training images, fewer when there are
 * fewer; their rows are the network's own image input (pixels, or a frozen backbone's features).
 * c0 starts at the training labels' mean: the best constant under the regression loss, and what
 * the mean reference score should be when the references are a fair draw of the training images.
 */
async function rewardHead(
  params: Resolved,
  train: readonly RewardExample[],
  encoder: RewardEncoder,
  config: RewardNetConfig,
  rng: ReturnType<typeof createRng>,
): Promise<{ head: RewardHead; references?: CenteredHeadJson }> {
  if (params.head !== 'centered') return { head: { type: 'mlp' } };
  const order = rng.fork('reference').shuffle(train.map((_, i) => i));
  const picked = order.slice(0, Math.min(params.reference_images, train.length)).map((i) => train[i]);
  const feeds = await encoder.feeds(
    picked.map((e) => e.image),
    picked.map((e) => e.prompt),
  );
  const reference = Float32Array.from(feeds[rewardInputs(config).image.name].data as Float32Array);
  const bias = train.reduce((a, e) => a + e.label, 0) / train.length;
  return {
    head: { type: 'centered', reference, bias },
    references: {
      type: 'centered',
      reference_images: picked.length,
      constant: REFERENCE_CONSTANT,
      reference: picked.map((e) => ({ prompt: e.prompt, label: e.label })),
    },
  };
}

/**
 * The weights of the reward model folder `dir` by name, for a network built with `config`; a
 * folder that is not a reward model of the same network is refused in one sentence.
 */
function initialWeights(
  dir: string,
  config: RewardNetConfig,
  tokenizerDir: string,
): Map<string, Float32Array> {
  const file = join(dir, 'reward.onnx');
  const jsonFile = join(dir, 'reward.json');
  if (!existsSync(file) || !existsSync(jsonFile)) {
    throw new RewardInputError(
      `backbone.init '${dir}' has no ${existsSync(file) ? 'reward.json' : 'reward.onnx'}; give the output folder of a reward stage or of scripts/pretrain-reward.ts.`,
    );
  }
  const theirs = (JSON.parse(readFileSync(jsonFile, 'utf8')) as { config?: RewardNetConfig }).config;
  const describe = (c?: RewardNetConfig) => JSON.stringify(c ?? {}).replace(/"/g, '');
  if (describe(theirs) !== describe(config)) {
    throw new RewardInputError(
      `backbone.init '${dir}' holds the reward network ${describe(theirs)}, but this stage builds ${describe(config)}; pretrain it with the same tokenizer, image size and hidden width.`,
    );
  }
  // The text encoder's embeddings are indexed by token id: the same ids must mean the same words.
  const vocab = (d: string) => readFileSync(join(d, 'vocab.json'), 'utf8');
  if (
    config.kind !== 'features' &&
    existsSync(join(dir, 'tokenizer', 'vocab.json')) &&
    vocab(join(dir, 'tokenizer')) !== vocab(tokenizerDir)
  ) {
    throw new RewardInputError(
      `backbone.init '${dir}' was trained with another tokenizer than the model whose images this stage scores; pretrain it with that model's tokenizer.`,
    );
  }
  return rewardWeights(file);
}

/** The float weights of a reward model file (reward.onnx), by name. */
export function rewardWeights(file: string): Map<string, Float32Array> {
  return new Map(
    [...initializerValues(loadModel(file))].flatMap(([name, { data }]) =>
      data instanceof Float32Array ? [[name, data] as const] : [],
    ),
  );
}

function toMap(t: Tensors): Map<string, Float32Array> {
  return new Map(Object.entries(t));
}
