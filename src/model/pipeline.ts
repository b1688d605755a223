import type { Image } from '../domains/shapes/types';
import { createRng, type Seed } from '../util/rng';
import { loadModelFolder, ModelFolderError, type DiffusionModel } from './loader';
import { createScheduler, type SchedulerName } from './schedulers/index';
import { OnnxWorker, type LoadOptions, type TensorData } from './session';
import { loadTokenizer, type PromptTokenizer } from './tokenizer';

export interface GenerateRequest {
  /** One prompt per image of this call. */
  prompts: string[];
  /** One seed per image: it alone decides that image's initial noise. */
  seeds: Seed[];
  scheduler: SchedulerName;
  steps: number;
  /** Classifier-free guidance weight; at most 1 runs no unconditional pass. */
  guidanceScale: number;
  /** Text of the unconditional branch (default ""). */
  negativePrompt?: string;
  signal?: AbortSignal;
  /** Called after each denoising step. */
  onStep?: (done: number, total: number) => void;
  /**
   * Initial noise [n, C, h, w] instead of the seeds' (e.g. a diffusers run's `latents`); scaled by
   * the scheduler's init_noise_sigma, as diffusers' prepare_latents does.
   */
  initialLatents?: Float32Array;
}

/** An image and the final sample it was decoded from (latents, or the image for pixel models). */
export interface GeneratedImage extends Image {
  latents: Float32Array;
}

export interface PipelineOptions extends LoadOptions {
  /** Image size for UNets with free spatial dims (default: the model's configured size). */
  image?: { height: number; width: number };
}

/**
 * Text to image with an SD-layout ONNX model: tokenise, encode (conditional and unconditional
 * prompts in one batch for guidance), denoise with a scheduler over the UNet, decode latents
 * with the VAE unless the model works in pixel space. Sessions live in a worker thread.
 */
export class DiffusionPipeline {
  private constructor(
    readonly model: DiffusionModel,
    readonly tokenizer: PromptTokenizer,
    private readonly worker: OnnxWorker,
    /** The provider each part actually runs on (cpu after a fallback). */
    readonly providers: Record<string, string>,
  ) {}

  static async open(modelDir: string, options: PipelineOptions = {}): Promise<DiffusionPipeline> {
    const model = loadModelFolder(modelDir, { image: options.image });
    if (model.dtypes.sample !== 'float32') {
      throw new ModelFolderError(
        `${model.unet.path} takes ${model.dtypes.sample} samples; alignrun runs float32 exports only for now, export in float32.`,
      );
    }
    const tokenizer = loadTokenizer(model.tokenizerDir, { maxLength: model.promptLength });
    const worker = new OnnxWorker();
    const providers: Record<string, string> = {};
    try {
      const parts = { text_encoder: model.textEncoder, unet: model.unet, vae_decoder: model.vaeDecoder };
      for (const [name, part] of Object.entries(parts)) {
        if (part) providers[name] = (await worker.load(name, part.path, options)).provider;
      }
    } catch (err) {
      await worker.close();
      throw err;
    }
    return new DiffusionPipeline(model, tokenizer, worker, providers);
  }

  async close(): Promise<void> {
    await this.worker.close();
  }

  /** Generates one image per prompt, CHW RGB in [-1, 1], with the latents it was decoded from. */
  async generate(req: GenerateRequest): Promise<GeneratedImage[]> {
    const n = req.prompts.length;
    if (req.seeds.length !== n) throw new RangeError(`got ${n} prompts but ${req.seeds.length} seeds.`);
    if (n === 0) return [];
    const { channels, height, width } = this.model.sample;
    const per = channels * height * width;
    const scheduler = createScheduler(req.scheduler, this.model.scheduler, req.steps);
    const guided = req.guidanceScale > 1;

    const texts = guided ? [...req.prompts.map(() => req.negativePrompt ?? ''), ...req.prompts] : req.prompts;
    const context = await this.encode(texts);

    let sample = new Float32Array(n * per);
    if (req.initialLatents) {
      if (req.initialLatents.length !== n * per) {
        throw new RangeError(
          `initial latents hold ${req.initialLatents.length} values; ${n} samples of ${channels}x${height}x${width} need ${n * per}.`,
        );
      }
      for (let j = 0; j < n * per; j++) sample[j] = req.initialLatents[j] * scheduler.initNoiseSigma;
    } else {
      req.seeds.forEach((seed, i) => {
        const rng = createRng(seed);
        for (let j = 0; j < per; j++) sample[i * per + j] = rng.normal() * scheduler.initNoiseSigma;
      });
    }

    const total = scheduler.timesteps.length;
    for (let step = 0; step < total; step++) {
      req.signal?.throwIfAborted();
      const input = scheduler.scaleModelInput(sample, step);
      const batch = guided ? 2 * n : n;
      const x = new Float32Array(batch * per);
      x.set(input);
      if (guided) x.set(input, n * per);
      const out = await this.runBatched('unet', batch, {
        sample: { dtype: 'float32', dims: [batch, channels, height, width], data: x },
        timestep: this.timestepTensor(scheduler.timesteps[step], batch),
        encoder_hidden_states: { ...context, data: context.data.slice() },
      });
      let eps = out.out_sample.data as Float32Array;
      if (guided) {
        const g = req.guidanceScale;
        const guidedEps = new Float32Array(n * per);
        for (let j = 0; j < n * per; j++) {
          const uncond = eps[j];
          guidedEps[j] = uncond + g * (eps[n * per + j] - uncond);
        }
        eps = guidedEps;
      }
      sample = scheduler.step(eps, step, sample) as Float32Array<ArrayBuffer>;
      req.onStep?.(step + 1, total);
    }
    req.signal?.throwIfAborted();
    const pixels = await this.decode(sample, n);
    const { height: h, width: w } = this.model.image;
    return Array.from({ length: n }, (_, i) => {
      const data = pixels.slice(i * 3 * h * w, (i + 1) * 3 * h * w);
      for (let j = 0; j < data.length; j++) data[j] = Math.min(1, Math.max(-1, data[j]));
      return { width: w, height: h, data, latents: sample.slice(i * per, (i + 1) * per) };
    });
  }

