// Label sources other than people at the page: simulated raters that play human raters with the
// shapes judge (for the quickstart, tests and studies of label noise), and imported label files.
import { readFile } from 'node:fs/promises';
import { judge as shapesJudge, parsePrompt } from '../domains/shapes';
import type { Image } from '../domains/shapes/types';
import { pngToImage } from '../model/images';
import { createRng, type Seed } from '../util/rng';
import type { LabelStore } from './store';
import { LabelError, type LabelValue, type TaskImage } from './types';

export { importLabels, parseLabelFile, type ImportedLabel } from './import';

export interface SimulatedRater {
  name: string;
  /** Probability that the rater flips the judge's verdict. Default 0. */
  noise?: number;
  /** In [-1, 1]: probability of answering good (positive) or bad (negative) regardless of the image. Default 0. */
  bias?: number;
}

export interface SimulateOptions {
  store: LabelStore;
  task: string;
  raters: SimulatedRater[];
  seed: Seed;
  /** Whether the image matches its prompt, or null when the prompt is not understood (the rater skips). Default: the shapes judge. */
  isAligned?: (image: Image, prompt: string) => boolean | null;
  /** Loads an image of the task. Default: decode the PNG at its path. */
  loadImage?: (image: TaskImage) => Promise<Image>;
}

export interface SimulateResult {
  labels: number;
  perRater: Record<string, { good: number; bad: number; skip: number }>;
}

/** The shapes judge as a rater sees it: aligned or not, null for a prompt outside the domain. */
export function shapesAligned(image: Image, prompt: string): boolean | null {
  const parsed = parsePrompt(prompt);
  return parsed ? shapesJudge(image, parsed).aligned : null;
}

/**
 * One simulated answer. The random draws depend only on (seed, rater, image), so a rater's
 * answer to an image never changes with the order or the set of images labelled.
 */
export function simulatedLabel(
  aligned: boolean | null,
  rater: SimulatedRater,
  seed: Seed,
  imageId: string,
): LabelValue {
  if (aligned === null) return 'skip';
  const rng = createRng(`${seed}/${rater.name}/${imageId}`);
  const flip = rng.next() < (rater.noise ?? 0);
  const biased = rng.next() < Math.abs(rater.bias ?? 0);
  if (biased) return (rater.bias ?? 0) > 0 ? 'good' : 'bad';
  return aligned !== flip ? 'good' : 'bad';
}

function checkRater(r: SimulatedRater): void {
  const noise = r.noise ?? 0;
  const bias = r.bias ?? 0;
  if (!(noise >= 0 && noise <= 1)) {
    throw new LabelError(
      'invalid',
      `Simulated rater '${r.name}': noise must be between 0 and 1, got ${noise}.`,
    );
  }
  if (!(bias >= -1 && bias <= 1)) {
    throw new LabelError(
      'invalid',
      `Simulated rater '${r.name}': bias must be between -1 and 1, got ${bias}.`,
    );
  }
}

/** Every simulated rater labels every image of the task; each rater's labels commit together. */
export async function simulateLabels(options: SimulateOptions): Promise<SimulateResult> {
  const {
    store,
    task,
    raters,
    seed,
    isAligned = shapesAligned,
    loadImage = async (im: TaskImage) => pngToImage(await readFile(im.path)),
  } = options;
  raters.forEach(checkRater);
  if (!store.getTask(task)) throw new LabelError('not_found', `There is no task '${task}'.`);
  const images = store.taskImages(task);
  // Judge each image once: raters differ only in how they report the verdict.
  const verdicts = new Map<string, boolean | null>();
  for (const im of images) verdicts.set(im.id, isAligned(await loadImage(im), im.prompt));

  const result: SimulateResult = { labels: 0, perRater: {} };
  for (const r of raters) {
    const id = store.ensureRater(r.name).id;
    const counts = { good: 0, bad: 0, skip: 0 };
    const inputs = images.map((im) => {
      const value = simulatedLabel(verdicts.get(im.id)!, r, seed, im.id);
      counts[value] += 1;
      return { task, image: im.id, rater: id, value };
    });
    store.recordLabels(inputs);
    result.labels += inputs.length;
    result.perRater[r.name] = counts;
  }
  return result;
}
