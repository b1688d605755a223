import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  NotOnnxError,
  readOnnxOutline,
  readOnnxSignature,
  type OnnxGraphOutline,
  type OnnxSignature,
  type TensorSignature,
} from './onnxHeader';
import { readSchedulerConfig, SchedulerConfigError, type SchedulerConfig } from './schedulers/index';

/** A user-visible problem with a model folder; its message is one sentence for the CLI to print. */
export class ModelFolderError extends Error {
  override name = 'ModelFolderError';
}

/** One ONNX file of the pipeline: where it is and what it takes and gives. */
export interface ModelPart {
  path: string;
  signature: OnnxSignature;
}

/** A validated Stable-Diffusion-layout ONNX model folder. */
export interface DiffusionModel {
  dir: string;
  textEncoder: ModelPart;
  unet: ModelPart;
  /** null for pixel-space models (model_index.json lists no VAE). */
  vaeDecoder: ModelPart | null;
  /** The VAE's encoder where the folder has one (latent fine-tuning encodes images with it). */
  vaeEncoder: ModelPart | null;
  tokenizerDir: string;
  scheduler: SchedulerConfig;
  /** Shape of one UNet sample: latents for SD, the image itself for pixel-space models. */
  sample: { channels: number; height: number; width: number };
  /** Decoded image size in pixels. */
  image: { height: number; width: number };
  /** Pixels per latent along each side (1 for pixel-space models). */
  vaeScaleFactor: number;
  /** Latents are divided by this before decoding (SD's 0.18215). */
  vaeScalingFactor: number;
  /** Token ids per prompt when the text encoder fixes it, else undefined (the tokenizer decides). */
  promptLength: number | undefined;
  /** Element types the graphs expect, so callers build matching tensors. */
  dtypes: { inputIds: string; timestep: string; sample: string };
  /** A fixed batch size baked into the UNet (static-shape exports), else undefined. */
  unetBatch: number | undefined;
}

const EXPECTED: Record<string, { inputs: string[]; outputs: string[] }> = {
  text_encoder: { inputs: ['input_ids'], outputs: [] },
  unet: { inputs: ['sample', 'timestep', 'encoder_hidden_states'], outputs: ['out_sample'] },
  vae_decoder: { inputs: ['latent_sample'], outputs: ['sample'] },
  vae_encoder: { inputs: ['sample'], outputs: [] },
};

/** OnnxStableDiffusionPipeline's default size, used where no config says otherwise. */
const DEFAULT_IMAGE = 512;

/**
 * Loads and checks an SD-layout folder without reading any weights. Three layouts are accepted:
 * OnnxStableDiffusionPipeline's (model_index.json lists vae_decoder / vae_encoder), optimum's
 * (model_index.json of the diffusers pipeline lists `vae`; the parts are vae_decoder/ and
 * vae_encoder/, each with a config.json) and the diffusers conversion script's (free channel
 * dims, no part configs). Latent vs pixel space, channels and sizes come from the parts present,
 * their graphs and their config.json files; disagreements are one ModelFolderError sentence.
 * `image` overrides the output size where the UNet's spatial dims are free.
 */
