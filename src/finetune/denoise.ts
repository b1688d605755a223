/**
 * Denoising training of a model folder's UNet on weighted samples — the engine under both the
 * pretrain and the finetune stages. Writes a new SD-layout folder (a copy of the base with the
 * new UNet weights, LoRA merged) that the pipeline loads like any other, checkpoints every N steps
 * and resumes exactly from `outDir/checkpoint`.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModelFolder, type DiffusionModel } from '../model/loader';
import { VaeEncoder } from '../model/vae';
import { parseSchedulerConfig } from '../model/schedulers/index';
import { loadModel, makeTensor, saveModel, tensorValue } from '../train/ir';
import { addLora, mergeLora } from '../train/lora';
import { writeDiffusersLora } from '../train/lora-export';
import { resolveLoraTargets } from '../train/module-names';
import type { onnx } from '../train/onnx';
import { AdamW, constantLr, cosineWithWarmup, Sgd, type Optimizer, type Schedule } from '../train/optim';
import { Trainer } from '../train/trainer';
import type { TrainSessionOptions } from '../train/session';
import { noiseSchedule, noisyBatch, TextConditioner, type DenoiseSample } from './data';
import { buildDenoisingObjective, DENOISE_LOSS, denoisingInputShapes } from './objective';

/** The optimiser block of the spec (optimizer). */
export interface OptimizerParams {
  type?: 'adamw' | 'sgd';
  weight_decay?: number;
  grad_clip?: number;
  schedule?: 'constant' | 'cosine';
  warmup_steps?: number;
}

/** The LoRA file beside a tuned model folder's parts (diffusers' default weight name). */
export const LORA_FILE = 'pytorch_lora_weights.safetensors';

export interface LoraParams {
  rank?: number;
  alpha?: number;
  /**
   * Modules that get adapters, in the diffusers/peft convention: a name matches modules whose path
   * ends with it (to_q, to_out.0), a glob matches whole module paths (down_blocks.*.attentions.*);
   * a pattern that names no module is matched against initializer names. Default ['*'].
   */
  targets?: string[];
}

export interface DenoiseTrainingOptions {
  /** The base SD-layout model folder. */
  baseDir: string;
  /** The new model folder (its `checkpoint/` holds the resume state). */
  outDir: string;
  /** Model-generated samples, weighted by label or reward. */
  modelData: readonly DenoiseSample[];
  /** Pretraining samples (their weight is β). */
  pretrainData: readonly DenoiseSample[];
  steps: number;
  learningRate: number;
  batchSize: number;
  optimizer?: OptimizerParams;
  method?: 'full' | 'lora';
  lora?: LoraParams;
  checkpointEvery?: number;
  /** Keep and export a moving average of the weights with this decay (Trainer's emaDecay). */
  emaDecay?: number;
  seed?: number;
  /** Chance of conditioning a sample on the empty prompt (default 0.1). */
  uncondProb?: number;
  onProgress?: (p: { step: number; steps: number; loss: number }) => void;
  signal?: AbortSignal;
  /** Image size for UNets with free spatial dims (default: the model folder's configured size). */
  image?: { height: number; width: number };
  /** Training session settings (execution providers, threads). */
  session?: TrainSessionOptions;
  /** Wall-clock time (ms since the epoch) after which training stops early, checkpoints and exports. */
  deadline?: number;
  /**
   * Scheduler config fields (diffusers names, e.g. prediction_type, num_train_timesteps, beta_*)
   * that replace the base folder's: training uses the changed schedule and target, and the new
   * folder's scheduler_config.json says so, so samplers match what the UNet learnt.
   */
  schedulerOverrides?: Record<string, unknown>;
}

export interface DenoiseTrainingResult {
  modelDir: string;
  /** Loss per step, from the first step of this run (a resumed run reports its own steps). */
  losses: number[];
  resumedFrom: number;
}

