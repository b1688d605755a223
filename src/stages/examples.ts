// Labelled and unlabelled (image, prompt) pairs read back from the label and generate stages'
// artifacts: the images are the raw float tensors the generate stage wrote beside its PNGs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Image } from '../domains/shapes/types';
import type { LabelValue } from '../labels/types';
import type { ManifestEntry } from '../model/generate';
import type { StageContext, StageInput } from '../runtime/stage';
import type { InputRef } from '../spec/plan';
import { readJsonlArtifact, sharedDir, upstreamArtifact } from './io';

/** One line of labels.jsonl, the label stage's output (./label.ts writes it). */
export interface LabelRecord {
  /** Image id in the label task (the PNG's base name). */
  image: string;
  promptId: string;
  prompt: string;
  category: string | null;
  split: string | null;
  /** Paths inside the `images` artifact. */
  png: string;
  tensor: string;
  /** Aggregated: majority 0 (bad) or 1 (good), a tie counts as 0; mean, the share of good answers. */
  label: number;
  good: number;
  bad: number;
  /** Whether the image reached the stage's quorum of good/bad answers. */
  quorum: boolean;
  /** Rater name -> answer, skips included. */
  raters: Record<string, LabelValue>;
}

export interface LabelledExample {
  image: Image;
  /** The final latents the image was decoded from (latent models). */
  latents?: Float32Array;
  prompt: string;
  label: number;
  category?: string;
  split?: string;
}

/** A generate stage's raw float tensor (CHW, or NCHW with N = 1) as an image. */
export function readTensor(dir: string, rel: string, dims: number[]): Image {
  const buf = readFileSync(join(dir, rel));
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const [, h, w] = dims.length === 4 ? dims.slice(1) : dims;
  return { width: w, height: h, data };
}

/** Images that reached the label stage's quorum, with their aggregated label. */
export async function labelledExamples(
  input: StageInput,
  ctx: StageContext,
  labels: InputRef,
): Promise<LabelledExample[]> {
  const records = await readJsonlArtifact<LabelRecord>(ctx, upstreamArtifact(input, labels, 'labels'));
  const dir = await sharedDir(ctx, upstreamArtifact(input, labels, 'images'), 'manifest.jsonl');
  const entries = new Map(readManifest(dir).map((m) => [m.tensor, m]));
  return records
    .filter((r) => r.quorum)
    .map((r) => ({
      image: readTensor(dir, r.tensor, entries.get(r.tensor)!.dims),
      latents: readLatents(dir, entries.get(r.tensor)!),
      prompt: r.prompt,
      label: r.label,
      category: r.category ?? undefined,
      split: r.split ?? undefined,
    }));
}

/** Every image a generate stage produced, unlabelled. */
export async function generatedImages(
  input: StageInput,
  ctx: StageContext,
  images: InputRef,
): Promise<{ image: Image; prompt: string; latents?: Float32Array }[]> {
  const dir = await sharedDir(ctx, upstreamArtifact(input, images, 'images'), 'manifest.jsonl');
  return readManifest(dir).map((m) => ({
    image: readTensor(dir, m.tensor, m.dims),
    latents: readLatents(dir, m),
    prompt: m.prompt,
  }));
}

/** An entry's stored latents (latent models), else undefined. */
export function readLatents(dir: string, m: ManifestEntry): Float32Array | undefined {
  if (!m.latents) return undefined;
  const buf = readFileSync(join(dir, m.latents));
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** A generate stage's manifest.jsonl in an images folder. */
export function readManifest(dir: string): ManifestEntry[] {
  return readFileSync(join(dir, 'manifest.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as ManifestEntry);
}