export function loadModelFolder(
  dir: string,
  options: { image?: { height: number; width: number } } = {},
): DiffusionModel {
  dir = resolve(dir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ModelFolderError(
      `Model folder ${dir} does not exist; pass the folder of an ONNX diffusion export.`,
    );
  }
  const indexFile = join(dir, 'model_index.json');
  const index = readJson(indexFile, true)!;
  const listed = (key: string) => Array.isArray(index[key]) && index[key][0] !== null;
  const latentSpace = listed('vae_decoder') || listed('vae');
  const textEncoder = part(dir, 'text_encoder');
  const unet = part(dir, 'unet');
  if (!latentSpace && existsSync(join(dir, 'vae_decoder', 'model.onnx'))) {
    throw new ModelFolderError(
      `${indexFile} lists no VAE but ${join(dir, 'vae_decoder', 'model.onnx')} exists; list "vae_decoder" in model_index.json (or remove the folder for a pixel-space model).`,
    );
  }
  const vaeDecoder = latentSpace ? part(dir, 'vae_decoder') : null;
  const encoderFile = join(dir, 'vae_encoder', 'model.onnx');
  if (listed('vae_encoder') && !existsSync(encoderFile)) {
    throw new ModelFolderError(
      `${indexFile} lists vae_encoder but ${encoderFile} is missing; copy the VAE encoder from the export (or drop it from model_index.json).`,
    );
  }
  const vaeEncoder = latentSpace && existsSync(encoderFile) ? part(dir, 'vae_encoder') : null;
  if (vaeEncoder) encoderOutput(vaeEncoder);

  const tokenizerDir = join(dir, 'tokenizer');
  if (!existsSync(tokenizerDir)) {
    throw new ModelFolderError(
      `${tokenizerDir} is missing; copy the tokenizer folder from the model export.`,
    );
  }
  let scheduler: SchedulerConfig;
  try {
    scheduler = readSchedulerConfig(join(dir, 'scheduler', 'scheduler_config.json'));
  } catch (err) {
    if (err instanceof SchedulerConfigError) throw new ModelFolderError(err.message);
    throw err;
  }

  const sampleIn = input(unet, 'sample');
  if (sampleIn.dims.length !== 4) {
    throw new ModelFolderError(
      `${unet.path}: input "sample" must have 4 dims (batch, channels, height, width).`,
    );
  }
  const unetConfig = readJson(join(dir, 'unet', 'config.json'), false) ?? {};
  const vaeConfig =
    ['vae_decoder', 'vae_encoder', 'vae']
      .map((p) => readJson(join(dir, p, 'config.json'), false))
      .find((c) => c !== undefined) ?? {};
  const channels = unetChannels(unet, sampleIn, unetConfig);
  if (vaeDecoder) {
    const latent = vaeLatentChannels(vaeDecoder, vaeConfig);
    if (latent !== undefined && latent !== channels) {
      throw new ModelFolderError(
        `${unet.path} takes ${channels}-channel samples but ${vaeDecoder.path} decodes ${latent}-channel latents; the UNet and the VAE come from different models, export them from one pipeline.`,
      );
    }
  } else if (channels !== 3) {
    throw new ModelFolderError(
      `${unet.path} takes ${channels}-channel samples but ${indexFile} lists no VAE; a pixel-space model's UNet takes 3-channel images (list the VAE as "vae_decoder" or "vae" for a latent model).`,
    );
  }
  const factor = vaeDecoder ? vaeFactor(vaeDecoder, vaeConfig) : 1;
  const fixedH = typeof sampleIn.dims[2] === 'number' ? sampleIn.dims[2] : undefined;
  const fixedW = typeof sampleIn.dims[3] === 'number' ? sampleIn.dims[3] : undefined;
  const configured =
    typeof unetConfig.sample_size === 'number' ? unetConfig.sample_size : DEFAULT_IMAGE / factor;
  const sample = {
    channels,
    height: fixedH ?? (options.image ? options.image.height / factor : configured),
    width: fixedW ?? (options.image ? options.image.width / factor : configured),
  };
  if (!Number.isInteger(sample.height) || !Number.isInteger(sample.width)) {
    throw new ModelFolderError(
      `Image size must be a multiple of ${factor} for ${dir}; pick another height/width.`,
    );
  }
  if (
    options.image &&
    (sample.height * factor !== options.image.height || sample.width * factor !== options.image.width)
  ) {
    throw new ModelFolderError(
      `${unet.path} is fixed to ${sample.height * factor}x${sample.width * factor} images; ask for that size or export the UNet with free spatial dims.`,
    );
  }
  const idsIn = input(textEncoder, 'input_ids');
  const batchDim = sampleIn.dims[0];
  return {
    dir,
    textEncoder,
    unet,
    vaeDecoder,
    vaeEncoder,
    tokenizerDir,
    scheduler,
    sample,
    image: { height: sample.height * factor, width: sample.width * factor },
    vaeScaleFactor: factor,
    vaeScalingFactor: typeof vaeConfig.scaling_factor === 'number' ? vaeConfig.scaling_factor : 0.18215,
    promptLength: typeof idsIn.dims[1] === 'number' ? idsIn.dims[1] : undefined,
    dtypes: { inputIds: idsIn.dtype, timestep: input(unet, 'timestep').dtype, sample: sampleIn.dtype },
    unetBatch: typeof batchDim === 'number' ? batchDim : undefined,
  };
}

/** What a VAE encoder gives: the distribution's parameters (optimum) or a sample drawn in the graph. */
export function encoderOutput(p: ModelPart): 'latent_parameters' | 'latent_sample' {
  const names = p.signature.outputs.map((o) => o.name);
  const found = (['latent_parameters', 'latent_sample'] as const).find((n) => names.includes(n));
  if (!found) {
    throw new ModelFolderError(
      `${p.path} gives (${names.map((n) => `"${n}"`).join(', ')}); a VAE encoder must output "latent_parameters" (optimum) or "latent_sample" (diffusers' conversion script).`,
    );
  }
  return found;
}

