// One trial's DAG: every stage starts as soon as its dependencies are finished, so independent
// stages run in parallel; the first failure cancels the rest and fails the run naming the stage.
import {
  ApplicationFailure,
  CancellationScope,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  experimentKey,
  planHashKey,
  progressQuery,
  reportMetricSignal,
  statusKey,
} from '../src/runtime/definitions';
import { BATCHED_STAGES_PATCH, lookupCached, pendingProgress, runStage, type StageRun } from './stage';
import { runTracking, TRACKING_PATCH, type RunTrackingCalls } from './tracking';
import { innermostMessage } from '../src/util/errors';
import type {
  RunStatus,
  StageProgress,
  StageResult,
  TrackedRun,
  TrialInput,
  TrialProgress,
  TrialResult,
} from '../src/runtime/protocol';

export async function experiment(input: TrialInput): Promise<TrialResult> {
  const topLevel = workflowInfo().parent === undefined;
  const progress: Record<string, StageProgress> = {};
  for (const key of input.order) progress[key] = pendingProgress(input.instances[key]);
  let status: RunStatus = 'running';
  setHandler(progressQuery, (): TrialProgress => ({
    experiment: input.experiment,
    trialId: input.trialId,
    status,
    stages: input.order.map((k) => progress[k]),
  }));
  const setStatus = (s: RunStatus) => {
    status = s;
    // Trials of a sweep are listed through their sweep, not on their own.
    if (topLevel) upsertSearchAttributes([{ key: statusKey, value: s }]);
  };
  if (topLevel) {
    upsertSearchAttributes([
      { key: experimentKey, value: input.experiment },
      { key: planHashKey, value: input.planHash },
    ]);
    upsertMemo({
      experiment: input.experiment,
      specFile: input.specFile,
      stages: input.order.length,
      kind: 'experiment',
    });
  }
  setStatus('running');
  // Inputs recorded before tracking existed carry no `tracking` and replay without it.
  const run = input.tracking && patched(TRACKING_PATCH) ? trialRun(input) : undefined;
  const tracking: RunTrackingCalls = runTracking(run);
  // Histories recorded before the batched path look stages up and record them one by one.
  const batched = patched(BATCHED_STAGES_PATCH);
  const started = run
    ? tracking.start({
        run,
        spec: input.tracking!.spec,
        assignment: input.tracking!.assignment,
        trialId: input.trialId,
        workflowId: workflowInfo().workflowId,
        planHash: input.planHash,
        specFile: input.specFile,
      })
    : undefined;
  // The batched path: every stage's cached result in one lookup, alongside the run's start.
  const cached = batched ? await lookupCached(input.order.filter((k) => !input.given?.[k])) : undefined;
  await started;

  const results: TrialResult['stages'] = {};
  const promises: Record<string, Promise<StageResult>> = {};
  let failed: { stage: string; message: string } | undefined;
  let finishedCount = 0;
  const scope = new CancellationScope();

  const runWhenReady = async (key: string): Promise<StageResult> => {
    const inst = input.instances[key];
    const upstream: Record<string, StageResult> = {};
    for (const dep of inst.deps) upstream[dep] = await promises[dep];
    const given = input.given?.[key];
    const done: StageRun = given
      ? { result: given, cached: true }
      : await runStage(
          inst,
          upstream,
          { ...input, queues: input.queues, trackRun: run && { run }, cached },
          progress[key],
        ).catch((err) => {
          if (isCancellation(err)) progress[key].state = 'cancelled';
          else {
            Object.assign(progress[key], { state: 'failed', error: innermostMessage(err) });
            failed ??= { stage: inst.stage, message: innermostMessage(err) };
            scope.cancel(); // stop the sibling stages: the run has failed
          }
          throw err;
        });
    if (given)
      Object.assign(progress[key], { state: 'cached', finishedAt: given.finishedAt, metrics: given.metrics });
    results[inst.stage] = { ...done.result, cached: done.cached };
    finishedCount++;
    if (!done.tracked) tracking.stageMetrics(inst.stage, done.result);
    await report(input, inst.stage, done.result.metrics, finishedCount);
    return done.result;
  };

  const settled = await scope.run(() => {
    for (const key of input.order) promises[key] = runWhenReady(key);
    return Promise.allSettled(input.order.map((k) => promises[k]));
  });

  if (failed) {
    await tracking.end('FAILED');
    setStatus('failed');
    throw ApplicationFailure.create({
      type: 'StageFailed',
      message: `Stage ${failed.stage} failed: ${failed.message}`,
      details: [{ stage: failed.stage }],
      nonRetryable: true,
    });
  }
  const rejected = settled.find((s) => s.status === 'rejected');
  if (rejected) {
    await tracking.end('KILLED');
    setStatus('cancelled');
    throw rejected.reason; // the workflow was cancelled: end it as cancelled
  }
  await tracking.end('FINISHED');
  setStatus('completed');
  return { trialId: input.trialId, stages: results };
}

// The trial's MLflow run: nested under its sweep's run when it has one. Keys are workflow id +
// trial id, so a retried or resumed trial finds the same run.
function trialRun(input: TrialInput): TrackedRun {
  const t = input.tracking!;
  const root = t.parentKey ?? workflowInfo().workflowId;
  return {
    key: `${root}/${input.trialId}`,
    name: t.parentKey ? input.trialId : input.experiment,
    experiment: t.experiment,
    ...(t.uri ? { uri: t.uri } : {}),
    ...(t.parentKey ? { parentKey: t.parentKey, parentName: t.parentName } : {}),
  };
}

/** Patch marker: early-stop metrics named `stage.metric` are matched against that stage's metrics. */
const QUALIFIED_METRIC = 'alignrun-stage-qualified-report-metric';

// Trials of a sweep forward the early-stopping metric to their parent as they finish stages.
// The spec names it `stage.metric`; a bare metric name (any stage) is matched too.
async function report(
  input: TrialInput,
  stage: string,
  metrics: Record<string, number>,
  finished: number,
): Promise<void> {
  const parent = workflowInfo().parent;
  const wanted = input.reportMetric;
  if (!parent || !wanted) return;
  let name: string | undefined = wanted in metrics ? wanted : undefined;
  const prefix = `${stage}.`;
  // Runs recorded before stage-qualified names were matched skip this (same commands on replay).
  if (
    !name &&
    wanted.startsWith(prefix) &&
    wanted.slice(prefix.length) in metrics &&
    patched(QUALIFIED_METRIC)
  )
    name = wanted.slice(prefix.length);
  if (name === undefined) return;
  const step = metrics.step ?? finished;
  await getExternalWorkflowHandle(parent.workflowId).signal(reportMetricSignal, {
    trialId: input.trialId,
    step,
    value: metrics[name],
  });
}
