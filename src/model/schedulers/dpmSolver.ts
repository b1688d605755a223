import { alphasCumprod, type SchedulerConfig } from './config';
import { arange, interpIndex, linspace, roundHalfEven } from './numeric';
import { checkStepOrder, checkSteps, predictX0, withDefaults, type Scheduler } from './scheduler';

/**
 * DPM-Solver++(2M) (Lu et al. 2022, alg. 2, midpoint form), as diffusers' DPMSolverMultistepScheduler
 * with algorithm_type "dpmsolver++", solver_order 2, final sigma 0. First step and last step are
 * first order (the last so that the final sigma of 0 is reached exactly).
 */
export class DpmSolverMultistepScheduler implements Scheduler {
  readonly timesteps: readonly number[];
  readonly initNoiseSigma = 1;
  /** One sigma per step, then a final 0. */
  readonly sigmas: readonly number[];
  private readonly prediction: SchedulerConfig['predictionType'];
  private previousX0: Float32Array | null = null;
  private next = 0;

  constructor(config: SchedulerConfig, steps: number) {
    checkSteps(steps, config);
    const c = withDefaults(config, { timestepSpacing: 'linspace', setAlphaToOne: false, clipSample: false });
    this.prediction = c.predictionType;
    const T = c.numTrainTimesteps;
    // Spaced over steps + 1 points with the last (t = 0) dropped, as diffusers does.
    if (c.timestepSpacing === 'linspace') {
      this.timesteps = linspace(0, T - 1, steps + 1)
        .map(roundHalfEven)
        .reverse()
        .slice(0, steps);
    } else if (c.timestepSpacing === 'leading') {
      const ratio = Math.floor(T / (steps + 1));
      this.timesteps = Array.from({ length: steps + 1 }, (_, i) => i * ratio)
        .reverse()
        .slice(0, steps)
        .map((t) => t + c.stepsOffset);
    } else {
      this.timesteps = arange(T, 0, -T / steps).map((t) => roundHalfEven(t) - 1);
    }
    const alphas = alphasCumprod(c);
    const trainSigmas = Array.from(alphas, (a) => Math.sqrt((1 - a) / a));
    this.sigmas = [...this.timesteps.map((t) => interpIndex(t, trainSigmas)), 0];
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): Float32Array {
    checkStepOrder(stepIndex, this.next, this.timesteps.length);
    this.next++;
    const s0 = vp(this.sigmas[stepIndex]);
    const t = vp(this.sigmas[stepIndex + 1]);
    const x0 = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      x0[i] = predictX0(this.prediction, sample[i], modelOutput[i], s0.alpha, s0.sigma);
    }
    const h = t.lambda - s0.lambda;
    // exp(-h) - 1, finite also when the final sigma is 0 (h = inf).
    const phi = Math.expm1(-h);
    const ratio = t.sigma / s0.sigma;
    const out = new Float32Array(sample.length);
    const last = stepIndex === this.timesteps.length - 1;
    if (this.previousX0 === null || last) {
      for (let i = 0; i < sample.length; i++) out[i] = ratio * sample[i] - t.alpha * phi * x0[i];
    } else {
      const s1 = vp(this.sigmas[stepIndex - 1]);
      const r0 = (s0.lambda - s1.lambda) / h;
      const prev = this.previousX0;
      for (let i = 0; i < sample.length; i++) {
        const d1 = (x0[i] - prev[i]) / r0;
        out[i] = ratio * sample[i] - t.alpha * phi * x0[i] - 0.5 * t.alpha * phi * d1;
      }
    }
    this.previousX0 = x0;
    return out;
  }
}

/** Variance-preserving alpha, sigma and log-SNR lambda for a sigma of the x0 + sigma * eps form. */
function vp(sigma: number): { alpha: number; sigma: number; lambda: number } {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  const s = sigma * alpha;
  return { alpha, sigma: s, lambda: Math.log(alpha) - Math.log(s) };
}