/** The UNet's sample channels: its input's fixed dim, else unet/config.json, else conv_in's weight. */
function unetChannels(unet: ModelPart, sampleIn: TensorSignature, config: Record<string, any>): number {
  const fromGraph = typeof sampleIn.dims[1] === 'number' ? sampleIn.dims[1] : undefined;
  const fromConfig = typeof config.in_channels === 'number' ? config.in_channels : undefined;
  if (fromGraph !== undefined && fromConfig !== undefined && fromGraph !== fromConfig) {
    throw new ModelFolderError(
      `${unet.path} takes ${fromGraph}-channel samples but unet/config.json says in_channels ${fromConfig}; fix the config or export again.`,
    );
  }
  const channels = fromGraph ?? fromConfig ?? convInputChannels(unet, 'sample');
  if (channels === undefined) {
    throw new ModelFolderError(
      `${unet.path} leaves the channel dim of "sample" free and there is no unet/config.json with in_channels; copy the UNet's config.json from the diffusers model.`,
    );
  }
  return channels;
}

function vaeLatentChannels(decoder: ModelPart, config: Record<string, any>): number | undefined {
  const dim = input(decoder, 'latent_sample').dims[1];
  if (typeof dim === 'number') return dim;
  if (typeof config.latent_channels === 'number') return config.latent_channels;
  return convInputChannels(decoder, 'latent_sample');
}

/** Pixels per latent: 2^(VAE blocks - 1) from the config, else 2^(upsampling Resize nodes). */
function vaeFactor(decoder: ModelPart, config: Record<string, any>): number {
  if (Array.isArray(config.block_out_channels)) return 2 ** (config.block_out_channels.length - 1);
  const resizes = outline(decoder).nodes.filter((n) => n.opType === 'Resize').length;
  return 2 ** resizes;
}

/** Input channels of the first Conv that reads graph input `name` (its weight's dim 1). */
function convInputChannels(p: ModelPart, name: string): number | undefined {
  const o = outline(p);
  const conv = o.nodes.find((n) => n.opType === 'Conv' && n.inputs[0] === name);
  const dims = conv ? o.initializerDims.get(conv.inputs[1]) : undefined;
  return dims && dims.length === 4 ? dims[1] : undefined;
}

function outline(p: ModelPart): OnnxGraphOutline {
  try {
    return readOnnxOutline(p.path);
  } catch (err) {
    throw new ModelFolderError(
      `${p.path} is not a readable ONNX model (${(err as Error).message}); export it again.`,
    );
  }
}

function part(dir: string, name: keyof typeof EXPECTED): ModelPart {
  const path = join(dir, name, 'model.onnx');
  if (!existsSync(path)) {
    throw new ModelFolderError(`${path} is missing; export the ${name} of the model to ONNX into that file.`);
  }
  let signature: OnnxSignature;
  try {
    signature = readOnnxSignature(path);
  } catch (err) {
    if (!(err instanceof NotOnnxError)) throw err;
    throw new ModelFolderError(`${path} is not an ONNX model (${err.message}); export it again.`);
  }
  const { inputs, outputs } = EXPECTED[name];
  const have = (list: TensorSignature[]) => list.map((t) => t.name);
  for (const [kind, wanted, got] of [
    ['input', inputs, have(signature.inputs)],
    ['output', outputs, have(signature.outputs)],
  ] as const) {
    const missing = wanted.filter((n) => !got.includes(n));
    if (missing.length > 0) {
      throw new ModelFolderError(
        `${path} has no ${kind} named "${missing[0]}" (it has ${got.map((n) => `"${n}"`).join(', ') || 'none'}); export it with the Stable Diffusion ONNX names.`,
      );
    }
  }
  if (signature.outputs.length === 0) throw new ModelFolderError(`${path} has no outputs; export it again.`);
  return { path, signature };
}

function input(p: ModelPart, name: string): TensorSignature {
  return p.signature.inputs.find((t) => t.name === name)!;
}

function readJson(file: string, required: boolean): Record<string, any> | undefined {
  if (!existsSync(file)) {
    if (!required) return undefined;
    throw new ModelFolderError(
      `${file} is missing; a diffusion model folder needs one (copy it from the export).`,
    );
  }
  try {
    const value = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value;
  } catch {
    throw new ModelFolderError(
      `${file} is not a valid JSON object; fix it or copy it again from the export.`,
    );
  }
}
