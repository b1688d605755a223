import { alphasCumprod, type SchedulerConfig } from './config';
import { arange, linspace, roundHalfEven } from './numeric';
import {
  checkStepOrder,
  checkSteps,
  predictX0,
  withDefaults,
  type ResolvedConfig,
  type Scheduler,
} from './scheduler';

/**
 * DDIM (Song et al. 2020, eq. 12) with eta = 0: a deterministic sampler, as diffusers'
 * DDIMScheduler. x_prev = sqrt(a_prev) * x0 + sqrt(1 - a_prev) * eps.
 */
export class DdimScheduler implements Scheduler {
  readonly timesteps: readonly number[];
  readonly initNoiseSigma = 1;
  private readonly config: ResolvedConfig;
  private readonly alphas: Float64Array;
  private readonly finalAlpha: number;
  private readonly stride: number;
  private next = 0;

  constructor(config: SchedulerConfig, steps: number) {
    checkSteps(steps, config);
    this.config = withDefaults(config, { timestepSpacing: 'leading', setAlphaToOne: true, clipSample: true });
    this.alphas = alphasCumprod(config);
    this.finalAlpha = this.config.setAlphaToOne ? 1 : this.alphas[0];
    const T = config.numTrainTimesteps;
    // diffusers steps back by T // steps whatever the spacing; kept for identical results.
    this.stride = Math.floor(T / steps);
    this.timesteps = ddimTimesteps(this.config, steps);
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): Float32Array {
    checkStepOrder(stepIndex, this.next, this.timesteps.length);
    this.next++;
    const t = this.timesteps[stepIndex];
    const prevT = t - this.stride;
    const a = this.alphas[t];
    const aPrev = prevT >= 0 ? this.alphas[prevT] : this.finalAlpha;
    const alpha = Math.sqrt(a);
    const sigma = Math.sqrt(1 - a);
    const { predictionType, clipSample, clipSampleRange } = this.config;
    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i];
      const m = modelOutput[i];
      let x0 = predictX0(predictionType, x, m, alpha, sigma);
      const eps = predictionType === 'epsilon' ? m : alpha * m + sigma * x;
      if (clipSample) {
        x0 = Math.min(clipSampleRange, Math.max(-clipSampleRange, x0));
      }
      out[i] = Math.sqrt(aPrev) * x0 + Math.sqrt(1 - aPrev) * eps;
    }
    return out;
  }
}

function ddimTimesteps(config: ResolvedConfig, steps: number): number[] {
  const T = config.numTrainTimesteps;
  switch (config.timestepSpacing) {
    case 'linspace':
      return linspace(0, T - 1, steps)
        .map(roundHalfEven)
        .reverse();
    case 'leading': {
      const ratio = Math.floor(T / steps);
      return Array.from({ length: steps }, (_, i) => i * ratio + config.stepsOffset).reverse();
    }
    case 'trailing':
      return arange(T, 0, -T / steps).map((t) => roundHalfEven(t) - 1);
  }
}
