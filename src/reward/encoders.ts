/**
 * What turns (image, prompt) pairs into the reward network's two inputs.
 *
 *   TinyEncoder  pixels and token ids: the tiny backbone encodes them inside the network and
 *                trains with the head.
 *   ClipEncoder  features from a frozen CLIP ONNX export (the layout of transformers.js' CLIP
 *                repositories: vision_model.onnx and text_model.onnx, the towers with their
 *                projections, beside or under onnx/; tokenizer.json or vocab.json + merges.txt;
 *                preprocessor_config.json). Embeddings are L2-normalised and cached (per image and
 *                per prompt text), so the frozen towers run once per distinct input while the head
 *                trains for many epochs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type * as ort from 'onnxruntime-node';
import type { Image } from '../domains/shapes/types';
import { loadTokenizer, type PromptTokenizer } from '../model/tokenizer';
import type { TensorValue } from '../train/ir';
import { createSession, runSession } from '../train/session';
import { RewardInputError } from './data';
import { rewardInputs, type FeatureNetConfig, type RewardNetConfig, type TinyNetConfig } from './network';

export interface RewardEncoder {
  /** The network config this encoder feeds (`hidden` is the head's width). */
  config(hidden: number): RewardNetConfig;
  /** The network's two inputs for `images` (B) and `texts` (B * C: C candidates per image). */
  feeds(images: readonly Image[], texts: readonly string[]): Promise<Record<string, TensorValue>>;
  close(): Promise<void>;
}

/** Pixels and token ids for the tiny backbone. */
export class TinyEncoder implements RewardEncoder {
  constructor(
    readonly tokenizer: PromptTokenizer,
    private readonly vocabSize: number,
    private readonly imageSize: number,
  ) {}

  config(hidden: number): TinyNetConfig {
    return {
      imageSize: this.imageSize,
      textLength: this.tokenizer.maxLength,
      vocabSize: this.vocabSize,
      padId: this.tokenizer.padId,
      hidden,
    };
  }

  async feeds(images: readonly Image[], texts: readonly string[]): Promise<Record<string, TensorValue>> {
    const io = rewardInputs(this.config(1));
    const S = this.imageSize;
    const plane = 3 * S * S;
    const pixels = new Float32Array(images.length * plane);
    images.forEach((im, i) => {
      if (im.width !== S || im.height !== S) {
        throw new RewardInputError(
          `An image is ${im.width}x${im.height}; this reward model takes ${S}x${S} images.`,
        );
      }
      pixels.set(im.data, i * plane);
    });
    const L = this.tokenizer.maxLength;
    const ids = new Int32Array(texts.length * L);
    texts.forEach((t, i) => ids.set(this.tokenizer.encode(t), i * L));
    return {
      [io.image.name]: { dtype: 'float32', dims: [images.length, 3, S, S], data: pixels },
      [io.text.name]: { dtype: 'int32', dims: [texts.length, L], data: ids },
    };
  }

  /** The encoder of a tokenizer folder (CLIP's vocab.json + merges.txt, or tokenizer.json). */
  static fromTokenizerDir(dir: string, imageSize: number): TinyEncoder {
    return new TinyEncoder(loadTokenizer(dir), vocabularySize(dir), imageSize);
  }

  async close(): Promise<void> {}
}

/** Vocabulary size of a CLIP tokenizer folder (vocab.json, else tokenizer.json's model.vocab). */
export function vocabularySize(dir: string): number {
  const vocabFile = join(dir, 'vocab.json');
  const vocab = existsSync(vocabFile)
    ? JSON.parse(readFileSync(vocabFile, 'utf8'))
    : JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')).model.vocab;
  return Math.max(...Object.values(vocab as Record<string, number>)) + 1;
}

/** CLIP's preprocessing constants (openai/CLIP), used where preprocessor_config.json is silent. */
const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];
const CHUNK = 32;

interface Tower {
  session: ort.InferenceSession;
  input: string;
  output: string;
}

/** Features from a frozen CLIP ONNX export. */
export class ClipEncoder implements RewardEncoder {
  private readonly imageCache = new WeakMap<Float32Array, Float32Array>();
  private readonly textCache = new Map<string, Float32Array>();

  private constructor(
    readonly dir: string,
    private readonly vision: Tower,
    private readonly text: Tower & { mask?: string; ids: 'int32' | 'int64' },
    readonly tokenizer: PromptTokenizer,
    private readonly eosId: number,
    private readonly pre: { size: number; mean: number[]; std: number[] },
    readonly imageFeatures: number,
    readonly textFeatures: number,
  ) {}

