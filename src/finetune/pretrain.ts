/**
 * The pretrain stage: trains a base model's UNet on rendered shapes (correct images of domain
 * prompts, all categories and both splits: "unseen" means unseen by the feedback, not by
 * pretraining) with the plain denoising loss. The text encoder stays frozen at its random
 * initialisation: random features still tell prompts apart, the UNet's cross-attention learns to
 * read them, prompts are encoded once instead of every step, and fine-tuning later trains the
 * same UNet against the same frozen encoder.
 *
 *   node --import tsx scripts/pretrain.ts BASE_DIR OUT_DIR [--steps N] [--batch N] [--lr X]
 *        [--size N] [--seed N] [--checkpoint-every N] [--warmup N] [--threads N]
 *        [--max-minutes M] [--ema DECAY] [--misdescribe Q] [--provider cpu|webgpu]
 *        [--prediction-type epsilon|v_prediction]
 *        [--beta-schedule linear|scaled_linear|squaredcos_cap_v2] [--train-timesteps N]
 *
 * The scheduler flags change the noise schedule / target the UNet is trained with and write them
 * into OUT_DIR/scheduler/scheduler_config.json.
 */
import { allPrompts, renderPrompt } from '../domains/shapes/index';
import { PROMPT_CATEGORIES, type PromptCategory, type ShapePrompt } from '../domains/shapes/types';
import { createRng } from '../util/rng';
import type { TrainSessionOptions } from '../train/session';
import type { DenoiseSample } from './data';
import { trainDenoiser, type OptimizerParams } from './denoise';

/** The pretrain stage's params, named as in the spec (pretrain_stage). */
export interface PretrainParams {
  data?: { source?: 'shapes'; categories?: PromptCategory[]; size?: number; misdescribe?: number };
  steps?: number;
  learning_rate?: number;
  batch_size?: number;
  optimizer?: OptimizerParams;
  checkpoint_every?: number;
  /** Decay of the weights' moving average that is exported (default: none). */
  ema_decay?: number;
  seed?: number;
  /** Scheduler config fields (diffusers names) the pretrained model is trained with and ships. */
  scheduler?: Record<string, unknown>;
}

export interface PretrainInput {
  params: PretrainParams;
  /** Initial weights: an SD-layout folder (the random tiny model). */
  baseDir: string;
  outDir: string;
  onProgress?: (p: { step: number; steps: number; loss: number }) => void;
  signal?: AbortSignal;
  session?: TrainSessionOptions;
  /** Stop early at this wall-clock time (ms since the epoch), checkpointing and exporting as usual. */
  deadline?: number;
}

const CAPTION_ATTRIBUTES = ['count', 'color', 'background'] as const;

/** The pool's prompts of the same shape and category as `p` that name exactly one of its count,
 * colour or background differently: the loose captions of `p`'s images. */
export function oneAttributeNeighbours(p: ShapePrompt, pool: readonly ShapePrompt[]): ShapePrompt[] {
  return pool.filter(
    (q) =>
      q.shape === p.shape &&
      q.category === p.category &&
      CAPTION_ATTRIBUTES.filter((a) => q[a] !== p[a]).length === 1 &&
      CAPTION_ATTRIBUTES.every((a) => (q[a] === undefined) === (p[a] === undefined)),
  );
}

/**
 * `size` rendered (image, prompt) pairs: prompts drawn uniformly from the categories' pools. With
 * `misdescribe` = q > 0, a share q of the images are captioned loosely, as web captions are: with
 * a random one of their prompt's one-attribute neighbours (a wrong count, colour or background).
 * The draw of images does not depend on q.
 */
export function renderedData(
  categories: readonly PromptCategory[],
  size: number,
  seed: number | string,
  misdescribe = 0,
): DenoiseSample[] {
  if (!(misdescribe >= 0 && misdescribe <= 1)) {
    throw new Error(`The share of loose captions (misdescribe) must be from 0 to 1, got ${misdescribe}.`);
  }
  const pool = categories.flatMap((c) => allPrompts(c));
  const rng = createRng(`pretrain-data:${seed}`);
  const captionRng = createRng(`pretrain-misdescribe:${seed}`);
  const neighbours = new Map<ShapePrompt, ShapePrompt[]>();
  return Array.from({ length: size }, (_, i) => {
    const prompt = rng.pick(pool);
    const image = renderPrompt(prompt, { seed: `${seed}:${i}` });
    let caption = prompt;
    if (misdescribe > 0) {
      if (!neighbours.has(prompt)) neighbours.set(prompt, oneAttributeNeighbours(prompt, pool));
      const wrong = neighbours.get(prompt)!;
      if (wrong.length > 0 && captionRng.next() < misdescribe) caption = captionRng.pick(wrong);
    }
    return { image, prompt: caption.text, weight: 1 };
  });
}

export async function pretrain(input: PretrainInput) {
  const p = input.params;
  const seed = p.seed ?? 0;
  const data = renderedData(
    p.data?.categories ?? [...PROMPT_CATEGORIES],
    p.data?.size ?? 4096,
    seed,
    p.data?.misdescribe ?? 0,
  );
  return trainDenoiser({
    baseDir: input.baseDir,
    outDir: input.outDir,
    modelData: [],
    pretrainData: data,
    steps: p.steps ?? 2000,
    learningRate: p.learning_rate ?? 1e-3,
    batchSize: p.batch_size ?? 32,
    optimizer: p.optimizer,
    checkpointEvery: p.checkpoint_every ?? 100,
    emaDecay: p.ema_decay,
    seed,
    onProgress: input.onProgress,
    signal: input.signal,
    session: input.session,
    deadline: input.deadline,
    schedulerOverrides: p.scheduler,
  });
}
