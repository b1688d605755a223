/**
 * Labelled examples for the reward model, and the tensors of one objective batch: images, the
 * token ids of each example's original prompt followed by its K perturbations, labels, the
 * candidate mask and the auxiliary weights.
 */
import type { Image } from '../domains/shapes/types';
import { parsePrompt, perturbPrompt, perturbText, promptSplit } from '../domains/shapes/index';
import type { TensorValue } from '../train/ir';
import type { Rng } from '../util/rng';
import type { RewardEncoder } from './encoders';
import { RewardInputError } from './errors';
import { MISSING_CANDIDATE, OBJECTIVE_INPUTS } from './objective';

/** One image-prompt pair with its feedback. */
export interface RewardExample {
  image: Image;
  prompt: string;
  /** 1 good, 0 bad (a mean of several raters' labels is accepted: it is regressed on). */
  label: number;
  /** Prompt category and seen/unseen split; derived from the prompt when it is a shapes prompt. */
  category?: string;
  split?: string;
}

/**
 * Splits labelled pairs into training pairs and a held-out test set: the pairs whose prompt is in
 * `testSplit` (none without one). Refuses a split that holds no labelled pair.
 */
export function holdOutSplit<T extends { split?: string }>(
  labelled: readonly T[],
  testSplit: 'seen' | 'unseen' | undefined,
): { train: T[]; test: T[] } {
  if (!testSplit) return { train: [...labelled], test: [] };
  const test = labelled.filter((e) => e.split === testSplit);
  if (test.length === 0) {
    throw new RewardInputError(
      `test_split is '${testSplit}' but no labelled image has a prompt in that split; label prompts of both splits (prompts stage split: all).`,
    );
  }
  return { train: labelled.filter((e) => e.split !== testSplit), test };
}

/** The examples with category and split filled in where the prompt is one of the shapes domain. */
export function describeExamples(examples: readonly RewardExample[]): RewardExample[] {
  return examples.map((e) => {
    const parsed = parsePrompt(e.prompt);
    return {
      ...e,
      category: e.category ?? parsed?.category,
      split: e.split ?? (parsed ? promptSplit(parsed) : undefined),
    };
  });
}

/** Checks a label set once, with one sentence per problem. */
export function checkExamples(examples: readonly RewardExample[], imageSize: number): void {
  if (examples.length === 0) {
    throw new RewardInputError('The reward stage got no labelled images; label some images first.');
  }
  for (const [i, e] of examples.entries()) {
    if (!e.prompt.trim())
      throw new RewardInputError(`Labelled example ${i} has an empty prompt; every image needs its prompt.`);
    if (!(e.label >= 0 && e.label <= 1)) {
      throw new RewardInputError(
        `Labelled example ${i} has label ${e.label}; labels must be 0 (bad) or 1 (good).`,
      );
    }
    if (e.image.width !== imageSize || e.image.height !== imageSize) {
      throw new RewardInputError(
        `Labelled example ${i} is ${e.image.width}x${e.image.height}; the reward model takes ${imageSize}x${imageSize} images.`,
      );
    }
  }
  const good = examples.filter((e) => e.label >= 0.5).length;
  if (good === 0 || good === examples.length) {
    throw new RewardInputError(
      `All ${examples.length} labels are ${good ? 'good' : 'bad'}; a reward model needs both good and bad examples.`,
    );
  }
}

/**
 * Up to k perturbed prompts: attribute swaps for shapes prompts, word swaps for free text. With a
 * `pool`, only the swaps that are in it (drawn in the same balanced order, then the first k).
 */
export function perturbations(prompt: string, k: number, rng: Rng, pool?: ReadonlySet<string>): string[] {
  const parsed = parsePrompt(prompt);
  const n = pool ? Number.POSITIVE_INFINITY : k;
  const all = parsed ? perturbPrompt(parsed, n, rng) : perturbText(prompt, n, rng);
  return pool ? all.filter((t) => pool.has(t)).slice(0, k) : all;
}

export interface BatchOptions {
  perturbations: number;
  auxOn: 'positive' | 'all';
  lambda: number;
  temperature: number;
  /**
   * The only prompts a perturbation may be (the spec's `perturb_from: labelled`: the training
   * labels' prompts); any swap when absent.
   */
  pool?: ReadonlySet<string>;
}

/** Feeds for the objective graph from examples[indices] (perturbations drawn from rng). */
export async function objectiveBatch(
  examples: readonly RewardExample[],
  indices: readonly number[],
  encoder: RewardEncoder,
  options: BatchOptions,
  rng: Rng,
): Promise<Record<string, TensorValue>> {
  const B = indices.length;
  const C = options.perturbations + 1;
  const texts: string[] = [];
  const label = new Float32Array(B);
  const mask = new Float32Array(B * C);
  const aux = new Float32Array(B);
  indices.forEach((ex, b) => {
    const e = examples[ex];
    label[b] = e.label;
    const others = perturbations(e.prompt, options.perturbations, rng.fork(`${ex}`), options.pool);
    const candidates = [e.prompt, ...others];
    for (let c = 0; c < C; c++) {
      // A missing candidate repeats the original (any valid input does) and is masked out.
      texts.push(candidates[c] ?? e.prompt);
      if (c >= candidates.length) mask[b * C + c] = MISSING_CANDIDATE;
    }
    // The task is only defined when there is something to pick from.
    aux[b] = others.length > 0 && (options.auxOn === 'all' || e.label >= 0.5) ? 1 : 0;
  });
  const used = aux.reduce((s, v) => s + v, 0);
  if (used > 0) for (let b = 0; b < B; b++) aux[b] /= used;
  const I = OBJECTIVE_INPUTS;
  return {
    ...(await encoder.feeds(
      indices.map((ex) => examples[ex].image),
      texts,
    )),
    [I.label]: { dtype: 'float32', dims: [B], data: label },
    [I.candidateMask]: { dtype: 'float32', dims: [B, C], data: mask },
    [I.auxWeight]: { dtype: 'float32', dims: [B], data: aux },
    [I.lambda]: { dtype: 'float32', dims: [], data: Float32Array.of(options.lambda) },
    [I.invTemperature]: { dtype: 'float32', dims: [], data: Float32Array.of(1 / options.temperature) },
  };
}
