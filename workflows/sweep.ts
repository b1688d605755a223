// A sweep: trials run as child `experiment` workflows, at most `maxParallel` at once.
//
// Shared stage instances (one cache key used by several trials) run here, in the sweep, exactly
// once, and their results are handed to the trials as `given`. A key shared by two trials has equal
// upstream keys, so the shared instances are closed under dependencies: the sweep can run them
// without any trial-only input. The alternative, a per-instance child workflow with a deterministic
// id that trials attach to, needs cross-workflow signalling for every waiter and makes a failure
// of the shared stage hard to attribute; running it in the one workflow that owns all trials keeps
// "runs once" a local, replayable fact.
//
// Median early stopping: trials signal `reportMetric`; from `afterStep` on, a running trial whose
// value is worse than the median of the other trials' values at that step is cancelled, once at
// least `minTrials` trials have reported there. When the history grows past `continueAsNewAt`
// events the sweep stops launching, lets running trials finish and continues as new with its state.
import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  setHandler,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  allHandlersFinished,
} from '@temporalio/workflow';
import type { StageInstance } from '../src/spec/plan';
import {
  experimentKey,
  planHashKey,
  progressQuery,
  reportMetricSignal,
  statusKey,
} from '../src/runtime/definitions';
import { experiment } from './experiment';
import { objectiveValue } from '../src/runtime/objective';
import { trialInput } from '../src/runtime/slice';
import { innermostMessage } from '../src/util/errors';
import { BATCHED_STAGES_PATCH, lookupCached, pendingProgress, runStage } from './stage';
import { runTracking, TRACKING_PATCH } from './tracking';
import type {
  MetricReport,
  RunStatus,
  StageProgress,
  StageResult,
  SweepCarried,
  SweepInput,
  SweepProgress,
  SweepResult,
  TrackedRun,
  TrialSummary,
} from '../src/runtime/protocol';