export async function trainDenoiser(o: DenoiseTrainingOptions): Promise<DenoiseTrainingResult> {
  const model = loadModelFolder(o.baseDir, { image: o.image });
  const schedulerFile = join(o.baseDir, 'scheduler', 'scheduler_config.json');
  const schedulerJson: Record<string, unknown> | undefined = o.schedulerOverrides
    ? { ...JSON.parse(readFileSync(schedulerFile, 'utf8')), ...o.schedulerOverrides }
    : undefined;
  if (schedulerJson) model.scheduler = parseSchedulerConfig(schedulerJson, `${schedulerFile} with overrides`);
  if (o.modelData.length + o.pretrainData.length === 0) {
    throw new Error('There is no training data: give labelled images or pretraining samples.');
  }
  const B = o.batchSize;
  if (model.vaeDecoder) {
    // Latent models train on x0 = VAE latents: stored by generate, or encoded here.
    await encodeMissingLatents(model, [...o.modelData, ...o.pretrainData]);
  } else {
    const { height, width } = model.image;
    const wrong = [...o.modelData, ...o.pretrainData].find(
      (s) => s.image.height !== height || s.image.width !== width,
    );
    if (wrong) {
      throw new Error(
        `${o.baseDir} is a pixel-space model of ${width}x${height} images, but a training image is ${wrong.image.width}x${wrong.image.height}; give images of the model's size.`,
      );
    }
  }
  const unet = loadModel(model.unet.path);
  const conditioner = await TextConditioner.open(model);
  await conditioner.prepare([
    '',
    ...o.modelData.map((s) => s.prompt),
    ...o.pretrainData.map((s) => s.prompt),
  ]);

  let objective: onnx.IModelProto = buildDenoisingObjective(unet, B, model.sample);
  const floats = new Set(
    (unet.graph?.initializer ?? []).filter((t) => t.dataType === 1).map((t) => t.name ?? ''),
  );
  let trainable: string[] | ((n: string) => boolean) = (n) => floats.has(n);
  let adapters: ReturnType<typeof addLora>['adapters'] = [];
  if ((o.method ?? 'full') === 'lora') {
    // diffusers/peft module names (to_q, down_blocks.*.attentions.*), or initializer-name globs.
    const targets = new Set(resolveLoraTargets(objective, o.lora?.targets ?? ['*']));
    const lora = addLora(objective, {
      match: (n) => targets.has(n),
      rank: o.lora?.rank ?? 4,
      alpha: o.lora?.alpha ?? 4,
      seed: o.seed ?? 0,
    });
    objective = lora.model;
    adapters = lora.adapters;
    trainable = lora.trainable;
  }

  const inputShapes = denoisingInputShapes(model.sample, conditioner.length, conditioner.width, B);
  const opt = o.optimizer ?? {};
  const optimizer: Optimizer =
    opt.type === 'sgd'
      ? new Sgd({ momentum: 0.9, weightDecay: opt.weight_decay ?? 0 })
      : new AdamW({ weightDecay: opt.weight_decay ?? 0 });
  const schedule: Schedule =
    opt.schedule === 'cosine'
      ? cosineWithWarmup({ lr: o.learningRate, warmupSteps: opt.warmup_steps ?? 0, totalSteps: o.steps })
      : opt.warmup_steps
        ? cosineWithWarmup({ lr: o.learningRate, warmupSteps: opt.warmup_steps, totalSteps: Infinity })
        : constantLr(o.learningRate);
  const alphaBar = noiseSchedule(model);
  const timestepType = model.dtypes.timestep === 'int64' ? 'int64' : 'float32';
  // With both kinds of data, half of every batch is each (the loss weights them by w and β).
  const nModel = o.pretrainData.length === 0 ? B : o.modelData.length === 0 ? 0 : Math.ceil(B / 2);
  const data = [...o.modelData, ...o.pretrainData];
  const ckptDir = join(o.outDir, 'checkpoint');
  const trainer = await Trainer.create({
    model: objective,
    trainable,
    loss: { output: DENOISE_LOSS },
    inputShapes,
    optimizer,
    schedule,
    clipNorm: opt.grad_clip ?? 1,
    seed: o.seed ?? 0,
    checkpointDir: ckptDir,
    checkpointEvery: o.checkpointEvery ?? 50,
    emaDecay: o.emaDecay,
    session: o.session,
    batch: (_step, rng) => {
      const idx = Array.from({ length: B }, (_, b) =>
        b < nModel
          ? Math.floor(rng.uniform() * o.modelData.length)
          : o.modelData.length + Math.floor(rng.uniform() * o.pretrainData.length),
      );
      return noisyBatch(
        data,
        idx,
        {
          alphaBar,
          conditioner,
          uncondProb: o.uncondProb ?? 0.1,
          timestepType,
          predictionType: model.scheduler.predictionType,
          sample: model.sample,
        },
        rng,
      );
    },
  });
  let resumedFrom = 0;
  if (existsSync(join(ckptDir, 'checkpoint.json'))) {
    trainer.resume();
    resumedFrom = trainer.step;
  }
  const losses: number[] = [];
  try {
    while (trainer.step < o.steps && !(o.deadline !== undefined && Date.now() > o.deadline)) {
      o.signal?.throwIfAborted();
      const r = await trainer.trainStep();
      losses.push(r.loss);
      o.onProgress?.({ step: trainer.step, steps: o.steps, loss: r.loss });
    }
    if (trainer.step % (o.checkpointEvery ?? 50) !== 0) trainer.checkpoint();
    const adapted = trainer.exportModel();
    const trained = adapters.length ? mergeLora(adapted, adapters) : adapted;
    writeModelFolder(o.baseDir, o.outDir, unet, trained);
    // The adapters alone, as diffusers' load_lora_weights reads them.
    if (adapters.length) writeDiffusersLora(join(o.outDir, LORA_FILE), adapted, adapters);
    else rmSync(join(o.outDir, LORA_FILE), { force: true });
    if (schedulerJson) {
      writeFileSync(
        join(o.outDir, 'scheduler', 'scheduler_config.json'),
        `${JSON.stringify(schedulerJson, null, 2)}\n`,
      );
    }
  } finally {
    await trainer.release();
    await conditioner.close();
  }
  return { modelDir: o.outDir, losses, resumedFrom };
}