  /** Hidden states [texts, L, D] for the prompts. */
  private async encode(texts: string[]): Promise<TensorData> {
    const L = this.tokenizer.maxLength;
    const ids = texts.flatMap((t) => this.tokenizer.encode(t));
    const data =
      this.model.dtypes.inputIds === 'int64' ? BigInt64Array.from(ids, BigInt) : Int32Array.from(ids);
    const out = await this.runBatched('text_encoder', texts.length, {
      input_ids: {
        dtype: this.model.dtypes.inputIds === 'int64' ? 'int64' : 'int32',
        dims: [texts.length, L],
        data,
      },
    });
    const name = this.model.textEncoder.signature.outputs.some((o) => o.name === 'last_hidden_state')
      ? 'last_hidden_state'
      : this.model.textEncoder.signature.outputs[0].name;
    return out[name];
  }

  private async decode(sample: Float32Array, n: number): Promise<Float32Array> {
    if (!this.model.vaeDecoder) return sample;
    const { channels, height, width } = this.model.sample;
    const scaled = sample.map((v) => v / this.model.vaeScalingFactor);
    const out = await this.runBatched('vae_decoder', n, {
      latent_sample: { dtype: 'float32', dims: [n, channels, height, width], data: scaled },
    });
    return out.sample.data as Float32Array;
  }

  private timestepTensor(t: number, batch: number): TensorData {
    const sig = this.model.unet.signature.inputs.find((i) => i.name === 'timestep')!;
    // Exports differ: one timestep per sample [N], one shared [1], or a scalar [].
    const dims = sig.dims.length === 0 ? [] : sig.dims[0] === 1 ? [1] : [batch];
    const count = dims.length === 0 ? 1 : dims[0];
    switch (this.model.dtypes.timestep) {
      case 'int64':
        return { dtype: 'int64', dims, data: new BigInt64Array(count).fill(BigInt(Math.round(t))) };
      case 'float32':
        return { dtype: 'float32', dims, data: new Float32Array(count).fill(t) };
      default:
        throw new ModelFolderError(
          `${this.model.unet.path} takes a ${this.model.dtypes.timestep} timestep; alignrun supports float32 or int64.`,
        );
    }
  }

  /**
   * Runs a part on `n` rows along dim 0. A graph with a fixed batch (static-shape builds) is run
   * in chunks of that size, the last one padded by repeating its final row.
   */
  private async runBatched(
    name: string,
    n: number,
    feeds: Record<string, TensorData>,
  ): Promise<Record<string, TensorData>> {
    const part =
      { text_encoder: this.model.textEncoder, unet: this.model.unet }[name] ?? this.model.vaeDecoder!;
    const batchDim = part.signature.inputs[0].dims[0];
    const fixed = typeof batchDim === 'number' ? batchDim : undefined;
    if (!fixed || fixed === n) return this.worker.run(name, feeds);
    const chunks: Record<string, TensorData>[] = [];
    for (let start = 0; start < n; start += fixed) {
      const chunk: Record<string, TensorData> = {};
      for (const [key, t] of Object.entries(feeds))
        chunk[key] = t.dims[0] === n ? rows(t, start, fixed, n) : t;
      chunks.push(await this.worker.run(name, chunk));
    }
    const out: Record<string, TensorData> = {};
    for (const key of Object.keys(chunks[0])) {
      const per = chunks[0][key].data.length / fixed;
      const data = new Float32Array(n * per);
      chunks.forEach((c, i) =>
        data.set(
          (c[key].data as Float32Array).subarray(0, Math.min(fixed, n - i * fixed) * per),
          i * fixed * per,
        ),
      );
      out[key] = { dtype: 'float32', dims: [n, ...chunks[0][key].dims.slice(1)], data };
    }
    return out;
  }
}

/** Rows [start, start + count) of a tensor, repeating its last row past the end. */
function rows(t: TensorData, start: number, count: number, n: number): TensorData {
  const per = t.data.length / n;
  const out = new (t.data.constructor as Float32ArrayConstructor)(count * per);
  for (let r = 0; r < count; r++) {
    const src = Math.min(start + r, n - 1);
    out.set((t.data as Float32Array).subarray(src * per, (src + 1) * per), r * per);
  }
  return { dtype: t.dtype, dims: [count, ...t.dims.slice(1)], data: out };
}
