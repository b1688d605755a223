// A training loop around one onnxruntime session of the training graph: run it, clip, update,
// checkpoint every N steps; resume from a checkpoint exactly (same weights, optimiser state,
// step and RNG state, so k steps + resume for N-k steps == N steps, bit for bit on CPU).
import type * as ort from 'onnxruntime-node';
import { loadCheckpoint, saveCheckpoint } from './checkpoint';
import {
  type LossSpec,
  type TrainingGraphOptions,
  buildTrainingGraph,
  gradName,
  LOSS,
  savedActivations,
  selectTrainable,
} from './engine';
import { type TensorValue, makeTensor, tensorValue } from './ir';
import { trackPeakRss } from './memory';
import { onnx } from './onnx';
import { type Optimizer, type Schedule, type Tensors, clipGradNorm } from './optim';
import { Rng } from './rng';
import { type TrainSessionOptions, createSession, runSession } from './session';
import { inferShapes } from './shapes';

export interface TrainerOptions {
  /** The forward graph; its float32 initializers hold the starting weights. */
  model: onnx.IModelProto;
  trainable: TrainingGraphOptions['trainable'];
  loss?: LossSpec;
  output?: string;
  inputShapes?: Record<string, readonly number[]>;
  optimizer: Optimizer;
  schedule: Schedule;
  /** Global gradient-norm clip (default: none). */
  clipNorm?: number;
  /** Data inputs for a step, drawn from the trainer's RNG (whose state checkpoints keep). */
  batch: (step: number, rng: Rng) => Record<string, TensorValue>;
  /** RNG seed (default 0). */
  seed?: number;
  /** Folder for checkpoints, written every `checkpointEvery` steps (default: none). */
  checkpointDir?: string;
  checkpointEvery?: number;
  /** Session options of the training graph (here `spinning` defaults to false). */
  session?: TrainSessionOptions;
  /**
   * Keep an exponential moving average of the weights with this decay (e.g. 0.999), warmed up
   * as min(decay, (1 + n) / (10 + n)) over the n updates it has seen; `exportModel` then exports
   * the average (diffusion models sample far better from it). Default: none.
   */
  emaDecay?: number;
}

export interface StepResult {
  step: number;
  loss: number;
  gradNorm: number;
  lr: number;
}

export interface StepStats {
  /** Wall time of the step: batch, forward, backward, clipping and the update (not checkpoints). */
  ms: number;
  /**
   * Process resident-set high-water mark during the step, in bytes (on Linux the mark is reset
   * before the step; elsewhere the larger of RSS before and after).
   */
  peakRssBytes: number;
  /** Bytes the training session returned: the loss and one gradient per parameter. */
  outputBytes: number;
}

export interface TrainerMemory {
  /** Forward activations the training graph keeps for the backward pass (see savedActivations). */
  savedActivationBytes: number;
  /** Trainable weights (the gradients returned each step are as large). */
  parameterBytes: number;
}

export class Trainer {
  step = 0;
  rng: Rng;
  /** Time and memory of the latest trainStep (undefined before the first). */
  lastStepStats: StepStats | undefined;
  /** The weights' moving average (see TrainerOptions.emaDecay), or undefined. */
  ema: Tensors | undefined;
  /** Updates the average has seen (for its warm-up). */
  private emaUpdates = 0;

  private constructor(
    private readonly o: TrainerOptions,
    private readonly session: ort.InferenceSession,
    readonly params: Tensors,
    private readonly dims: Record<string, number[]>,
    /** Static memory facts of the training graph. */
    readonly memory: TrainerMemory,
  ) {
    this.rng = new Rng(o.seed ?? 0);
    if (o.emaDecay !== undefined) {
      if (!(o.emaDecay >= 0 && o.emaDecay < 1))
        throw new Error(`emaDecay must be in [0, 1), got ${o.emaDecay}.`);
      this.ema = Object.fromEntries(Object.entries(params).map(([n, p]) => [n, p.slice()]));
    }
  }

  static async create(o: TrainerOptions): Promise<Trainer> {
    const names = selectTrainable(o.model, o.trainable);
    const shapes = await inferShapes(o.model, o.inputShapes);
    const training = await buildTrainingGraph(o.model, {
      trainable: names,
      loss: o.loss,
      output: o.output,
      shapes,
    });
    const saved = savedActivations(training, shapes);
    // No spin-waiting unless asked: see TrainSessionOptions.spinning.
    const session = await createSession(training, { spinning: false, ...o.session });
    const params: Tensors = {};
    const dims: Record<string, number[]> = {};
    for (const t of o.model.graph?.initializer ?? []) {
      if (!names.includes(t.name ?? '')) continue;
      const v = tensorValue(t);
      if (v.dtype !== 'float32')
        throw new Error(`Trainable '${t.name}' is ${v.dtype}; the trainer updates float32 weights.`);
      params[t.name ?? ''] = v.data as Float32Array;
      dims[t.name ?? ''] = v.dims;
    }
    const parameterBytes = Object.values(params).reduce((sum, p) => sum + p.byteLength, 0);
    return new Trainer(o, session, params, dims, { savedActivationBytes: saved.bytes, parameterBytes });
  }

