import { alphasCumprod, type SchedulerConfig } from './config';
import { arange, interpIndex, linspace, roundHalfEven } from './numeric';
import { checkStepOrder, checkSteps, withDefaults, type Scheduler } from './scheduler';

/**
 * Euler's method on the probability-flow ODE in sigma space (Karras et al. 2022, alg. 1 without
 * churn), as diffusers' EulerDiscreteScheduler: x_next = x + (x - x0) / sigma * (sigma_next - sigma).
 */
export class EulerScheduler implements Scheduler {
  readonly timesteps: readonly number[];
  readonly initNoiseSigma: number;
  /** One sigma per step, then a final 0. */
  readonly sigmas: readonly number[];
  private readonly prediction: SchedulerConfig['predictionType'];
  private next = 0;

  constructor(config: SchedulerConfig, steps: number) {
    checkSteps(steps, config);
    const c = withDefaults(config, { timestepSpacing: 'linspace', setAlphaToOne: false, clipSample: false });
    this.prediction = c.predictionType;
    const T = c.numTrainTimesteps;
    let ts: number[];
    if (c.timestepSpacing === 'linspace') ts = linspace(0, T - 1, steps).reverse();
    else if (c.timestepSpacing === 'leading') {
      const ratio = Math.floor(T / steps);
      ts = Array.from({ length: steps }, (_, i) => i * ratio + c.stepsOffset).reverse();
    } else ts = arange(T, 0, -T / steps).map((t) => roundHalfEven(t) - 1);
    // diffusers keeps these timesteps in float32; the UNet sees the rounded value.
    this.timesteps = ts.map(Math.fround);
    const alphas = alphasCumprod(c);
    const trainSigmas = Array.from(alphas, (a) => Math.sqrt((1 - a) / a));
    this.sigmas = [...this.timesteps.map((t) => interpIndex(t, trainSigmas)), 0];
    const maxSigma = Math.max(...this.sigmas);
    this.initNoiseSigma = c.timestepSpacing === 'leading' ? Math.sqrt(maxSigma ** 2 + 1) : maxSigma;
  }

  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    const scale = 1 / Math.sqrt(this.sigmas[stepIndex] ** 2 + 1);
    return sample.map((x) => x * scale);
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): Float32Array {
    checkStepOrder(stepIndex, this.next, this.timesteps.length);
    this.next++;
    const sigma = this.sigmas[stepIndex];
    const dt = this.sigmas[stepIndex + 1] - sigma;
    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i];
      const m = modelOutput[i];
      // Sample space here is x = x0 + sigma * eps, not variance preserving.
      const x0 =
        this.prediction === 'epsilon'
          ? x - sigma * m
          : m * (-sigma / Math.sqrt(sigma ** 2 + 1)) + x / (sigma ** 2 + 1);
      out[i] = x + ((x - x0) / sigma) * dt;
    }
    return out;
  }
}
