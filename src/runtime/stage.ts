// The contract between the runtime and a stage kind's implementation.
//
// A stage kind `K` is implemented by `src/stages/K.ts` exporting `run: StageImplementation`, listed
// in src/stages/registry.ts; workers register it as the activity of type `K`. The implementation
// reads inputs by artifact reference, writes outputs to `ctx.store`, heartbeats at least every
// heartbeat timeout (with a checkpoint to resume from), and returns references and metrics only.
import type { ArtifactStore } from '../artifacts/types';
import type { StageTrack } from '../tracking/run-tracking';
import type { StageInput, StageOutput } from './protocol';

export type { StageInput, StageOutput, StageTrack };

export interface StageContext {
  stateDir: string;
  store: ArtifactStore;
  /** 1 on the first attempt. */
  attempt: number;
  /** The details of the last heartbeat of an earlier attempt: resume from here. */
  checkpoint: unknown;
  /**
   * Reports liveness and progress; the details become `checkpoint` if the attempt is retried.
   * `{ step, steps }` in the details is shown as a progress bar by `status` and `watch`.
   */
  heartbeat(details?: unknown): void;
  /** Aborted when the run is cancelled or the attempt times out (noticed on heartbeat). */
  signal: AbortSignal;
  /** Sleeps, and rejects with a CancelledFailure when the run is cancelled. */
  sleep(ms: number): Promise<void>;
  /**
   * Logs to the stage's MLflow run (the trial's; the sweep's for an instance shared by trials):
   * `metrics([{ key, value, step }])` as `<stage>.<key>`, `artifact(path, bytes | file)` and
   * `image(path, png)` under `<stage>/`. Calls return at once and never throw for MLflow trouble
   * (they wait in a durable outbox). A point is stamped with the time of the call; a step that an
   * earlier attempt of the stage already logged for its key is skipped, so an attempt resuming
   * from its checkpoint adds no second row. The metrics a stage returns are logged for it too: a
   * key it also logged as a curve to the run at the curve's last step (not at all when that point
   * holds the same value), any other key at step 0 (so is a cached result in a run without the
   * curve).
   */
  track: StageTrack;
}

export type StageImplementation = (input: StageInput, ctx: StageContext) => Promise<StageOutput>;