  /** Opens the export in `dir`; a missing or unexpected part is one RewardInputError sentence. */
  static async open(dir: string): Promise<ClipEncoder> {
    dir = resolve(dir);
    const find = (name: string) => [join(dir, name), join(dir, 'onnx', name)].find((f) => existsSync(f));
    const visionFile = find('vision_model.onnx');
    const textFile = find('text_model.onnx');
    if (!visionFile || !textFile) {
      throw new RewardInputError(
        `${dir} has no ${visionFile ? 'text_model.onnx' : 'vision_model.onnx'} (looked in the folder and in onnx/); the CLIP backbone needs the vision and text towers with projections as separate ONNX files, as in transformers.js' CLIP exports.`,
      );
    }
    const tokDir = existsSync(join(dir, 'tokenizer')) ? join(dir, 'tokenizer') : dir;
    const tokenizer = loadTokenizer(tokDir);
    const pre = preprocessing(dir);
    // A part that does not fit is refused after its session opened: release what is open.
    const opened: ort.InferenceSession[] = [];
    try {
      const vSession = await createSession(visionFile, { optimization: 'all' });
      opened.push(vSession);
      const tSession = await createSession(textFile, { optimization: 'all' });
      opened.push(tSession);
      const vision: Tower = {
        session: vSession,
        input: requireInput(vSession, visionFile, 'pixel_values'),
        output: pickOutput(vSession, visionFile, ['image_embeds', 'pooler_output'], 'image embedding'),
      };
      const idsMeta = tSession.inputMetadata.find((m) => m.name === 'input_ids');
      const text = {
        session: tSession,
        input: requireInput(tSession, textFile, 'input_ids'),
        output: pickOutput(tSession, textFile, ['text_embeds', 'pooler_output'], 'text embedding'),
        mask: tSession.inputNames.includes('attention_mask') ? 'attention_mask' : undefined,
        ids: (idsMeta && idsMeta.isTensor && idsMeta.type === 'int32' ? 'int32' : 'int64') as
          'int32' | 'int64',
      };
      // The end token: what follows the start token when encoding the empty prompt.
      const eosId = tokenizer.encode('')[1];
      const probe = new ClipEncoder(dir, vision, text, tokenizer, eosId, pre, 0, 0);
      const blank: Image = {
        width: pre.size,
        height: pre.size,
        data: new Float32Array(3 * pre.size * pre.size),
      };
      const [imageFeatures, textFeatures] = [
        (await probe.encodeImages([blank]))[0].length,
        (await probe.encodeTexts(['']))[0].length,
      ];
      return new ClipEncoder(dir, vision, text, tokenizer, eosId, pre, imageFeatures, textFeatures);
    } catch (e) {
      await Promise.all(opened.map((o) => o.release()));
      throw e;
    }
  }

  config(hidden: number): FeatureNetConfig {
    return { kind: 'features', imageFeatures: this.imageFeatures, textFeatures: this.textFeatures, hidden };
  }

  async feeds(images: readonly Image[], texts: readonly string[]): Promise<Record<string, TensorValue>> {
    const io = rewardInputs(this.config(1));
    return {
      [io.image.name]: stack(await this.encodeImages(images), this.imageFeatures),
      [io.text.name]: stack(await this.encodeTexts(texts), this.textFeatures),
    };
  }

  /** Unit-length image embeddings, one per image (cached by the image's pixel array). */
  async encodeImages(images: readonly Image[]): Promise<Float32Array[]> {
    const todo = [...new Set(images.map((im) => im.data))].filter((d) => !this.imageCache.has(d));
    const byData = new Map(images.map((im) => [im.data, im]));
    const S = this.pre.size;
    for (let start = 0; start < todo.length; start += CHUNK) {
      const part = todo.slice(start, start + CHUNK);
      const pixels = new Float32Array(part.length * 3 * S * S);
      part.forEach((d, i) => pixels.set(this.preprocess(byData.get(d)!), i * 3 * S * S));
      const out = await runSession(this.vision.session, {
        [this.vision.input]: { dtype: 'float32', dims: [part.length, 3, S, S], data: pixels },
      });
      unstack(out[this.vision.output]).forEach((f, i) => this.imageCache.set(part[i], f));
    }
    return images.map((im) => this.imageCache.get(im.data)!);
  }

