// Builds the StageContext an implementation sees from the running activity's Temporal context.
import { Context } from '@temporalio/activity';
import type { ArtifactStore } from '../artifacts/types';
import type { StageContext, StageInput } from './stage';
import type { RunTracking } from '../tracking/run-tracking';

export function stageContext(
  stateDir: string,
  store: ArtifactStore,
  tracking: RunTracking,
  input: StageInput,
  heartbeat: (details?: unknown) => void,
): StageContext {
  const ctx = Context.current();
  // Points are stamped when logged; steps an earlier attempt of this instance logged are skipped.
  const track = tracking.stageTrack(input.tracking, input.instance.stage, input.instance.key);
  return {
    stateDir,
    store,
    attempt: ctx.info.attempt,
    checkpoint: ctx.info.heartbeatDetails,
    heartbeat,
    signal: ctx.cancellationSignal,
    sleep: (ms) => ctx.sleep(ms),
    track,
  };
}
