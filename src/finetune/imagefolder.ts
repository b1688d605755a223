/**
 * Pretraining data (D_pre) from a folder in Hugging Face's `imagefolder` convention: images beside
 * a `metadata.jsonl` whose lines name each image (`file_name`, relative to the folder) and its
 * caption (`text`). Images are resized so their shorter side fits the model, centre-cropped (as
 * diffusers' training scripts do), and, for latent models, VAE-encoded once and cached by content
 * hash (the image's bytes, the size and the encoder), so reruns and resumed stages skip encoding.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Image } from '../domains/shapes/types';
import type { DiffusionModel } from '../model/loader';
import { VaeEncoder } from '../model/vae';
import { ImageFolderError, readImageFolder } from './imagefolder-metadata';

export { ImageFolderError, readImageFolder, type ImageFolderEntry } from './imagefolder-metadata';

/** An image file resized (shorter side to fit) and centre-cropped to width x height, CHW in [-1, 1]. */
export async function loadFolderImage(file: string, width: number, height: number): Promise<Image> {
  let raw: Buffer;
  try {
    raw = await sharp(file)
      .removeAlpha()
      .toColourspace('srgb')
      .resize(width, height, { fit: 'cover', position: 'centre', kernel: 'linear' })
      .raw()
      .toBuffer();
  } catch (err) {
    throw new ImageFolderError(
      `${file} cannot be read as an image (${(err as Error).message}); replace or drop it.`,
    );
  }
  const data = new Float32Array(3 * width * height);
  for (let i = 0; i < width * height; i++)
    for (let c = 0; c < 3; c++) data[c * width * height + i] = raw[i * 3 + c] / 127.5 - 1;
  return { width, height, data };
}

export interface FolderSample {
  image: Image;
  prompt: string;
  /** The VAE latents (scaled), for latent models. */
  latents?: Float32Array;
}

/**
 * The folder's images at the model's resolution, with latents for latent models: encoded with the
 * model's VAE encoder, or read back from `cacheDir` where an earlier run encoded the same bytes.
 */
export async function loadImageFolder(
  dir: string,
  model: DiffusionModel,
  options: { cacheDir?: string; limit?: number } = {},
): Promise<FolderSample[]> {
  const entries = readImageFolder(dir).slice(0, options.limit);
  const { width, height } = model.image;
  const samples: FolderSample[] = [];
  for (const e of entries)
    samples.push({ image: await loadFolderImage(e.file, width, height), prompt: e.text });
  if (!model.vaeDecoder) return samples;
  const encoderId = createHash('sha256')
    .update(readFileSync(model.vaeEncoder?.path ?? model.dir))
    .digest('hex');
  const keys = entries.map((e) =>
    createHash('sha256')
      .update(`${encoderId}\0${width}x${height}\0${model.vaeScalingFactor}\0`)
      .update(readFileSync(e.file))
      .digest('hex'),
  );
  const cached = (k: string) => (options.cacheDir ? join(options.cacheDir, `${k}.f32`) : undefined);
  const todo = samples.map((_, i) => i).filter((i) => !(cached(keys[i]) && existsSync(cached(keys[i])!)));
  if (todo.length > 0) {
    const vae = await VaeEncoder.open(model);
    try {
      const latents = await vae.encode(todo.map((i) => samples[i].image));
      todo.forEach((i, k) => {
        samples[i].latents = latents[k];
        const file = cached(keys[i]);
        if (!file) return;
        mkdirSync(options.cacheDir!, { recursive: true });
        writeFileSync(`${file}.tmp-${process.pid}`, Buffer.from(latents[k].buffer));
        renameSync(`${file}.tmp-${process.pid}`, file);
      });
    } finally {
      await vae.close();
    }
  }
  for (let i = 0; i < samples.length; i++) {
    if (samples[i].latents) continue;
    const buf = readFileSync(cached(keys[i])!);
    samples[i].latents = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  }
  return samples;
}
