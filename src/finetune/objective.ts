/**
 * The weighted denoising objective as one ONNX graph around a UNet (Lee et al. 2023, eq. 3):
 *
 *   L = (1/B) Σ_b w_b · mean_pixels( (ε_b − ε_θ(x_t,b, t_b, z_b))² )
 *
 * A batch mixes model-generated samples (w_b = label, reward, or a reward threshold) with
 * pretraining samples (w_b = β), so over a batch this is E_model[w · mse] + β · E_pre[mse] up to
 * the share of each; with every w_b = 1 it is the plain denoising loss. The squared error is
 * averaged over pixels (as diffusers does) rather than summed: a constant factor that keeps the
 * learning rate independent of image size.
 */
import { GraphBuilder } from '../train/builder';
import { makeValueInfo, tensorValue, valueInfoDims, valueInfoDtype } from '../train/ir';
import type { onnx } from '../train/onnx';

export const DENOISE_INPUTS = {
  sample: 'sample',
  timestep: 'timestep',
  context: 'encoder_hidden_states',
  noise: 'noise',
  weight: 'sample_weight',
} as const;

/** The loss tensor the trainer differentiates, and the per-sample errors kept for reporting. */
export const DENOISE_LOSS = 'denoise_loss';
export const PER_SAMPLE = 'per_sample_mse';

/**
 * The UNet with the loss appended; its data inputs get the batch size `batch` and, where the
 * export leaves them free, the sample dims `sample` (channels, height, width). A UNet that takes
 * one scalar timestep for the whole batch (optimum's exports) is rewritten to take one per sample.
 */
export function buildDenoisingObjective(
  unet: onnx.IModelProto,
  batch: number,
  sample?: { channels: number; height: number; width: number },
): onnx.ModelProto {
  const b = GraphBuilder.fromModel(unet);
  const out = b.outputs.find((o) => o.name === 'out_sample');
  if (!out)
    throw new Error("The UNet has no output 'out_sample'; export it with the Stable Diffusion ONNX names.");
  perSampleTimestep(b);
  // The engine needs static shapes: the data inputs get this batch size.
  // (Fresh value infos: the builder shares them with `unet`, which must keep its own dims.)
  b.inputs.forEach((input, k) => {
    const dims = valueInfoDims(input);
    if (!dims?.length || dims[0] > 0) return;
    const rest =
      input.name === DENOISE_INPUTS.sample && sample
        ? [sample.channels, sample.height, sample.width]
        : dims.slice(1);
    b.inputs[k] = makeValueInfo(input.name, valueInfoDtype(input), [batch, ...rest]);
  });
  const sampleIn = b.inputs.find((i) => i.name === DENOISE_INPUTS.sample);
  const [c, h, w] = (sampleIn ? (valueInfoDims(sampleIn) ?? []) : []).slice(1);
  if (!(c > 0 && h > 0 && w > 0)) {
    throw new Error("The UNet's 'sample' input needs fixed channel, height and width dims to be trained.");
  }
  const noise = b.input(DENOISE_INPUTS.noise, 'float32', [batch, c, h, w]);
  const weight = b.input(DENOISE_INPUTS.weight, 'float32', [batch]);
  const diff = b.sub('out_sample', noise);
  const perSample = b.identity(b.reduceMean(b.mul(diff, diff), [1, 2, 3], false), PER_SAMPLE);
  const weighted = b.node('ReduceSum', [b.mul(perSample, weight)], { keepdims: 0 });
  b.node('Mul', [weighted, b.constant(1 / batch)], {}, { outputs: DENOISE_LOSS });
  b.outputs.splice(0, b.outputs.length);
  b.output(DENOISE_LOSS, 'float32', []);
  b.output(PER_SAMPLE, 'float32', [batch]);
  return b.build();
}

/**
 * A scalar `timestep` input becomes [batch]: exporters turn diffusers' `timesteps[None]` into an
 * Unsqueeze on axis 0 before the expand to the batch, and that Unsqueeze becomes an Identity.
 * Other uses of the scalar cannot take a vector, and are refused.
 */
function perSampleTimestep(b: GraphBuilder): void {
  const k = b.inputs.findIndex((i) => i.name === DENOISE_INPUTS.timestep);
  if (k < 0 || valueInfoDims(b.inputs[k])?.length !== 0) return;
  const users = b.nodes.filter((n) => n.input.includes(DENOISE_INPUTS.timestep));
  const unsqueezeAxis0 = (n: (typeof users)[number]) => {
    if (n.opType !== 'Unsqueeze') return false;
    const attr = n.attribute.find((a) => a.name === 'axes');
    if (attr) return (attr.ints ?? []).map(Number).join() === '0';
    const axes = n.input[1] ? constantInts(b, n.input[1]) : undefined;
    return axes?.join() === '0';
  };
  if (users.length === 0 || !users.every(unsqueezeAxis0)) {
    throw new Error(
      "The UNet takes one scalar timestep and uses it other than as diffusers' exports do (an Unsqueeze on axis 0); export it with a per-sample timestep [batch] to train it.",
    );
  }
  for (const n of users) {
    n.opType = 'Identity';
    n.input = [DENOISE_INPUTS.timestep];
    n.attribute = [];
    // Recorded shapes of the old [1] output no longer hold.
    const stale = new Set(n.output);
    b.valueInfos.splice(0, b.valueInfos.length, ...b.valueInfos.filter((v) => !stale.has(v.name)));
  }
  b.inputs[k] = makeValueInfo(DENOISE_INPUTS.timestep, valueInfoDtype(b.inputs[k]), ['batch']);
}

/** The integers of a Constant node's output or an initializer, else undefined. */
function constantInts(b: GraphBuilder, name: string): number[] | undefined {
  const node = b.nodes.find((n) => n.opType === 'Constant' && n.output[0] === name);
  const t = node?.attribute.find((a) => a.name === 'value')?.t ?? b.initializers.find((i) => i.name === name);
  return t ? Array.from(tensorValue(t).data as ArrayLike<number | bigint>, Number) : undefined;
}

/** Static dims for the UNet's data inputs at a batch size (the engine needs them). */
export function denoisingInputShapes(
  sample: { channels: number; height: number; width: number },
  textLength: number,
  textWidth: number,
  batch: number,
): Record<string, number[]> {
  return {
    [DENOISE_INPUTS.sample]: [batch, sample.channels, sample.height, sample.width],
    [DENOISE_INPUTS.timestep]: [batch],
    [DENOISE_INPUTS.context]: [batch, textLength, textWidth],
  };
}
