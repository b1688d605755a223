// Running one stage instance from a workflow: reuse a cached result, or run the kind's activity on
// its task queue with the instance's own timeouts and retry policy, then record the result.
//
// Two paths. The first (histories without the BATCHED_STAGES_PATCH marker) looks each stage up and
// records its result with local activities of its own, and tracks its metrics with another: a
// workflow task round trip each. The batched path looks up every stage of a run at once at the
// start (`lookupCached`) and lets the stage activity record its own result and log its metrics
// before it returns (`record` in its input), so a stage that runs costs one activity and one
// workflow task. The activity checks the cache again before running, so a result recorded after
// the batched lookup (by another run, or by an earlier attempt whose completion was lost) is
// reused, not run again.
import { ActivityCancellationType, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { StageInstance } from '../src/spec/plan';
import { DEFAULT_QUEUES } from '../src/runtime/definitions';
import type {
  QueueNames,
  RecordedStage,
  ResolvedModels,
  StageInput,
  StageOutput,
  StageProgress,
  StageResult,
  StageTrackingRef,
} from '../src/runtime/protocol';

/** Marks histories whose stages take the batched path (see the top of this file). */
export const BATCHED_STAGES_PATCH = 'alignrun-batched-cache-lookup-stage-records-result';

/** The activity types workers register (see src/runtime/activities.ts). */
export interface CacheActivities {
  lookupCache(key: string): Promise<StageResult | null>;
  /** The results among `keys` that are in the cache, by key. */
  lookupCacheMany(keys: string[]): Promise<Record<string, StageResult>>;
  recordResult(result: { key: string } & StageOutput): Promise<StageResult>;
}
export type StageActivity = (input: StageInput) => Promise<StageOutput>;
export type RecordingStageActivity = (input: StageInput & { record: true }) => Promise<RecordedStage>;

// Cache reads and writes are short local file operations: local activities skip a server round
// trip each, which is most of the per-stage orchestration cost.
const cache = proxyLocalActivities<CacheActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 5, initialInterval: '200ms' },
});

export interface StageRun {
  result: StageResult;
  cached: boolean;
  /** The stage activity already logged the result's metrics to the run's MLflow run. */
  tracked?: boolean;
}

/**
 * The batched path's one cache lookup for many stages (no activity for none). A lookup that fails
 * costs only speed: every stage activity checks the cache again before it runs. A cancelled one
 * (the run was cancelled) finds nothing, and the run goes on to end as cancelled the usual way.
 */
export async function lookupCached(keys: string[]): Promise<Record<string, StageResult>> {
  if (keys.length === 0) return {};
  return cache.lookupCacheMany(keys).catch(() => ({}));
}

/** Runs (or reuses) one instance, keeping `progress` current for the `progress` query. */
export async function runStage(
  inst: StageInstance,
  upstream: Record<string, StageResult>,
  ctx: {
    experiment: string;
    trialId?: string;
    models: ResolvedModels;
    queues?: QueueNames;
    /** The MLflow run the stage logs to (named apart from the spread plan's `tracking`). */
    trackRun?: StageTrackingRef;
    /** The batched path: the results `lookupCached` found; the stage activity records its own. */
    cached?: Record<string, StageResult>;
    /**
     * Activity ids this workflow execution has used. A sweep runs several shared instances of one
     * stage (e.g. a reward model per lambda, each shared by the trials of every beta); the first
     * keeps the stage's name as its id, the others add their key (ids must be unique per run).
     */
    usedActivityIds?: Set<string>;
  },
  progress: StageProgress,
): Promise<StageRun> {
  const batched = ctx.cached !== undefined;
  const hit = batched ? ctx.cached![inst.key] : await cache.lookupCache(inst.key);
  if (hit) {
    Object.assign(progress, { state: 'cached', finishedAt: hit.finishedAt, metrics: hit.metrics });
    return { result: hit, cached: true };
  }
  Object.assign(progress, { state: 'running', startedAt: new Date().toISOString() });
  let activityId = inst.stage;
  if (ctx.usedActivityIds) {
    if (ctx.usedActivityIds.has(activityId)) activityId = `${inst.stage}#${inst.key.slice(0, 12)}`;
    ctx.usedActivityIds.add(activityId);
  }
  const activities = proxyActivities<Record<string, StageActivity>>({
    taskQueue: (ctx.queues ?? DEFAULT_QUEUES)[inst.queue],
    startToCloseTimeout: inst.timeouts.startToClose,
    heartbeatTimeout: inst.timeouts.heartbeat,
    retry: inst.retry,
    // Named after the stage so `status` can match pending activities (and their heartbeats).
    activityId,
    // A cancelled run closes only after its activities have really stopped, so `resume` never
    // overlaps a still-running attempt.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  const input: StageInput = { experiment: ctx.experiment, instance: inst, upstream, models: ctx.models };
  if (ctx.trialId) input.trialId = ctx.trialId;
  if (ctx.trackRun) input.tracking = ctx.trackRun;
  if (batched) {
    const run = activities[inst.kind] as unknown as RecordingStageActivity;
    const { result, cached } = await run({ ...input, record: true });
    Object.assign(progress, {
      state: cached ? 'cached' : 'done',
      finishedAt: result.finishedAt,
      metrics: result.metrics,
    });
    return { result, cached, tracked: true };
  }
  const out = await activities[inst.kind](input);
  const result = await cache.recordResult({ key: inst.key, artifacts: out.artifacts, metrics: out.metrics });
  Object.assign(progress, { state: 'done', finishedAt: result.finishedAt, metrics: result.metrics });
  return { result, cached: false };
}

export function pendingProgress(inst: StageInstance): StageProgress {
  return { stage: inst.stage, key: inst.key, kind: inst.kind, queue: inst.queue, state: 'pending' };
}
