/**
 * Pretraining for the reward model's tiny backbone: rendered image-prompt pairs, the shapes
 * domain's counterpart of the web pairs CLIP learnt from before the paper froze it under its reward
 * head. Each pair is a rendered image with its own prompt (label 1) or with a prompt one colour,
 * count, background or shape word away (label 0); the auxiliary loss adds three such perturbations
 * of every good pair. No model image and no human label is involved.
 */
import { allPrompts, perturbPrompt, renderPrompt } from '../domains/shapes/index';
import { PROMPT_CATEGORIES } from '../domains/shapes/types';
import { createRng } from '../util/rng';
import type { RewardExample } from './data';

/**
 * How a mismatched pair's prompt is drawn: `perturbed`, one colour, count, background or shape word
 * away from the image's (hard negatives: the pretrained network already learns what the auxiliary
 * loss teaches); `random`, another prompt of the domain drawn at random (CLIP's in-batch negatives,
 * which mostly differ in several words or in kind).
 */
export type PretrainNegatives = 'perturbed' | 'random';

/** `size` rendered pairs over every prompt of the domain (both splits), half of them mismatched. */
export function renderedPairs(
  size: number,
  seed: number | string,
  negatives: PretrainNegatives = 'perturbed',
): RewardExample[] {
  if (!Number.isInteger(size) || size < 2) {
    throw new Error(`Reward pretraining needs at least 2 pairs (one good, one bad), got ${size}.`);
  }
  const pool = PROMPT_CATEGORIES.flatMap((c) => allPrompts(c));
  const rng = createRng(`reward-pretrain:${seed}`);
  return Array.from({ length: size }, (_, i) => {
    const prompt = rng.pick(pool);
    const image = renderPrompt(prompt, { seed: `reward-pretrain:${seed}:${i}` });
    if (i % 2 === 0) return { image, prompt: prompt.text, label: 1 };
    if (negatives === 'random') {
      let other = rng.pick(pool);
      while (other.text === prompt.text) other = rng.pick(pool);
      return { image, prompt: other.text, label: 0 };
    }
    return { image, prompt: perturbPrompt(prompt, 1, rng)[0], label: 0 };
  });
}
