/**
 * Scoring with a trained reward model: r(x, z) for images and their prompts, from the folder the
 * reward stage writes (reward.onnx, reward.json, tokenizer/).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import type { Image } from '../domains/shapes/types';
import { loadTokenizer, type PromptTokenizer } from '../model/tokenizer';
import { createSession, runSession } from '../train/session';
import { REWARD_IO } from './network';

const CHUNK = 64;

/** Scores images[i] against prompts[i] with an open scoring session. */
export async function scoreWithSession(
  session: ort.InferenceSession,
  tokenizer: PromptTokenizer,
  images: readonly Image[],
  prompts: readonly string[],
): Promise<Float32Array> {
  if (images.length !== prompts.length) {
    throw new RangeError(`got ${images.length} images but ${prompts.length} prompts to score.`);
  }
  const out = new Float32Array(images.length);
  for (let start = 0; start < images.length; start += CHUNK) {
    const n = Math.min(CHUNK, images.length - start);
    const { width: w, height: h } = images[start];
    const pixels = new Float32Array(n * 3 * h * w);
    const ids = new Int32Array(n * tokenizer.maxLength);
    for (let i = 0; i < n; i++) {
      pixels.set(images[start + i].data, i * 3 * h * w);
      ids.set(tokenizer.encode(prompts[start + i]), i * tokenizer.maxLength);
    }
    const res = await runSession(session, {
      [REWARD_IO.image]: { dtype: 'float32', dims: [n, 3, h, w], data: pixels },
      [REWARD_IO.inputIds]: { dtype: 'int32', dims: [n, tokenizer.maxLength], data: ids },
    });
    out.set(res[REWARD_IO.score].data as Float32Array, start);
  }
  return out;
}

/** A reward model folder, opened for scoring. */
export class RewardModel {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly tokenizer: PromptTokenizer,
  ) {}

  static async open(dir: string): Promise<RewardModel> {
    const file = join(dir, 'reward.onnx');
    if (!existsSync(file)) {
      throw new Error(`${file} is missing; pass the output folder of a reward stage.`);
    }
    const session = await createSession(file);
    const want = [REWARD_IO.image, REWARD_IO.inputIds];
    if (want.some((n) => !session.inputNames.includes(n)) || !session.outputNames.includes(REWARD_IO.score)) {
      throw new Error(
        `${file} takes (${session.inputNames.join(', ')}) and gives (${session.outputNames.join(', ')}); a reward model takes (image, input_ids) and gives (score): train it with alignrun's reward stage.`,
      );
    }
    return new RewardModel(session, loadTokenizer(join(dir, 'tokenizer')));
  }

  score(images: readonly Image[], prompts: readonly string[]): Promise<Float32Array> {
    return scoreWithSession(this.session, this.tokenizer, images, prompts);
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