/**
 * Copies the base folder to outDir (every part model_index.json lists: text encoder, tokenizer,
 * scheduler, VAE decoder and encoder, configs), with the UNet's weights replaced by the trained ones.
 */
function writeModelFolder(
  baseDir: string,
  outDir: string,
  unet: onnx.ModelProto,
  trained: onnx.IModelProto,
): void {
  const values = new Map((trained.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  const initializer = (unet.graph?.initializer ?? []).map((t) => {
    const v = values.get(t.name ?? '');
    return v ? makeTensor(t.name ?? '', tensorValue(v).data, tensorValue(v).dims) : t;
  });
  mkdirSync(outDir, { recursive: true });
  for (const entry of modelParts(baseDir)) {
    if (entry === 'unet') continue;
    rmSync(join(outDir, entry), { recursive: true, force: true });
    cpSync(join(baseDir, entry), join(outDir, entry), { recursive: true });
  }
  mkdirSync(join(outDir, 'unet'), { recursive: true });
  for (const f of ['config.json'])
    if (existsSync(join(baseDir, 'unet', f))) cpSync(join(baseDir, 'unet', f), join(outDir, 'unet', f));
  saveModel({ ...unet, graph: { ...unet.graph, initializer } }, join(outDir, 'unet', 'model.onnx'));
  writeFileSync(join(outDir, 'unet', 'TRAINED_FROM'), `${baseDir}\n`);
}

/**
 * model_index.json and the folder of every part it lists (optimum's `vae` is the vae_decoder and
 * vae_encoder folders), so diffusers' and optimum's pipelines can load the copy.
 */
function modelParts(dir: string): string[] {
  const index = JSON.parse(readFileSync(join(dir, 'model_index.json'), 'utf8')) as Record<string, unknown>;
  const listed = Object.entries(index)
    .filter(([, v]) => Array.isArray(v) && v[0] !== null)
    .flatMap(([k]) => (k === 'vae' ? ['vae_decoder', 'vae_encoder'] : [k]));
  return ['model_index.json', ...listed].filter((p) => existsSync(join(dir, p)));
}

/** VAE-encodes the samples that carry no latents (images at the model's resolution). */
async function encodeMissingLatents(model: DiffusionModel, samples: DenoiseSample[]): Promise<void> {
  const todo = samples.filter((s) => !s.latents);
  if (todo.length === 0) return;
  const { height, width } = model.image;
  const wrong = todo.find((s) => s.image.height !== height || s.image.width !== width);
  if (wrong) {
    throw new Error(
      `${model.dir} makes ${width}x${height} images, but a training image is ${wrong.image.width}x${wrong.image.height}; give images of the model's size.`,
    );
  }
  const vae = await VaeEncoder.open(model);
  try {
    const latents = await vae.encode(todo.map((s) => s.image));
    todo.forEach((s, i) => (s.latents = latents[i]));
  } finally {
    await vae.close();
  }
}
