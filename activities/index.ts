// The stage registry: one activity per stage kind (activity type = kind), plus the cache
// activities the workflows call before and after a stage.
import { openArtifacts } from '../src/artifacts/index';
import type { StageResult } from '../src/artifacts/types';
import type { StageImplementation, StageOutput } from '../src/runtime/stage';
import { stageContext } from './context';
import { counter } from './counter';
import { evaluate } from './evaluate';
import { finetune } from './finetune';
import { generate } from './generate';
import { label } from './label';
import { noop } from './noop';
import { pretrain } from './pretrain';
import { prompts } from './prompts';
import { reward } from './reward';
import { sleep } from './sleep';
import { createTrackingActivities } from './tracking';
import { RunTracking } from '../src/tracking/run-tracking';
import { labelReminder } from '../src/labels/bridge';

export const stageRegistry: Record<string, StageImplementation> = {
  prompts,
  generate,
  label,
  reward,
  finetune,
  evaluate,
  pretrain,
  noop,
  sleep,
  counter,
};

/**
 * Every activity a worker registers, bound to one state folder (artifacts, cache, counters) and
 * to the worker's MLflow trackers (`tracking`; the caller closes it when the worker stops).
 */
export function createActivities(stateDir: string, tracking: RunTracking = new RunTracking(stateDir)) {
  const { store, cache } = openArtifacts(stateDir);
  const activities: Record<string, (...args: any[]) => Promise<unknown>> = {
    ...createTrackingActivities(tracking),
    // Reminders of waiting human label tasks (workflows/labeling.ts schedules them).
    labelReminder,
    async lookupCache(key: string): Promise<StageResult | null> {
      return (await cache.lookup(key)) ?? null;
    },
    async recordResult(r: { key: string } & StageOutput): Promise<StageResult> {
      const result: StageResult = { ...r, finishedAt: new Date().toISOString() };
      await cache.record(result);
      return result;
    },
  };
  for (const [kind, impl] of Object.entries(stageRegistry)) {
    activities[kind] = (input) => impl(input, stageContext(stateDir, store, tracking, input));
  }
  return activities;
}
