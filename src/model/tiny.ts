/**
 * Builds alignrun's tiny text-to-image model, randomly initialised, in the Stable Diffusion ONNX
 * folder layout, so the whole pipeline (and training) runs on it in seconds on a CPU.
 *
 *   node --import tsx scripts/build-tiny-model.ts models/tiny-random [--seed 0] [--batch N]
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { allPrompts, COUNT_WORDS, PROMPT_CATEGORIES } from '../domains/shapes/index';
import { createRng } from '../util/rng';
import { buildTinyTextEncoder } from './tiny/textEncoder';
import { buildTinyUnet } from './tiny/unet';
import { trainBpe } from './tiny/vocab';

export interface TinyModelOptions {
  /** Seed of the random initialisation: the same seed writes byte-identical files. */
  seed?: number;
  /** Fix the batch dim of both graphs (static shapes for the trainer); default symbolic. */
  batch?: number;
  /** Channels of the UNet's two levels (default TINY.blockChannels). */
  blockChannels?: [number, number];
}

/** Architecture of the tiny model; the pretrained tiny model uses the same. */
export const TINY = {
  imageSize: 32,
  channels: 3,
  blockChannels: [32, 64] as [number, number],
  groups: 8,
  timeEmbedDim: 128,
  textWidth: 64,
  textLayers: 2,
  textHeads: 4,
  attentionHeads: 1,
  maxLength: 16,
};

/** Words beyond the shapes prompts that users are likely to type. */
const EXTRA_WORDS =
  'an the and of with in image photo picture drawing shape shapes object objects five many small large big'.split(
    ' ',
  );

/** The words the tiny tokenizer learns: every word of every shapes-domain prompt, plus a few more. */
export function tinyVocabularyWords(): string[] {
  const words: string[] = [...COUNT_WORDS, ...EXTRA_WORDS];
  for (const category of PROMPT_CATEGORIES) {
    for (const p of allPrompts(category)) words.push(...p.text.toLowerCase().split(/\s+/));
  }
  return words;
}

/** Writes the tiny model folder to `outDir` (replacing it) and returns its path. */
export function buildTinyModel(outDir: string, options: TinyModelOptions = {}): string {
  const seed = options.seed ?? 0;
  const blockChannels = options.blockChannels ?? TINY.blockChannels;
  const dir = resolve(outDir);
  const rng = createRng(seed);
  const { vocab, merges } = trainBpe(tinyVocabularyWords());

  // Both graphs are built before the folder is replaced: a bad option leaves it as it was.
  const textEncoder = buildTinyTextEncoder(
    {
      vocabSize: Object.keys(vocab).length,
      maxLength: TINY.maxLength,
      width: TINY.textWidth,
      layers: TINY.textLayers,
      heads: TINY.textHeads,
      batch: options.batch,
    },
    rng.fork('text_encoder'),
  );
  const unet = buildTinyUnet(
    {
      imageSize: TINY.imageSize,
      channels: TINY.channels,
      blockChannels,
      groups: TINY.groups,
      timeEmbedDim: TINY.timeEmbedDim,
      textWidth: TINY.textWidth,
      textLength: TINY.maxLength,
      attentionHeads: TINY.attentionHeads,
      batch: options.batch,
    },
    rng.fork('unet'),
  );
  rmSync(dir, { recursive: true, force: true });
  textEncoder.save(join(dir, 'text_encoder', 'model.onnx'));
  unet.save(join(dir, 'unet', 'model.onnx'));

  const json = (path: string, value: unknown) => {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), `${JSON.stringify(value, null, 2)}\n`);
  };
  json('model_index.json', {
    _class_name: 'OnnxStableDiffusionPipeline',
    text_encoder: ['diffusers', 'OnnxRuntimeModel'],
    unet: ['diffusers', 'OnnxRuntimeModel'],
    // Pixel space: the UNet denoises the 32x32 RGB image itself, there is nothing to decode.
    vae_decoder: [null, null],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    scheduler: ['diffusers', 'DDIMScheduler'],
    alignrun: { builder: 'src/model/tiny.ts', seed, batch: options.batch ?? null, pixel_space: true },
  });
  json('unet/config.json', {
    sample_size: TINY.imageSize,
    in_channels: TINY.channels,
    out_channels: TINY.channels,
    block_out_channels: blockChannels,
    cross_attention_dim: TINY.textWidth,
  });
  json('text_encoder/config.json', {
    hidden_size: TINY.textWidth,
    num_hidden_layers: TINY.textLayers,
    num_attention_heads: TINY.textHeads,
    max_position_embeddings: TINY.maxLength,
    vocab_size: Object.keys(vocab).length,
  });
  json('scheduler/scheduler_config.json', {
    _class_name: 'DDIMScheduler',
    num_train_timesteps: 1000,
    beta_schedule: 'linear',
    beta_start: 0.0001,
    beta_end: 0.02,
    prediction_type: 'epsilon',
    timestep_spacing: 'trailing',
    steps_offset: 0,
    set_alpha_to_one: false,
    clip_sample: false,
  });
  json('tokenizer/vocab.json', vocab);
  writeFileSync(
    join(dir, 'tokenizer', 'merges.txt'),
    `#version: 0.2\n${merges.map(([a, b]) => `${a} ${b}\n`).join('')}`,
  );
  json('tokenizer/tokenizer_config.json', {
    tokenizer_class: 'CLIPTokenizer',
    model_max_length: TINY.maxLength,
    bos_token: '<|startoftext|>',
    eos_token: '<|endoftext|>',
    pad_token: '<|endoftext|>',
    unk_token: '<|endoftext|>',
  });
  return dir;
}
