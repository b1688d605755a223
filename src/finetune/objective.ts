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
import { makeValueInfo, valueInfoDims, valueInfoDtype } from '../train/ir';
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

/** The UNet with the loss appended; its data inputs get the batch size `batch`. */
export function buildDenoisingObjective(unet: onnx.IModelProto, batch: number): onnx.ModelProto {
  const b = GraphBuilder.fromModel(unet);
  const out = b.outputs.find((o) => o.name === 'out_sample');
  if (!out)
    throw new Error("The UNet has no output 'out_sample'; export it with the Stable Diffusion ONNX names.");
  // The engine needs static shapes: the data inputs get this batch size.
  // (Fresh value infos: the builder shares them with `unet`, which must keep its own dims.)
  b.inputs.forEach((input, k) => {
    const dims = valueInfoDims(input);
    if (!dims?.length || dims[0] > 0) return;
    b.inputs[k] = makeValueInfo(input.name, valueInfoDtype(input), [batch, ...dims.slice(1)]);
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
