// onnxruntime-node sessions for training graphs, and conversions between ORT tensors and TensorValue.
import * as ort from 'onnxruntime-node';
import type { onnx } from './onnx';
import { type DType, type TensorValue, type TypedArray, encodeModel } from './ir';

export interface TrainSessionOptions {
  /** Execution providers, in order (default ['cpu']). */
  executionProviders?: string[];
  /**
   * Turn off the CPU arena and memory pattern (default true): with them on, a process grew to
   * 1.28 GB after two runs of one block against 236 MB without (DESIGN pitfalls).
   */
  lowMemory?: boolean;
  /**
   * Graph optimisation level (default 'all'). 'basic' skips fusions, which may only have float32
   * kernels (QuickGelu from x*sigmoid(x)): the gradient check uses it in float64.
   */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Intra-op threads (default: onnxruntime's choice). */
  threads?: number;
  /**
   * Let idle intra-op threads spin-wait for work (default: onnxruntime's, which spins). Spinning
   * speeds up small ops on an otherwise idle machine, but where cores are shared a spinning thread
   * steals the core its partner needs. The Trainer turns it off: the tiny UNet's training step took
   * 340 ms spinning against 188 ms not, on 2 shared cores, and the same either way (~105 ms) on 16
   * idle ones; the forward pass alone there took 10 ms spinning, 16 ms not (bench/train-profile.ts,
   * bench/train-step.bench.ts).
   */
  spinning?: boolean;
}

export async function createSession(
  model: onnx.IModelProto | Uint8Array | string,
  options: TrainSessionOptions = {},
): Promise<ort.InferenceSession> {
  const low = options.lowMemory ?? true;
  const so: ort.InferenceSession.SessionOptions = {
    executionProviders: options.executionProviders ?? ['cpu'],
    enableCpuMemArena: !low,
    enableMemPattern: !low,
    graphOptimizationLevel: options.optimization ?? 'all',
    // Warnings only: constant folding reports every float-only kernel it cannot fold in float64.
    logSeverityLevel: 3,
    ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
    ...(options.spinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
  };
  if (typeof model === 'string') return ort.InferenceSession.create(model, so);
  const bytes = model instanceof Uint8Array ? model : encodeModel(model);
  return ort.InferenceSession.create(bytes, so);
}

export function toOrt(v: TensorValue): ort.Tensor {
  return new ort.Tensor(v.dtype as ort.Tensor.Type, v.data as never, v.dims);
}

export function fromOrt(t: ort.Tensor): TensorValue {
  return { dtype: t.type as DType, dims: [...t.dims], data: t.data as TypedArray };
}

/** Runs a session on plain values and returns plain values for every output. */
export async function runSession(
  session: ort.InferenceSession,
  feeds: Record<string, TensorValue>,
): Promise<Record<string, TensorValue>> {
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrt(v);
  const out = await session.run(ortFeeds);
  const res: Record<string, TensorValue> = {};
  for (const [k, t] of Object.entries(out)) res[k] = fromOrt(t);
  return res;
}
