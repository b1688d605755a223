/**
 * Training batches for the denoising objective: a clean image x0, its prompt and weight become
 * x_t = sqrt(ᾱ_t) x0 + sqrt(1 − ᾱ_t) ε with t uniform over the model's own training timesteps,
 * the regression target what the model's scheduler says the UNet predicts (ε, or the velocity
 * v = sqrt(ᾱ_t) ε − sqrt(1 − ᾱ_t) x0 of Salimans & Ho), and the frozen text encoder's hidden
 * states as conditioning.
 */
import type * as ort from 'onnxruntime-node';
import type { Image } from '../domains/shapes/types';
import type { DiffusionModel } from '../model/loader';
import { alphasCumprod } from '../model/schedulers/index';
import { loadTokenizer, type PromptTokenizer } from '../model/tokenizer';
import type { TensorValue } from '../train/ir';
import type { Rng } from '../train/rng';
import { createSession, runSession } from '../train/session';
import { DENOISE_INPUTS } from './objective';

/** One training pair and its weight in the loss. */
export interface DenoiseSample {
  image: Image;
  prompt: string;
  weight: number;
  /** x0 in a latent model's space (the VAE's scaled latents); pixel models train on `image`. */
  latents?: Float32Array;
}

/**
 * The frozen text encoder of a model folder, with a cache: prompts repeat across steps, so each
 * is encoded once.
 */
export class TextConditioner {
  private readonly cache = new Map<string, Float32Array>();

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly tokenizer: PromptTokenizer,
    private readonly idsType: 'int32' | 'int64',
    readonly length: number,
    readonly width: number,
  ) {}

  static async open(model: DiffusionModel): Promise<TextConditioner> {
    const session = await createSession(model.textEncoder.path);
    const tokenizer = loadTokenizer(model.tokenizerDir, { maxLength: model.promptLength });
    const idsType = model.dtypes.inputIds === 'int64' ? 'int64' : 'int32';
    const probe = new TextConditioner(session, tokenizer, idsType, tokenizer.maxLength, 0);
    const width = (await probe.encodeOne('')).length / tokenizer.maxLength;
    return new TextConditioner(session, tokenizer, idsType, tokenizer.maxLength, width);
  }

  private async encodeOne(prompt: string): Promise<Float32Array> {
    const ids = this.tokenizer.encode(prompt);
    const data = this.idsType === 'int64' ? BigInt64Array.from(ids, BigInt) : Int32Array.from(ids);
    const out = await runSession(this.session, {
      input_ids: { dtype: this.idsType, dims: [1, ids.length], data },
    });
    const name = 'last_hidden_state' in out ? 'last_hidden_state' : Object.keys(out)[0];
    return out[name].data as Float32Array;
  }

  /** Encodes every prompt not cached yet (call before batches are drawn: batches are synchronous). */
  async prepare(prompts: Iterable<string>): Promise<void> {
    for (const p of prompts) if (!this.cache.has(p)) this.cache.set(p, await this.encodeOne(p));
  }

  /** Hidden states [L * D] of a prepared prompt. */
  get(prompt: string): Float32Array {
    const h = this.cache.get(prompt);
    if (!h) throw new Error(`Prompt "${prompt}" was not prepared for conditioning.`);
    return h;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/** The model's noise schedule: ᾱ_t for t = 0 .. T−1, from its scheduler config. */
export function noiseSchedule(model: DiffusionModel): Float64Array {
  return alphasCumprod(model.scheduler);
}

/** x_t = sqrt(ᾱ_t) x0 + sqrt(1 − ᾱ_t) ε, elementwise. */
export function addNoise(x0: Float32Array, eps: Float32Array, alphaBar: number): Float32Array {
  const a = Math.sqrt(alphaBar);
  const s = Math.sqrt(1 - alphaBar);
  const out = new Float32Array(x0.length);
  for (let i = 0; i < x0.length; i++) out[i] = a * x0[i] + s * eps[i];
  return out;
}

export interface NoisyBatchOptions {
  alphaBar: Float64Array;
  conditioner: TextConditioner;
  /** Chance that a sample is conditioned on the empty prompt, so guidance has an unconditional model. */
  uncondProb: number;
  /** The UNet's timestep type (SD exports take int64, the tiny model float32). */
  timestepType?: 'float32' | 'int64';
  /** What the UNet predicts (the scheduler config's prediction_type); default 'epsilon'. */
  predictionType?: 'epsilon' | 'v_prediction';
  /** Dims of one UNet sample; default: a pixel model's [3, image height, image width]. */
  sample?: { channels: number; height: number; width: number };
}

/** The regression target for x0 noised with ε at ᾱ: ε itself, or v = sqrt(ᾱ) ε − sqrt(1 − ᾱ) x0. */
export function denoiseTarget(
  x0: Float32Array,
  eps: Float32Array,
  alphaBar: number,
  predictionType: 'epsilon' | 'v_prediction' = 'epsilon',
): Float32Array {
  if (predictionType === 'epsilon') return eps;
  const a = Math.sqrt(alphaBar);
  const s = Math.sqrt(1 - alphaBar);
  return Float32Array.from(eps, (e, i) => a * e - s * x0[i]);
}

/**
 * Feeds for the objective from samples[indices]: t, ε and the dropout draw come from rng. The
 * objective's `noise` input carries the regression target (ε, or v under v-prediction).
 */
export function noisyBatch(
  samples: readonly DenoiseSample[],
  indices: readonly number[],
  options: NoisyBatchOptions,
  rng: Rng,
): Record<string, TensorValue> {
  const B = indices.length;
  const first = samples[indices[0]].image;
  const { channels, width, height } = options.sample ?? {
    channels: 3,
    width: first.width,
    height: first.height,
  };
  const per = channels * width * height;
  const { conditioner } = options;
  const ctxPer = conditioner.length * conditioner.width;
  const sample = new Float32Array(B * per);
  const noise = new Float32Array(B * per);
  const timestep = new Float32Array(B);
  const context = new Float32Array(B * ctxPer);
  const weight = new Float32Array(B);
  const T = options.alphaBar.length;
  indices.forEach((k, b) => {
    const s = samples[k];
    const x0 = s.latents ?? s.image.data;
    if (x0.length !== per) {
      throw new RangeError(
        `A training sample holds ${x0.length} values; the UNet takes ${channels}x${height}x${width} = ${per}.`,
      );
    }
    const t = Math.min(T - 1, Math.floor(rng.uniform() * T));
    const eps = new Float32Array(per);
    for (let i = 0; i < per; i++) eps[i] = rng.normal();
    sample.set(addNoise(x0, eps, options.alphaBar[t]), b * per);
    noise.set(denoiseTarget(x0, eps, options.alphaBar[t], options.predictionType), b * per);
    timestep[b] = t;
    const dropped = rng.uniform() < options.uncondProb;
    context.set(conditioner.get(dropped ? '' : s.prompt), b * ctxPer);
    weight[b] = s.weight;
  });
  const I = DENOISE_INPUTS;
  return {
    [I.sample]: { dtype: 'float32', dims: [B, channels, height, width], data: sample },
    [I.timestep]:
      options.timestepType === 'int64'
        ? { dtype: 'int64', dims: [B], data: BigInt64Array.from(timestep, (t) => BigInt(t)) }
        : { dtype: 'float32', dims: [B], data: timestep },
    [I.context]: { dtype: 'float32', dims: [B, conditioner.length, conditioner.width], data: context },
    [I.noise]: { dtype: 'float32', dims: [B, channels, height, width], data: noise },
    [I.weight]: { dtype: 'float32', dims: [B], data: weight },
  };
}
