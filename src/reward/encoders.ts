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
 *                trains for many epochs. Images go through CLIPImageProcessor's preprocessing
 *                (./clip-preprocess.ts: uint8, Pillow resampling, centre crop, normalisation).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type * as ort from 'onnxruntime-node';
import type { Image } from '../domains/shapes/types';
import { loadTokenizer, type PromptTokenizer } from '../model/tokenizer';
import type { TensorValue } from '../train/ir';
import { createSession, runSession } from '../train/session';
import { clipImageConfig, clipPixelValues, type ClipImageConfig, type PixelValues } from './clip-preprocess';
import { RewardInputError } from './errors';
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
    private readonly pre: ClipImageConfig,
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
      const { height, width } = pre.cropSize;
      const blank: Image = { width, height, data: new Float32Array(3 * width * height) };
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
    for (let start = 0; start < todo.length; start += CHUNK) {
      const part = todo.slice(start, start + CHUNK);
      // Without a centre crop, pixel_values follow each image's aspect ratio: one run per shape.
      const byShape = new Map<string, { data: Float32Array; pixels: PixelValues }[]>();
      for (const d of part) {
        const pixels = clipPixelValues(byData.get(d)!, this.pre);
        const key = `${pixels.height}x${pixels.width}`;
        const group = byShape.get(key);
        if (group) group.push({ data: d, pixels });
        else byShape.set(key, [{ data: d, pixels }]);
      }
      for (const group of byShape.values()) {
        const { height: h, width: w } = group[0].pixels;
        const batch = new Float32Array(group.length * 3 * h * w);
        group.forEach((g, i) => batch.set(g.pixels.data, i * 3 * h * w));
        const out = await runSession(this.vision.session, {
          [this.vision.input]: { dtype: 'float32', dims: [group.length, 3, h, w], data: batch },
        });
        unstack(out[this.vision.output]).forEach((f, i) => this.imageCache.set(group[i].data, f));
      }
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

/** CLIPImageProcessor's settings from preprocessor_config.json (its defaults where absent). */
function preprocessing(dir: string): ClipImageConfig {
  const file = join(dir, 'preprocessor_config.json');
  let cfg: Record<string, unknown> = {};
  if (existsSync(file)) {
    try {
      cfg = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new RewardInputError(`${file} is not valid JSON (${(e as Error).message}).`);
    }
    if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) {
      throw new RewardInputError(`${file} must hold a JSON object (CLIPImageProcessor's settings).`);
    }
  }
  return clipImageConfig(cfg, file);
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
