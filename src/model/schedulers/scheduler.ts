import type { PredictionType, SchedulerConfig } from './config';

/**
 * A sampler: walks a noisy sample from pure noise to an image, one UNet evaluation per step.
 * Call `step` for stepIndex 0, 1, 2, ... in order (multistep solvers keep past outputs).
 */
export interface Scheduler {
  /** Timesteps fed to the UNet, one per step, from noisiest to cleanest (may be fractional). */
  readonly timesteps: readonly number[];
  /** Standard deviation of the initial Gaussian noise. */
  readonly initNoiseSigma: number;
  /** Scales the sample before it goes into the UNet at this step (identity for DDIM and DPM-Solver). */
  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array;
  /** Returns the sample one step less noisy, given the UNet's output for this step. */
  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): Float32Array;
}

/** Samplers alignrun ships, named as a spec's `sampler.scheduler` names them. */
export const SCHEDULER_NAMES = ['ddim', 'euler', 'dpmpp_2m'] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

/** The config with every field a sampler may consult given a value. */
export type ResolvedConfig = Required<Omit<SchedulerConfig, 'trainedBetas'>> &
  Pick<SchedulerConfig, 'trainedBetas'>;

/** Fills the fields a config file may omit with one sampler's diffusers defaults. */
export function withDefaults(
  config: SchedulerConfig,
  defaults: Pick<ResolvedConfig, 'timestepSpacing' | 'setAlphaToOne' | 'clipSample'>,
): ResolvedConfig {
  return {
    ...config,
    timestepSpacing: config.timestepSpacing ?? defaults.timestepSpacing,
    setAlphaToOne: config.setAlphaToOne ?? defaults.setAlphaToOne,
    clipSample: config.clipSample ?? defaults.clipSample,
  };
}

/**
 * Predicted clean sample x0 from the UNet output, in the variance-preserving parametrisation
 * x_t = alpha * x0 + sigma * eps (alpha^2 + sigma^2 = 1).
 */
export function predictX0(
  prediction: PredictionType,
  x: number,
  out: number,
  alpha: number,
  sigma: number,
): number {
  return prediction === 'epsilon' ? (x - sigma * out) / alpha : alpha * x - sigma * out;
}

export function checkSteps(steps: number, config: SchedulerConfig): void {
  if (!Number.isInteger(steps) || steps < 1 || steps > config.numTrainTimesteps) {
    throw new RangeError(`steps must be an integer from 1 to ${config.numTrainTimesteps}, got ${steps}.`);
  }
}

export function checkStepOrder(stepIndex: number, expected: number, total: number): void {
  if (stepIndex !== expected || stepIndex >= total) {
    throw new RangeError(
      `scheduler step ${stepIndex} called out of order (expected ${expected} of ${total}).`,
    );
  }
}
