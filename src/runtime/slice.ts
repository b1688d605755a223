// Cutting one trial out of a plan: pure, so both the client and the sweep workflow use it (the
// workflow bundle loads this file: no Node APIs).
import type { Plan, StageInstance } from '../spec/plan';
import type { QueueNames, StageResult, TrialInput } from './protocol';

export function trialInput(
  plan: Plan,
  trialId: string,
  extra: { given?: Record<string, StageResult>; queues?: QueueNames; reportMetric?: string } = {},
): TrialInput {
  const trial = plan.trials.find((t) => t.id === trialId);
  if (!trial) throw new Error(`The plan has no trial ${trialId}.`);
  const keys = new Set(Object.values(trial.stages));
  const instances: Record<string, StageInstance> = {};
  for (const k of keys) instances[k] = plan.instances[k];
  const models: TrialInput['models'] = {};
  for (const k of keys)
    for (const ref of inputRefs(plan.instances[k]))
      if ('model' in ref) models[ref.model] = plan.models[ref.model];
  const given = extra.given && Object.fromEntries(Object.entries(extra.given).filter(([k]) => keys.has(k)));
  return {
    experiment: plan.experiment,
    planHash: plan.planHash,
    specFile: plan.specFile,
    trialId,
    stages: trial.stages,
    instances,
    order: plan.order.filter((k) => keys.has(k)),
    models,
    ...(given && Object.keys(given).length ? { given } : {}),
    ...(extra.queues ? { queues: extra.queues } : {}),
    ...(extra.reportMetric ? { reportMetric: extra.reportMetric } : {}),
    tracking: {
      experiment: plan.tracking.experiment,
      ...(plan.tracking.uri ? { uri: plan.tracking.uri } : {}),
      spec: plan.resolvedSpec,
      assignment: trial.assignment,
    },
  };
}

export function inputRefs(inst: StageInstance) {
  return Object.values(inst.inputs).flatMap((v) => (Array.isArray(v) ? v : [v]));
}

/** The workflow id of a plan: submitting the same plan twice finds the same run. */
export function workflowIdFor(plan: Pick<Plan, 'experiment' | 'planHash'>): string {
  const name =
    plan.experiment
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'experiment';
  return `alignrun-${name}-${plan.planHash.slice(0, 12)}`;
}
