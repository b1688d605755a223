import type { SchedulerConfig } from './config';
import { DdimScheduler } from './ddim';
import { DpmSolverMultistepScheduler } from './dpmSolver';
import { EulerScheduler } from './euler';
import { SCHEDULER_NAMES, type Scheduler, type SchedulerName } from './scheduler';

export { readSchedulerConfig, parseSchedulerConfig, alphasCumprod, SchedulerConfigError } from './config';
export type { SchedulerConfig, BetaSchedule, PredictionType, TimestepSpacing } from './config';
export { SCHEDULER_NAMES, type Scheduler, type SchedulerName } from './scheduler';
export { DdimScheduler, EulerScheduler, DpmSolverMultistepScheduler };

/** A fresh sampler of the named kind for one generation of `steps` steps. */
export function createScheduler(name: SchedulerName, config: SchedulerConfig, steps: number): Scheduler {
  switch (name) {
    case 'ddim':
      return new DdimScheduler(config, steps);
    case 'euler':
      return new EulerScheduler(config, steps);
    case 'dpmpp_2m':
      return new DpmSolverMultistepScheduler(config, steps);
    default:
      throw new RangeError(
        `unknown scheduler "${name as string}"; choose one of ${SCHEDULER_NAMES.join(', ')}.`,
      );
  }
}
