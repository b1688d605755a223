// MLflow tracking from workflow code: the run's start and end and each finished stage's metrics
// go through local tracking activities (an outbox append each). Stage metrics are sent as soon as
// the stage finishes but not waited for; `end` waits for them first. A tracking call that fails
// anyway (e.g. a worker without the activities) is dropped: tracking never fails a run.
import { CancellationScope, proxyLocalActivities } from '@temporalio/workflow';
import type {
  RunEndStatus,
  RunStart,
  StageResult,
  TrackedRun,
  TrackingActivities,
} from '../src/runtime/protocol';

/** Marks histories whose workflows make tracking calls (older ones replay without them). */
export const TRACKING_PATCH = 'alignrun-mlflow-tracking';

const activities = proxyLocalActivities<TrackingActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 5, initialInterval: '200ms' },
});

export interface RunTrackingCalls {
  start(start: RunStart): Promise<void>;
  stageMetrics(stage: string, result: StageResult): void;
  /** Waits for the stage metrics sent so far (before continue-as-new). */
  drain(): Promise<void>;
  /** Waits for the stage metrics sent so far, then ends the run; runs even when cancelled. */
  end(status: RunEndStatus): Promise<void>;
}

export function runTracking(run: TrackedRun | undefined): RunTrackingCalls {
  const inFlight: Promise<unknown>[] = [];
  const quietly = (p: Promise<unknown>) => p.catch(() => undefined);
  return {
    async start(start) {
      if (run) await quietly(activities.trackRunStart(start));
    },
    stageMetrics(stage, result) {
      if (!run || Object.keys(result.metrics).length === 0) return;
      inFlight.push(
        quietly(
          CancellationScope.nonCancellable(() =>
            activities.trackStageMetrics({
              run,
              stage,
              metrics: result.metrics,
              finishedAt: result.finishedAt,
            }),
          ),
        ),
      );
    },
    async drain() {
      await CancellationScope.nonCancellable(() => Promise.all(inFlight));
    },
    async end(status) {
      if (!run) return;
      await CancellationScope.nonCancellable(async () => {
        await Promise.all(inFlight);
        await quietly(activities.trackRunEnd({ run, status }));
      });
    },
  };
}
