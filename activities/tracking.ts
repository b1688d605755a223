// Tracking activities: the workflows open and close MLflow runs and record finished stages'
// metrics through these, as local activities: each is one append to the durable outbox, and
// delivery to MLflow happens in the background. They never throw for a tracking problem:
// RunTracking reports it and the run goes on.
import type { RunTracking } from '../src/tracking/run-tracking';
import type { TrackingActivities } from '../workflows/types';

export type { TrackingActivities };

export function createTrackingActivities(tracking: RunTracking): TrackingActivities {
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
