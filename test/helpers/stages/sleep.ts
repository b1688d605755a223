// Test stage: `params.steps` steps of `params.ms / steps` milliseconds each, heartbeating `{step}`
// and logging metric `step` to MLflow after every step; a retried attempt resumes after the last
// checkpointed step.
import type { StageImplementation } from '../../../src/runtime/stage';
import { recordExecution } from './counter';

export const sleep: StageImplementation = async (input, ctx) => {
  const steps = Number(input.instance.params.steps ?? 1);
  const stepMs = Number(input.instance.params.ms ?? 0) / steps;
  const from = (ctx.checkpoint as { step?: number } | undefined)?.step ?? 0;
  return recordExecution(input, ctx, from, async () => {
    for (let step = from; step < steps; step++) {
      await ctx.sleep(stepMs);
      ctx.heartbeat({ step: step + 1, steps });
      ctx.track.metrics([{ key: 'step', value: step + 1, step }]);
    }
    const extra = (input.instance.params.metrics as Record<string, number> | undefined) ?? {};
    return { artifacts: {}, metrics: { ...extra, resumedFrom: from, steps } };
  });
};
