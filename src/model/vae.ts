/**
 * The VAE encoder of a latent model folder: images [-1, 1] to latents in the UNet's space,
 * x0 = mean(q(z | x)) * scaling_factor (diffusers' training scripts draw a sample instead; the
 * mean keeps encodings deterministic, so they can be cached, and differs from a draw by the
 * posterior's spread, which is small for SD's VAE).
 *
 * optimum's exports give the distribution's parameters (`latent_parameters`: mean and log-variance
 * stacked on the channel dim); diffusers' conversion script gives a sample drawn inside the graph
 * (`latent_sample`, a RandomNormalLike node): that node is replaced by zeros, which leaves the mean.
 */
import type * as ort from 'onnxruntime-node';
import type { Image } from '../domains/shapes/types';
import { GraphBuilder } from '../train/builder';
import { loadModel } from '../train/ir';
import { createSession, runSession } from '../train/session';
import { encoderOutput, ModelFolderError, type DiffusionModel } from './loader';

const RANDOM_OPS = new Set(['RandomNormalLike', 'RandomUniformLike', 'RandomNormal', 'RandomUniform']);

export class VaeEncoder {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly output: 'latent_parameters' | 'latent_sample',
    private readonly model: DiffusionModel,
  ) {}

  static async open(model: DiffusionModel): Promise<VaeEncoder> {
    if (!model.vaeEncoder) {
      throw new ModelFolderError(
        `${model.dir} has no vae_encoder/model.onnx, which encodes images into latents for fine-tuning; export the VAE encoder into that file.`,
      );
    }
    const output = encoderOutput(model.vaeEncoder);
    const proto = loadModel(model.vaeEncoder.path);
    const b = GraphBuilder.fromModel(proto);
    let random = 0;
    for (const n of b.nodes) {
      if (!RANDOM_OPS.has(n.opType)) continue;
      if (n.opType.endsWith('Like')) {
        // zeros shaped like the input: x - x (x is finite: it is the posterior's std).
        n.opType = 'Sub';
        n.input = [n.input[0], n.input[0]];
        n.attribute = [];
        random++;
      } else {
        throw new ModelFolderError(
          `${model.vaeEncoder.path} draws noise with ${n.opType} of a fixed shape; export the encoder with latent_parameters (optimum) or randn_like.`,
        );
      }
    }
    // A latent_sample graph without a random node (exported with .mode()) is used as it is.
    const session = await createSession(random ? b.build() : proto);
    return new VaeEncoder(session, output, model);
  }

  /** Latents (scaled by the VAE's scaling_factor) of images at the model's resolution, [n, C, h, w]. */
  async encode(images: readonly Image[]): Promise<Float32Array[]> {
    return (await this.encodeMean(images)).map((m) => m.map((v) => v * this.model.vaeScalingFactor));
  }

  /** The posterior mean, unscaled (what AutoencoderKL.encode(x).latent_dist.mean gives). */
  async encodeMean(images: readonly Image[]): Promise<Float32Array[]> {
    const { height: H, width: W } = this.model.image;
    const { channels: C, height: h, width: w } = this.model.sample;
    const out: Float32Array[] = [];
    for (const im of images) {
      if (im.height !== H || im.width !== W) {
        throw new RangeError(`The VAE encoder takes ${W}x${H} images; got ${im.width}x${im.height}.`);
      }
      const r = await runSession(this.session, {
        sample: { dtype: 'float32', dims: [1, 3, H, W], data: im.data },
      });
      const t = r[this.output];
      const per = C * h * w;
      const expected = this.output === 'latent_parameters' ? 2 * per : per;
      if (t.data.length !== expected) {
        throw new ModelFolderError(
          `${this.model.vaeEncoder!.path} gave ${t.dims.join('x')} for one ${W}x${H} image; expected ${this.output === 'latent_parameters' ? 2 * C : C}x${h}x${w}.`,
        );
      }
      // latent_parameters: the mean is the first C channels.
      out.push((t.data as Float32Array).slice(0, per));
    }
    return out;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
