// Every activity a worker registers: one per stage kind (activity type = kind; the spec's kinds
// from src/stages/registry.ts, plus any extra ones the caller passes, such as the tests' stages),
// the cache activities the workflows call before and after a stage, the tracking activities and
// the labelling workflow's reminder. On the workflows' batched path (`record` in the input, see
// workflows/stage.ts) a stage activity reuses a cached result or records its own, and logs the
// result's metrics to MLflow, before it returns.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { openArtifacts } from '../artifacts/index';
import type { StageCache } from '../artifacts/cache';
import type { StageResult } from '../artifacts/types';
import { labelReminder } from '../labels/bridge';
import { stageRegistry } from '../stages/registry';
import { RunTracking } from '../tracking/run-tracking';
import { innermostMessage } from '../util/errors';
import { liveHeartbeat } from './heartbeat';
import type { RecordedStage, TrackingActivities } from './protocol';
import type { StageImplementation, StageInput, StageOutput } from './stage';
import { stageContext } from './stage-context';

export interface ActivityOptions {
  /** The worker's MLflow trackers (the caller closes them when the worker stops); default a new one. */
  tracking?: RunTracking;
  /** Where the line per stage event goes (see stageEvents); the worker command prints them. */
  log?: (line: string) => void;
  /** Stage kinds besides the spec's, by kind (tests register their test stages so). */
  extraStages?: Record<string, StageImplementation>;
}

/** Every activity a worker registers, bound to one state folder (artifacts, cache, counters). */
export function createActivities(stateDir: string, options: ActivityOptions = {}) {
  const { tracking = new RunTracking(stateDir), log = () => {}, extraStages = {} } = options;
  for (const kind of Object.keys(extraStages)) {
    if (Object.hasOwn(stageRegistry, kind))
      throw new Error(`Stage kind ${kind} is a spec stage kind; an extra stage cannot replace it.`);
  }
  const { store, cache } = openArtifacts(stateDir);
  const activities: Record<string, (...args: any[]) => Promise<unknown>> = {
    ...trackingActivities(tracking),
    // Reminders of waiting human label tasks (workflows/labeling.ts schedules them).
    labelReminder,
    async lookupCache(key: string): Promise<StageResult | null> {
      return (await cache.lookup(key)) ?? null;
    },
    async lookupCacheMany(keys: string[]): Promise<Record<string, StageResult>> {
      const found = await Promise.all(keys.map((key) => cache.lookup(key)));
      const hits: Record<string, StageResult> = {};
      keys.forEach((key, i) => {
        if (found[i]) hits[key] = found[i];
      });
      return hits;
    },
    async recordResult(r: { key: string } & StageOutput): Promise<StageResult> {
      const result: StageResult = { ...r, finishedAt: new Date().toISOString() };
      await cache.record(result);
      return result;
    },
  };
  for (const [kind, impl] of Object.entries({ ...stageRegistry, ...extraStages })) {
    const execute = async (input: StageInput) => {
      const beat = liveHeartbeat();
      try {
        return await impl(input, stageContext(stateDir, store, tracking, input, beat.heartbeat));
      } finally {
        beat.stop();
      }
    };
    activities[kind] = (input: StageInput) =>
      stageEvents<StageOutput | RecordedStage>(input, log, () =>
        input.record ? recordedStage(input, execute, cache, tracking) : execute(input),
      );
  }
  return activities;
}

/**
 * The tracking activities: the workflows open and close MLflow runs and record finished stages'
 * metrics through these, as local activities: each is one append to the durable outbox, and
 * delivery to MLflow happens in the background. They never throw for a tracking problem:
 * RunTracking reports it and the run goes on.
 */
function trackingActivities(tracking: RunTracking): TrackingActivities {
  return {
    async trackRunStart(start) {
      tracking.startRun(start);
    },
    async trackStageMetrics({ run, stage, metrics, finishedAt }) {
      tracking.logStageMetrics(run, stage, metrics, finishedAt);
    },
    async trackRunEnd({ run, status }) {
      tracking.endRun(run, status);
    },
  };
}

/**
 * One log line when an attempt of a stage starts (or retries) and one when it finishes, fails or
 * is cancelled, each with the run (workflow id) and stage, so a failure can be traced from the
 * worker's log alone.
 */
async function stageEvents<T>(
  input: StageInput,
  log: (line: string) => void,
  run: () => Promise<T>,
): Promise<T> {
  const { info, cancellationSignal } = Context.current();
  const max = input.instance.retry.maximumAttempts;
  const what =
    `run ${info.workflowExecution?.workflowId ?? '(none)'} stage ${input.instance.stage} ` +
    `(${input.instance.kind}, attempt ${info.attempt}${max ? ` of ${max}` : ''})`;
  const line = (event: string) => log(`${new Date().toISOString()} ${what} ${event}`);
  const started = Date.now();
  const took = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  line(info.attempt > 1 ? 'retrying' : 'started');
  try {
    const out = await run();
    line((out as Partial<RecordedStage>).cached ? 'found in the cache' : `finished in ${took()}`);
    return out;
  } catch (err) {
    if (cancellationSignal.aborted) line(`cancelled after ${took()}`);
    else {
      const last = (err as ApplicationFailure).nonRetryable || (max > 0 && info.attempt >= max);
      line(
        `failed after ${took()}${last ? ', no attempts left' : ''}: ${innermostMessage(err).replace(/\s*\n\s*/g, ' ')}`,
      );
    }
    throw err;
  }
}

/**
 * A stage run on the batched path: the cached result if there is one, else the stage's output,
 * recorded in the cache (only when the stage succeeded); either way its metrics are logged to the
 * stage's MLflow run, stamped with the result's finish time, so a retry logs no second row.
 */
async function recordedStage(
  input: StageInput,
  execute: (input: StageInput) => Promise<StageOutput>,
  cache: StageCache,
  tracking: RunTracking,
): Promise<RecordedStage> {
  const { key, stage } = input.instance;
  let result = await cache.lookup(key);
  const cached = result !== undefined;
  if (!result) {
    const out = await execute(input);
    result = { key, artifacts: out.artifacts, metrics: out.metrics, finishedAt: new Date().toISOString() };
    await recordResult(cache, result, stage);
  }
  if (input.tracking) tracking.logStageMetrics(input.tracking.run, stage, result.metrics, result.finishedAt);
  return { result, cached };
}

// A few quick tries (as the workflows' recordResult local activity had), then the stage fails
// without running again: its output is fine, the cache is not.
async function recordResult(cache: StageCache, result: StageResult, stage: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await cache.record(result);
    } catch (err) {
      if (attempt === 4) {
        throw ApplicationFailure.nonRetryable(
          `Could not record the result of stage ${stage} in the cache: ${(err as Error).message}`,
          'RecordResultFailed',
        );
      }
      await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
    }
  }
}
