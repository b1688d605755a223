import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NotOnnxError, readOnnxSignature, type OnnxSignature, type TensorSignature } from './onnxHeader';
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
  /** null for pixel-space models (model_index.json lists no vae_decoder). */
  vaeDecoder: ModelPart | null;
  tokenizerDir: string;
  scheduler: SchedulerConfig;
  /** Shape of one UNet sample: latents for SD, the image itself for pixel-space models. */
  sample: { channels: number; height: number; width: number };
  /** Decoded image size in pixels. */
  image: { height: number; width: number };
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
};

/**
 * Loads and checks an SD-layout folder (model_index.json, text_encoder/, unet/, optional
 * vae_decoder/, tokenizer/, scheduler/) without reading any weights. `image` overrides the output
 * size where the UNet's spatial dims are free.
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
  const index = readJson(join(dir, 'model_index.json'), true)!;
  const latentSpace = Array.isArray(index.vae_decoder) && index.vae_decoder[0] !== null;
  const textEncoder = part(dir, 'text_encoder');
  const unet = part(dir, 'unet');
  const vaeDecoder = latentSpace ? part(dir, 'vae_decoder') : null;

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
  const channels = sampleIn.dims[1];
  if (typeof channels !== 'number') {
    throw new ModelFolderError(`${unet.path}: input "sample" must have a fixed channel count.`);
  }
  const unetConfig = readJson(join(dir, 'unet', 'config.json'), false) ?? {};
  const vaeConfig = readJson(join(dir, 'vae_decoder', 'config.json'), false) ?? {};
  const vaeBlocks = Array.isArray(vaeConfig.block_out_channels) ? vaeConfig.block_out_channels.length : 4;
  const factor = vaeDecoder ? 2 ** (vaeBlocks - 1) : 1;
  const fixedH = typeof sampleIn.dims[2] === 'number' ? sampleIn.dims[2] : undefined;
  const fixedW = typeof sampleIn.dims[3] === 'number' ? sampleIn.dims[3] : undefined;
  const configured = typeof unetConfig.sample_size === 'number' ? unetConfig.sample_size : 64;
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
    tokenizerDir,
    scheduler,
    sample,
    image: { height: sample.height * factor, width: sample.width * factor },
    vaeScalingFactor: typeof vaeConfig.scaling_factor === 'number' ? vaeConfig.scaling_factor : 0.18215,
    promptLength: typeof idsIn.dims[1] === 'number' ? idsIn.dims[1] : undefined,
    dtypes: { inputIds: idsIn.dtype, timestep: input(unet, 'timestep').dtype, sample: sampleIn.dtype },
    unetBatch: typeof batchDim === 'number' ? batchDim : undefined,
  };
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