export async function sweep(input: SweepInput): Promise<SweepResult> {
  const { plan } = input;
  const info = workflowInfo();
  const maxParallel = Math.max(1, plan.sweep?.maxParallel ?? plan.trials.length);
  const limit = input.continueAsNewAt ?? 4000;
  const earlyStop = plan.sweep?.earlyStop;
  const objective = plan.sweep?.objective;
  // Lower is worse unless the objective on the same metric is to minimise.
  const minimise = objective?.goal === 'minimize' && objective.metric === earlyStop?.metric;
  const state: SweepCarried = input.carried ?? { shared: {}, trials: {}, reports: {}, generation: 0 };
  for (const t of plan.trials) state.trials[t.id] ??= { state: 'pending' };
  const running = new Set<string>();
  let status: RunStatus = 'running';

  const sharedKeys = plan.order.filter((k) => plan.instances[k].trials.length > 1 && plan.trials.length > 1);
  const sharedProgress: Record<string, StageProgress> = {};
  for (const k of sharedKeys) sharedProgress[k] = pendingProgress(plan.instances[k]);

  setHandler(progressQuery, (): SweepProgress => ({
    experiment: plan.experiment,
    status,
    generation: state.generation,
    maxParallel,
    running: [...running].sort(),
    trials: state.trials,
    shared: sharedKeys.map((k) => sharedProgress[k]),
    ...(objective ? { objective } : {}),
    assignments: Object.fromEntries(plan.trials.map((t) => [t.id, t.assignment])),
  }));
  setHandler(reportMetricSignal, async (r: MetricReport) => {
    (state.reports[String(r.step)] ??= {})[r.trialId] = r.value;
    if (earlyStop && r.step >= earlyStop.afterStep) await stopLosers(String(r.step));
  });

  const stopLosers = async (step: string) => {
    const values = state.reports[step];
    if (!earlyStop || Object.keys(values).length < earlyStop.minTrials) return;
    for (const id of [...running].sort()) {
      if (!(id in values) || state.trials[id].state !== 'running') continue;
      const others = Object.entries(values)
        .filter(([t]) => t !== id)
        .map(([, v]) => v);
      const m = median(others);
      if (minimise ? values[id] > m : values[id] < m) {
        state.trials[id] = {
          state: 'stopped',
          error: `${earlyStop.metric} ${values[id]} at step ${step} worse than median ${m}`,
        };
        await getExternalWorkflowHandle(childId(id)).cancel();
      }
    }
  };

  const setStatus = (s: RunStatus) => {
    status = s;
    upsertSearchAttributes([{ key: statusKey, value: s }]);
  };
  upsertSearchAttributes([
    { key: experimentKey, value: plan.experiment },
    { key: planHashKey, value: plan.planHash },
  ]);
  upsertMemo({
    experiment: plan.experiment,
    specFile: plan.specFile,
    trials: plan.trials.length,
    kind: 'sweep',
  });
  setStatus('running');

  // The sweep's MLflow run: trials nest under it, shared instances log to it. Started again
  // (found by key) after continue-as-new; ended only when the sweep ends.
  const run: TrackedRun | undefined = patched(TRACKING_PATCH)
    ? {
        key: info.workflowId,
        name: plan.experiment,
        experiment: plan.tracking.experiment,
        ...(plan.tracking.uri ? { uri: plan.tracking.uri } : {}),
      }
    : undefined;
  const tracking = runTracking(run);
  if (run) {
    await tracking.start({
      run,
      spec: plan.resolvedSpec,
      trialAssignments: plan.trials.map((t) => t.assignment),
      workflowId: info.workflowId,
      planHash: plan.planHash,
      specFile: plan.specFile,
    });
  }

  // Histories recorded before the batched path look shared stages up and record them one by one.
  const cached = patched(BATCHED_STAGES_PATCH)
    ? await lookupCached(sharedKeys.filter((k) => !state.shared[k]))
    : undefined;

  const childId = (trialId: string) => `${info.workflowId}-${trialId}`;
  const shouldContinueAsNew = () =>
    workflowInfo().historyLength >= limit || workflowInfo().continueAsNewSuggested;

  // Shared instances, each started once, in dependency order.
  const sharedPromises: Record<string, Promise<StageResult>> = {};
  const usedActivityIds = new Set<string>();
  const runShared = async (key: string): Promise<StageResult> => {
    const inst: StageInstance = plan.instances[key];
    if (state.shared[key]) {
      Object.assign(sharedProgress[key], { state: 'cached', finishedAt: state.shared[key].finishedAt });
      return state.shared[key];
    }
    const upstream: Record<string, StageResult> = {};
    for (const dep of inst.deps) upstream[dep] = await sharedPromises[dep];
    try {
      const { result, tracked } = await runStage(
        inst,
        upstream,
        { ...plan, queues: input.queues, trackRun: run && { run }, cached, usedActivityIds },
        sharedProgress[key],
      );
      state.shared[key] = result;
      if (!tracked) tracking.stageMetrics(inst.stage, result);
      return result;
    } catch (err) {
      Object.assign(sharedProgress[key], {
        state: isCancellation(err) ? 'cancelled' : 'failed',
        error: innermostMessage(err),
      });
      throw err;
    }
  };
  for (const k of sharedKeys) {
    sharedPromises[k] = runShared(k);
    sharedPromises[k].catch(() => undefined); // awaited by the trials that need it
  }

  const runTrial = async (trialId: string): Promise<void> => {
    const trial = plan.trials.find((t) => t.id === trialId)!;
    const given: Record<string, StageResult> = {};
    try {
      for (const key of Object.values(trial.stages))
        if (key in sharedPromises) given[key] = await sharedPromises[key];
      const args = trialInput(plan, trialId, {
        given,
        queues: input.queues,
        reportMetric: earlyStop?.metric,
      });
      if (run && args.tracking)
        args.tracking = { ...args.tracking, parentKey: run.key, parentName: run.name };
      const child = await startChild(experiment, { workflowId: childId(trialId), args: [args] });
      const result = await child.result();
      const metrics: Record<string, number> = {};
      for (const [stage, r] of Object.entries(result.stages))
        for (const [m, v] of Object.entries(r.metrics)) metrics[`${stage}.${m}`] = v;
      state.trials[trialId] = { state: 'completed', metrics };
    } catch (err) {
      if (state.trials[trialId].state === 'stopped') return;
      state.trials[trialId] = {
        state: isCancellation(err) ? 'cancelled' : 'failed',
        error: innermostMessage(err),
      };
    } finally {
      running.delete(trialId);
    }
  };

  const launched: Promise<void>[] = [];
  let continuing = false;
  try {
    for (const t of plan.trials) {
      if (state.trials[t.id].state !== 'pending') continue;
      await condition(() => running.size < maxParallel);
      if (shouldContinueAsNew()) {
        continuing = true;
        break;
      }
      running.add(t.id);
      state.trials[t.id] = { state: 'running' };
      launched.push(runTrial(t.id));
    }
    await Promise.all(launched);
    await Promise.allSettled(Object.values(sharedPromises));
    if (CancellationScope.current().consideredCancelled)
      throw new CancelledFailure('The sweep was cancelled.');
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() => Promise.allSettled(launched));
      await tracking.end('KILLED');
      setStatus('cancelled');
    }
    throw err;
  }
  await condition(allHandlersFinished);
  if (continuing) {
    await tracking.drain();
    state.generation++;
    return continueAsNew<typeof sweep>({ ...input, carried: state });
  }

  const failedTrials = Object.entries(state.trials).filter(
    ([, t]) => t.state === 'failed' || t.state === 'cancelled',
  );
  const result: SweepResult = { trials: state.trials, best: best(state.trials, objective) };
  if (failedTrials.length === plan.trials.length && plan.trials.length > 0) {
    await tracking.end('FAILED');
    setStatus('failed');
    throw ApplicationFailure.create({
      type: 'SweepFailed',
      message: `Every trial failed; the first, ${failedTrials[0][0]}: ${failedTrials[0][1].error}`,
      nonRetryable: true,
    });
  }
  await tracking.end('FINISHED');
  setStatus('completed');
  return result;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function best(
  trials: Record<string, TrialSummary>,
  objective?: { metric: string; goal: 'maximize' | 'minimize' },
) {
  if (!objective) return undefined;
  let out: { trialId: string; value: number } | undefined;
  for (const [trialId, t] of Object.entries(trials)) {
    const value = t.state === 'completed' ? objectiveValue(t.metrics, objective.metric) : undefined;
    if (value === undefined) continue;
    if (!out || (objective.goal === 'maximize' ? value > out.value : value < out.value))
      out = { trialId, value };
  }
  return out;
}
