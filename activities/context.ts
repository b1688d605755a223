// Builds the StageContext an implementation sees from the running activity's Temporal context.
import { Context } from '@temporalio/activity';
import type { ArtifactStore } from '../src/artifacts/types';
import type { StageContext, StageInput } from '../src/runtime/stage';
import type { RunTracking } from '../src/tracking/run-tracking';

export function stageContext(
  stateDir: string,
  store: ArtifactStore,
  tracking: RunTracking,
  input: StageInput,
  heartbeat: (details?: unknown) => void,
): StageContext {
  const ctx = Context.current();
  const track = tracking.stageTrack(input.tracking, input.instance.stage);
  // A retried attempt re-logs the steps after its checkpoint with the same values; stamping each
  // point with (first scheduled time + step) makes them identical rows, which MLflow de-duplicates.
  const base = ctx.info.scheduledTimestampMs;
  return {
    stateDir,
    store,
    attempt: ctx.info.attempt,
    checkpoint: ctx.info.heartbeatDetails,
    heartbeat,
    signal: ctx.cancellationSignal,
    sleep: (ms) => ctx.sleep(ms),
    track: {
      ...track,
      metrics: (points) => track.metrics(points.map((p) => ({ timestamp: base + p.step, ...p }))),
    },
  };
}