  /** One step: forward, backward, clip, update. */
  async trainStep(): Promise<StepResult> {
    const peakRss = trackPeakRss();
    const t0 = performance.now();
    const feeds: Record<string, TensorValue> = { ...this.o.batch(this.step, this.rng) };
    for (const [name, data] of Object.entries(this.params))
      feeds[name] = { dtype: 'float32', dims: this.dims[name], data };
    const out = await runSession(this.session, feeds);
    const grads: Tensors = {};
    for (const name of Object.keys(this.params)) grads[name] = out[gradName(name)].data as Float32Array;
    const gradNorm = this.o.clipNorm ? clipGradNorm(grads, this.o.clipNorm) : clipGradNorm(grads, Infinity);
    const lr = this.o.schedule(this.step);
    this.o.optimizer.step(this.params, grads, lr);
    this.updateEma();
    const result = { step: this.step, loss: Number((out[LOSS].data as Float32Array)[0]), gradNorm, lr };
    this.lastStepStats = {
      ms: performance.now() - t0,
      peakRssBytes: peakRss(),
      outputBytes: Object.values(out).reduce((sum, v) => sum + v.data.byteLength, 0),
    };
    this.step++;
    if (this.o.checkpointDir && this.o.checkpointEvery && this.step % this.o.checkpointEvery === 0)
      this.checkpoint();
    return result;
  }

  private updateEma(): void {
    if (!this.ema || this.o.emaDecay === undefined) return;
    const n = this.emaUpdates++;
    const d = Math.min(this.o.emaDecay, (1 + n) / (10 + n));
    for (const [name, p] of Object.entries(this.params)) {
      const e = this.ema[name];
      for (let i = 0; i < p.length; i++) e[i] = d * e[i] + (1 - d) * p[i];
    }
  }

  async run(steps: number, onStep?: (r: StepResult) => void): Promise<StepResult[]> {
    const results: StepResult[] = [];
    for (let i = 0; i < steps; i++) {
      const r = await this.trainStep();
      onStep?.(r);
      results.push(r);
    }
    return results;
  }

  checkpoint(dir = this.o.checkpointDir): void {
    if (!dir) throw new Error('No checkpoint folder: set checkpointDir or pass one.');
    saveCheckpoint(dir, {
      step: this.step,
      params: this.params,
      optimizer: this.o.optimizer.state(),
      rngState: this.rng.state,
      ema: this.ema,
      meta: this.ema ? { emaUpdates: this.emaUpdates } : undefined,
    });
  }

  /** Continues from a checkpoint: weights, optimiser state, step and RNG state. */
  resume(dir = this.o.checkpointDir): void {
    if (!dir) throw new Error('No checkpoint folder: set checkpointDir or pass one.');
    const ckpt = loadCheckpoint(dir);
    for (const name of Object.keys(this.params)) {
      const saved = ckpt.params[name];
      if (!saved || saved.length !== this.params[name].length) {
        throw new Error(
          `Checkpoint '${dir}' has no weight '${name}' of the right size; it is from another model.`,
        );
      }
      this.params[name].set(saved);
    }
    this.o.optimizer.load(ckpt.optimizer);
    this.step = ckpt.step;
    this.rng = new Rng(ckpt.rngState);
    if (this.ema) {
      // A checkpoint written without an average (or by another run) starts one from its weights.
      const complete =
        ckpt.ema && Object.keys(this.params).every((n) => ckpt.ema?.[n]?.length === this.params[n].length);
      for (const name of Object.keys(this.params))
        this.ema[name].set(complete ? ckpt.ema![name] : this.params[name]);
      this.emaUpdates = complete ? Number(ckpt.meta?.emaUpdates ?? 0) : 0;
    }
  }

  /**
   * The forward model with the current weights (for export or evaluation): the moving average
   * when the trainer keeps one, unless `weights` is 'raw'.
   */
  exportModel(weights: 'ema' | 'raw' = 'ema'): onnx.ModelProto {
    const g = this.o.model.graph ?? {};
    const values = weights === 'ema' && this.ema ? this.ema : this.params;
    const initializer = (g.initializer ?? []).map((t) =>
      values[t.name ?? ''] ? makeTensor(t.name ?? '', values[t.name ?? ''], this.dims[t.name ?? '']) : t,
    );
    return onnx.ModelProto.create({ ...this.o.model, graph: { ...g, initializer } });
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
