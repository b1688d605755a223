/**
 * Scoring with a trained reward model: r(x, z) for images and their prompts, from the folder the
 * reward stage writes (reward.onnx, reward.json, and tokenizer/ for the tiny backbone; a CLIP
 * backbone is opened from the export folder reward.json names).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import type { Image } from '../domains/shapes/types';
import { createSession, runSession } from '../train/session';
import { ClipEncoder, TinyEncoder, type RewardEncoder } from './encoders';
import { FEATURE_IO, REWARD_IO, type RewardNetConfig } from './network';

const CHUNK = 64;

/** Scores images[i] against prompts[i] with an open scoring session. */
export async function scoreWithSession(
  session: ort.InferenceSession,
  encoder: RewardEncoder,
  images: readonly Image[],
  prompts: readonly string[],
): Promise<Float32Array> {
  if (images.length !== prompts.length) {
    throw new RangeError(`got ${images.length} images but ${prompts.length} prompts to score.`);
  }
  const out = new Float32Array(images.length);
  for (let start = 0; start < images.length; start += CHUNK) {
    const end = Math.min(start + CHUNK, images.length);
    const res = await runSession(
      session,
      await encoder.feeds(images.slice(start, end), prompts.slice(start, end)),
    );
    out.set(res[REWARD_IO.score].data as Float32Array, start);
  }
  return out;
}

/** What reward.json records about a centred head (its reference rows are in reward.onnx). */
export interface CenteredHeadJson {
  type: 'centered';
  reference_images: number;
  /** The name of the Constant in reward.onnx that holds the reference rows. */
  constant: string;
  /** The training pairs drawn as references, in the order of their rows. */
  reference: { prompt: string; label: number }[];
}

/**
 * What reward.json says about the network (absent in folders of older versions: tiny). A centred
 * head's reference rows live in reward.onnx as a constant, so its scorer needs nothing more.
 */
interface RewardJson {
  config?: RewardNetConfig;
  backbone?: { type: 'tiny' | 'clip'; path?: string };
  head?: CenteredHeadJson;
}

/** A reward model folder, opened for scoring. */
export class RewardModel {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly encoder: RewardEncoder,
  ) {}

  static async open(dir: string): Promise<RewardModel> {
    const file = join(dir, 'reward.onnx');
    if (!existsSync(file)) {
      throw new Error(`${file} is missing; pass the output folder of a reward stage.`);
    }
    const jsonFile = join(dir, 'reward.json');
    const meta: RewardJson = existsSync(jsonFile) ? JSON.parse(readFileSync(jsonFile, 'utf8')) : {};
    const session = await createSession(file);
    const features = meta.config?.kind === 'features';
    const want = features ? [FEATURE_IO.image, FEATURE_IO.text] : [REWARD_IO.image, REWARD_IO.inputIds];
    if (want.some((n) => !session.inputNames.includes(n)) || !session.outputNames.includes(REWARD_IO.score)) {
      await session.release();
      throw new Error(
        `${file} takes (${session.inputNames.join(', ')}) and gives (${session.outputNames.join(', ')}); a reward model takes (${want.join(', ')}) and gives (score): train it with alignrun's reward stage.`,
      );
    }
    let encoder: RewardEncoder;
    try {
      if (meta.config?.kind === 'features') {
        if (!meta.backbone?.path)
          throw new Error(`${jsonFile} names no CLIP backbone folder; retrain the reward model.`);
        encoder = await ClipEncoder.open(meta.backbone.path);
      } else {
        const imageSize = meta.config?.imageSize ?? 32;
        encoder = TinyEncoder.fromTokenizerDir(join(dir, 'tokenizer'), imageSize);
      }
    } catch (err) {
      // A refused or unreadable backbone: the scorer's session is not handed to anyone.
      await session.release();
      throw err;
    }
    return new RewardModel(session, encoder);
  }

  score(images: readonly Image[], prompts: readonly string[]): Promise<Float32Array> {
    return scoreWithSession(this.session, this.encoder, images, prompts);
  }

  async close(): Promise<void> {
    await this.session.release();
    await this.encoder.close();
  }
}