  /** Unit-length text embeddings, one per text (cached by the text). */
  async encodeTexts(texts: readonly string[]): Promise<Float32Array[]> {
    const todo = [...new Set(texts)].filter((t) => !this.textCache.has(t));
    const L = this.tokenizer.maxLength;
    for (let start = 0; start < todo.length; start += CHUNK) {
      const part = todo.slice(start, start + CHUNK);
      const ids = part.flatMap((t) => this.tokenizer.encode(t));
      const feeds: Record<string, TensorValue> = {
        [this.text.input]:
          this.text.ids === 'int64'
            ? { dtype: 'int64', dims: [part.length, L], data: BigInt64Array.from(ids, BigInt) }
            : { dtype: 'int32', dims: [part.length, L], data: Int32Array.from(ids) },
      };
      if (this.text.mask) {
        // Real tokens up to and including the first end token.
        const mask = new BigInt64Array(part.length * L);
        for (let i = 0; i < part.length; i++) {
          const row = ids.slice(i * L, (i + 1) * L);
          const end = row.indexOf(this.eosId, 1);
          for (let j = 0; j <= (end < 0 ? L - 1 : end); j++) mask[i * L + j] = 1n;
        }
        feeds[this.text.mask] = { dtype: 'int64', dims: [part.length, L], data: mask };
      }
      const out = await runSession(this.text.session, feeds);
      unstack(out[this.text.output]).forEach((f, i) => this.textCache.set(part[i], f));
    }
    return texts.map((t) => this.textCache.get(t)!);
  }

  /** CHW [-1, 1] -> CHW at CLIP's input size (bilinear), normalised with CLIP's mean and std. */
  private preprocess(im: Image): Float32Array {
    const { size: S, mean, std } = this.pre;
    const out = new Float32Array(3 * S * S);
    const sx = im.width / S;
    const sy = im.height / S;
    for (let y = 0; y < S; y++) {
      const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), im.height - 1);
      const y0 = Math.floor(fy);
      const y1 = Math.min(y0 + 1, im.height - 1);
      const wy = fy - y0;
      for (let x = 0; x < S; x++) {
        const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), im.width - 1);
        const x0 = Math.floor(fx);
        const x1 = Math.min(x0 + 1, im.width - 1);
        const wx = fx - x0;
        for (let c = 0; c < 3; c++) {
          const p = (yy: number, xx: number) => im.data[(c * im.height + yy) * im.width + xx];
          const v =
            (1 - wy) * ((1 - wx) * p(y0, x0) + wx * p(y0, x1)) + wy * ((1 - wx) * p(y1, x0) + wx * p(y1, x1));
          out[(c * S + y) * S + x] = ((v + 1) / 2 - mean[c]) / std[c];
        }
      }
    }
    return out;
  }

  async close(): Promise<void> {
    await this.vision.session.release();
    await this.text.session.release();
  }
}

/** The first of `names` the session outputs; else a RewardInputError naming what it has. */
function pickOutput(s: ort.InferenceSession, file: string, names: string[], what: string): string {
  const found = names.find((n) => s.outputNames.includes(n));
  if (!found) {
    throw new RewardInputError(
      `${file} gives (${s.outputNames.join(', ')}); the CLIP backbone needs its ${what} as ${names.map((n) => `'${n}'`).join(' or ')}.`,
    );
  }
  return found;
}

/** `name`, when the session takes it; else a RewardInputError naming what it takes. */
function requireInput(s: ort.InferenceSession, file: string, name: string): string {
  if (!s.inputNames.includes(name)) {
    throw new RewardInputError(
      `${file} takes (${s.inputNames.join(', ')}); the CLIP backbone feeds it '${name}'.`,
    );
  }
  return name;
}

/** Input size, mean and std from preprocessor_config.json (CLIP's defaults where absent). */
function preprocessing(dir: string): { size: number; mean: number[]; std: number[] } {
  const file = join(dir, 'preprocessor_config.json');
  let cfg: Record<string, any> = {};
  if (existsSync(file)) {
    try {
      cfg = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new RewardInputError(`${file} is not valid JSON (${(e as Error).message}).`);
    }
  }
  const crop = cfg.crop_size ?? cfg.size ?? 224;
  const size = typeof crop === 'number' ? crop : (crop.height ?? crop.shortest_edge ?? 224);
  return { size, mean: cfg.image_mean ?? CLIP_MEAN, std: cfg.image_std ?? CLIP_STD };
}

/** Rows of a [N, D] output, each scaled to unit length. */
function unstack(t: TensorValue): Float32Array[] {
  const [n, d] = [t.dims[0], t.dims[t.dims.length - 1]];
  const data = t.data as Float32Array;
  return Array.from({ length: n }, (_, i) => {
    const row = Float32Array.from(data.subarray(i * d, (i + 1) * d));
    const norm = Math.hypot(...row) || 1;
    for (let j = 0; j < d; j++) row[j] /= norm;
    return row;
  });
}

function stack(rows: Float32Array[], width: number): TensorValue {
  const data = new Float32Array(rows.length * width);
  rows.forEach((r, i) => data.set(r, i * width));
  return { dtype: 'float32', dims: [rows.length, width], data };
}
