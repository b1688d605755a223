// Running one stage instance from a workflow: reuse a cached result, or run the kind's activity on
// its task queue with the instance's own timeouts and retry policy, then record the result.
import { ActivityCancellationType, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { StageInstance } from '../src/spec/plan';
import { DEFAULT_QUEUES } from './definitions';
import type {
  QueueNames,
  ResolvedModels,
  StageInput,
  StageOutput,
  StageProgress,
  StageResult,
  StageTrackingRef,
} from './types';

/** The activity types workers register (see activities/index.ts). */
export interface CacheActivities {
  lookupCache(key: string): Promise<StageResult | null>;
  recordResult(result: { key: string } & StageOutput): Promise<StageResult>;
}
export type StageActivity = (input: StageInput) => Promise<StageOutput>;

// Cache reads and writes are short local file operations: local activities skip a server round
// trip each, which is most of the per-stage orchestration cost.
const cache = proxyLocalActivities<CacheActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 5, initialInterval: '200ms' },
});

export interface StageRun {
  result: StageResult;
  cached: boolean;
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
  },
  progress: StageProgress,
): Promise<StageRun> {
  const hit = await cache.lookupCache(inst.key);
  if (hit) {
    Object.assign(progress, { state: 'cached', finishedAt: hit.finishedAt, metrics: hit.metrics });
    return { result: hit, cached: true };
  }
  Object.assign(progress, { state: 'running', startedAt: new Date().toISOString() });
  const activities = proxyActivities<Record<string, StageActivity>>({
    taskQueue: (ctx.queues ?? DEFAULT_QUEUES)[inst.queue],
    startToCloseTimeout: inst.timeouts.startToClose,
    heartbeatTimeout: inst.timeouts.heartbeat,
    retry: inst.retry,
    // Named after the stage so `status` can match pending activities (and their heartbeats).
    activityId: inst.stage,
    // A cancelled run closes only after its activities have really stopped, so `resume` never
    // overlaps a still-running attempt.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  const input: StageInput = { experiment: ctx.experiment, instance: inst, upstream, models: ctx.models };
  if (ctx.trialId) input.trialId = ctx.trialId;
  if (ctx.trackRun) input.tracking = ctx.trackRun;
  const out = await activities[inst.kind](input);
  const result = await cache.recordResult({ key: inst.key, artifacts: out.artifacts, metrics: out.metrics });
  Object.assign(progress, { state: 'done', finishedAt: result.finishedAt, metrics: result.metrics });
  return { result, cached: false };
}

export function pendingProgress(inst: StageInstance): StageProgress {
  return { stage: inst.stage, key: inst.key, kind: inst.kind, queue: inst.queue, state: 'pending' };
}

/** One sentence for a failure: the innermost cause's message. */
export function causeMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  while (e && e.cause) e = e.cause as typeof e;
  return e?.message ?? String(err);
}
