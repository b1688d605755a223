import {
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  truncateSync,
  appendFileSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { hashString, type Seed } from '../util/rng';
import { imageToPng } from './images';
import { DiffusionPipeline } from './pipeline';
import type { SchedulerName } from './schedulers/index';
import type { ExecutionProvider } from './session';

export interface GenerateSpec {
  modelDir: string;
  prompts: { id: string; text: string }[];
  imagesPerPrompt: number;
  /** Run seed; each image's own seed derives from (seed, prompt id, index). */
  seed: Seed;
  scheduler: SchedulerName;
  steps: number;
  guidanceScale: number;
  /** Images per pipeline call. */
  batchSize: number;
  provider?: ExecutionProvider;
  allowCpuFallback?: boolean;
  negativePrompt?: string;
}

export interface GenerateRun {
  /** Output folder: images/*.png, tensors/*.f32, latents/*.f32 (latent models), manifest.jsonl. */
  outDir: string;
  /** Called after each image is on disk (and once at start for images already there). */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** One line of manifest.jsonl. */
export interface ManifestEntry {
  promptId: string;
  prompt: string;
  index: number;
  /** The image's own seed, derived from the run seed, prompt id and index. */
  seed: number;
  settings: Settings;
  /** Paths relative to the output folder. */
  png: string;
  tensor: string;
  /** Raw tensor layout: float32 little-endian, CHW, values in [-1, 1]. */
  dims: number[];
  /** Latent models: the final latents the image was decoded from (float32, CHW), and their dims. */
  latents?: string;
  latentDims?: number[];
  provider: string;
}

interface Settings {
  runSeed: Seed;
  scheduler: SchedulerName;
  steps: number;
  guidanceScale: number;
  negativePrompt: string;
}

/** A user-visible problem with a generate request or its output folder. */
export class GenerateError extends Error {
  override name = 'GenerateError';
}

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Seed of image `index` of prompt `promptId` in a run seeded `seed`. */
export function imageSeed(seed: Seed, promptId: string, index: number): number {
  return hashString(`${String(seed)}\u0000${promptId}\u0000${index}`);
}

/**
 * The `generate` stage: writes a PNG and a raw float tensor per image and appends a manifest line
 * once both are on disk. Re-running into the same folder skips images already in the manifest;
 * since every image depends only on its own seed (not on its batch), a resumed run writes exactly
 * what an uninterrupted one would.
 */
export async function generateImages(spec: GenerateSpec, run: GenerateRun): Promise<ManifestEntry[]> {
  checkSpec(spec);
  const settings: Settings = {
    runSeed: spec.seed,
    scheduler: spec.scheduler,
    steps: spec.steps,
    guidanceScale: spec.guidanceScale,
    negativePrompt: spec.negativePrompt ?? '',
  };
  const manifestPath = join(run.outDir, 'manifest.jsonl');
  mkdirSync(join(run.outDir, 'images'), { recursive: true });
  mkdirSync(join(run.outDir, 'tensors'), { recursive: true });
  mkdirSync(join(run.outDir, 'latents'), { recursive: true });
  const done = readManifest(manifestPath, settings);

  const jobs = spec.prompts.flatMap((p) =>
    Array.from({ length: spec.imagesPerPrompt }, (_, index) => ({ ...p, index })),
  );
  const key = (id: string, index: number) => `${id}#${index}`;
  const todo = jobs.filter((j) => !done.has(key(j.id, j.index)));
  let count = jobs.length - todo.length;
  run.onProgress?.(count, jobs.length);
  if (todo.length > 0) {
    const pipeline = await DiffusionPipeline.open(spec.modelDir, {
      provider: spec.provider,
      allowCpuFallback: spec.allowCpuFallback,
    });
    try {
      for (let start = 0; start < todo.length; start += spec.batchSize) {
        const batch = todo.slice(start, start + spec.batchSize);
        const seeds = batch.map((j) => imageSeed(spec.seed, j.id, j.index));
        const images = await pipeline.generate({
          prompts: batch.map((j) => j.text),
          seeds,
          scheduler: spec.scheduler,
          steps: spec.steps,
          guidanceScale: spec.guidanceScale,
          negativePrompt: spec.negativePrompt,
          signal: run.signal,
        });
        for (let i = 0; i < batch.length; i++) {
          run.signal?.throwIfAborted();
          const job = batch[i];
          const name = `${job.id}-${job.index}`;
          const entry: ManifestEntry = {
            promptId: job.id,
            prompt: job.text,
            index: job.index,
            seed: seeds[i],
            settings,
            png: `images/${name}.png`,
            tensor: `tensors/${name}.f32`,
            dims: [3, images[i].height, images[i].width],
            provider: pipeline.providers.unet,
          };
          if (pipeline.model.vaeDecoder) {
            const { channels, height, width } = pipeline.model.sample;
            entry.latents = `latents/${name}.f32`;
            entry.latentDims = [channels, height, width];
            const lat = images[i].latents;
            writeAtomic(
              join(run.outDir, entry.latents),
              new Uint8Array(lat.buffer, lat.byteOffset, lat.byteLength),
            );
          }
          writeAtomic(
            join(run.outDir, entry.tensor),
            new Uint8Array(images[i].data.buffer, images[i].data.byteOffset, images[i].data.byteLength),
          );
          writeAtomic(join(run.outDir, entry.png), await imageToPng(images[i]));
          appendFileSync(manifestPath, `${JSON.stringify(entry)}\n`);
          done.set(key(job.id, job.index), entry);
          run.onProgress?.(++count, jobs.length);
        }
      }
    } finally {
      await pipeline.close();
    }
  }
  return jobs.map((j) => done.get(key(j.id, j.index))!);
}

function checkSpec(spec: GenerateSpec): void {
  const ids = new Set<string>();
  for (const p of spec.prompts) {
    if (!SAFE_ID.test(p.id)) {
      throw new GenerateError(
        `Prompt id "${p.id}" cannot name a file; use letters, digits, dots, dashes and underscores.`,
      );
    }
    if (ids.has(p.id))
      throw new GenerateError(`Prompt id "${p.id}" appears twice; give each prompt its own id.`);
    ids.add(p.id);
  }
  for (const [name, value] of [
    ['imagesPerPrompt', spec.imagesPerPrompt],
    ['batchSize', spec.batchSize],
    ['steps', spec.steps],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new GenerateError(`${name} must be a positive integer, got ${value}.`);
    }
  }
}

/**
 * Entries already written, keyed by prompt id and index. A line cut short by a crash is dropped
 * (and cut from the file, so appends stay line-aligned); entries made with other settings refuse.
 */
function readManifest(path: string, settings: Settings): Map<string, ManifestEntry> {
  const out = new Map<string, ManifestEntry>();
  if (!existsSync(path)) return out;
  const text = readFileSync(path, 'utf8');
  const end = text.lastIndexOf('\n') + 1;
  if (end < text.length) truncateSync(path, Buffer.byteLength(text.slice(0, end)));
  const want = JSON.stringify(settings);
  for (const line of text.slice(0, end).split('\n')) {
    if (!line) continue;
    const entry = JSON.parse(line) as ManifestEntry;
    if (JSON.stringify(entry.settings) !== want) {
      throw new GenerateError(
        `${path} holds images generated with other settings (${JSON.stringify(entry.settings)}); write to a new folder.`,
      );
    }
    out.set(`${entry.promptId}#${entry.index}`, entry);
  }
  return out;
}

function writeAtomic(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}
