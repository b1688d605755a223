import { readFileSync } from 'node:fs';

/** Noise schedules a diffusion model can be trained with (diffusers' `beta_schedule`). */
export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
/** What the UNet predicts: the added noise, or the "velocity" of Salimans & Ho. */
export type PredictionType = 'epsilon' | 'v_prediction';
/** How inference timesteps are laid over the training range (Lin et al. 2023, table 2). */
export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';

/**
 * The training-time noise schedule of a model, as `scheduler/scheduler_config.json` states it.
 * Fields the file leaves out are undefined here; each sampler fills them with the default its
 * diffusers counterpart uses, so a PNDM config from an SD 1.5 export behaves as under diffusers.
 */
export interface SchedulerConfig {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: BetaSchedule;
  trainedBetas?: number[];
  predictionType: PredictionType;
  timestepSpacing?: TimestepSpacing;
  stepsOffset: number;
  setAlphaToOne?: boolean;
  clipSample?: boolean;
  clipSampleRange: number;
}

/** A user-visible problem with a scheduler config file. */
export class SchedulerConfigError extends Error {
  override name = 'SchedulerConfigError';
}

const BETA_SCHEDULES: readonly string[] = ['linear', 'scaled_linear', 'squaredcos_cap_v2'];
const PREDICTION_TYPES: readonly string[] = ['epsilon', 'v_prediction'];
const SPACINGS: readonly string[] = ['leading', 'trailing', 'linspace'];

/** Reads and checks a diffusers `scheduler_config.json`. */
export function readSchedulerConfig(file: string): SchedulerConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'is not valid JSON';
    throw new SchedulerConfigError(`${file} ${why}; export the model again or fix the file.`);
  }
  return parseSchedulerConfig(raw, file);
}

/** Checks a parsed scheduler config object; `source` names it in error messages. */
export function parseSchedulerConfig(raw: unknown, source = 'scheduler config'): SchedulerConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new SchedulerConfigError(
      `${source} must hold a JSON object; export the model again or fix the file.`,
    );
  }
  const r = raw as Record<string, unknown>;
  const num = (key: string, fallback: number): number => {
    const v = r[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new SchedulerConfigError(`${source}: "${key}" must be a number, got ${JSON.stringify(v)}.`);
    }
    return v;
  };
  const choice = <T extends string>(key: string, allowed: readonly string[], fallback?: T): T | undefined => {
    const v = r[key] ?? fallback;
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !allowed.includes(v)) {
      throw new SchedulerConfigError(
        `${source}: "${key}" is ${JSON.stringify(v)}, expected one of ${allowed.join(', ')}.`,
      );
    }
    return v as T;
  };
  const bool = (key: string): boolean | undefined => {
    const v = r[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw new SchedulerConfigError(`${source}: "${key}" must be true or false.`);
    return v;
  };
  let trainedBetas: number[] | undefined;
  if (Array.isArray(r.trained_betas)) trainedBetas = r.trained_betas.map(Number);
  const config: SchedulerConfig = {
    numTrainTimesteps: num('num_train_timesteps', 1000),
    betaStart: num('beta_start', 0.0001),
    betaEnd: num('beta_end', 0.02),
    betaSchedule: choice<BetaSchedule>('beta_schedule', BETA_SCHEDULES, 'linear')!,
    trainedBetas,
    predictionType: choice<PredictionType>('prediction_type', PREDICTION_TYPES, 'epsilon')!,
    timestepSpacing: choice<TimestepSpacing>('timestep_spacing', SPACINGS),
    stepsOffset: num('steps_offset', 0),
    setAlphaToOne: bool('set_alpha_to_one'),
    clipSample: bool('clip_sample'),
    clipSampleRange: num('clip_sample_range', 1),
  };
  if (!Number.isInteger(config.numTrainTimesteps) || config.numTrainTimesteps < 2) {
    throw new SchedulerConfigError(`${source}: "num_train_timesteps" must be an integer of at least 2.`);
  }
  if (trainedBetas && trainedBetas.length !== config.numTrainTimesteps) {
    throw new SchedulerConfigError(`${source}: "trained_betas" must hold num_train_timesteps values.`);
  }
  return config;
}

/** Cumulative products of (1 - beta_t): the signal fraction left at each training timestep. */
export function alphasCumprod(config: SchedulerConfig): Float64Array {
  const T = config.numTrainTimesteps;
  const betas = new Float64Array(T);
  if (config.trainedBetas) {
    betas.set(config.trainedBetas);
  } else if (config.betaSchedule === 'linear') {
    for (let i = 0; i < T; i++)
      betas[i] = config.betaStart + ((config.betaEnd - config.betaStart) * i) / (T - 1);
  } else if (config.betaSchedule === 'scaled_linear') {
    // Linear in sqrt(beta), as Stable Diffusion was trained.
    const a = Math.sqrt(config.betaStart);
    const b = Math.sqrt(config.betaEnd);
    for (let i = 0; i < T; i++) betas[i] = (a + ((b - a) * i) / (T - 1)) ** 2;
  } else {
    // Nichol & Dhariwal's cosine schedule, betas capped at 0.999.
    const alphaBar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    for (let i = 0; i < T; i++) betas[i] = Math.min(1 - alphaBar((i + 1) / T) / alphaBar(i / T), 0.999);
  }
  const out = new Float64Array(T);
  let prod = 1;
  for (let i = 0; i < T; i++) {
    prod *= 1 - betas[i];
    out[i] = prod;
  }
  return out;
}
