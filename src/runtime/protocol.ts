// Data that crosses the workflow boundary (inputs, results, progress): plain JSON only, and small:
// big data travels as artifact references (Temporal payloads are capped at 2 MB). The workflows
// (workflows/) and their clients and activities (src/) both speak it.
import type { ArtifactRef, StageResult } from '../artifacts/types';
import type { Plan, Queue, ResolvedModel, StageInstance } from '../spec/plan';

export type { ArtifactRef, StageResult };
export type ResolvedModels = Record<string, ResolvedModel>;

/** What a stage activity receives. */
export interface StageInput {
  experiment: string;
  trialId?: string;
  instance: StageInstance;
  /** Finished results of the instance's dependencies, by instance key. */
  upstream: Record<string, StageResult>;
  /** The model folders the instance's inputs name. */
  models: Record<string, ResolvedModel>;
  /** The MLflow run the stage logs to through `ctx.track`; absent when the run is not tracked. */
  tracking?: StageTrackingRef;
  /**
   * Set by workflows on the batched path (workflows/stage.ts): the activity itself reuses a result
   * already in the cache, or runs the stage and records its result there, logs the result's
   * metrics to `tracking`, and returns a `RecordedStage` instead of a `StageOutput`.
   */
  record?: boolean;
}

/** What a stage activity returns when its input asks it to `record`. */
export interface RecordedStage {
  result: StageResult;
  /** The result was already in the cache (recorded by another run or an earlier attempt). */
  cached: boolean;
}

/** An MLflow run, named by a deterministic key so that retries and resumes find it again. */
export interface TrackedRun {
  /** `<workflow id>/<trial id>` for a trial, the sweep's workflow id for a sweep. */
  key: string;
  name: string;
  /** MLflow experiment (the plan's `tracking.experiment`). */
  experiment: string;
  /** The spec's `tracking.uri`; $MLFLOW_TRACKING_URI and the local server come first and last. */
  uri?: string;
  /** The sweep's run, for a trial of a sweep. */
  parentKey?: string;
  parentName?: string;
}

/** What a stage activity needs to log to its run. */
export interface StageTrackingRef {
  run: TrackedRun;
}

/** What a trial needs to open its MLflow run (cut from the plan by `trialInput()`). */
export interface TrialTracking {
  experiment: string;
  uri?: string;
  /** The resolved spec (`plan.resolvedSpec`), logged as params with the assignment applied. */
  spec: Record<string, unknown>;
  assignment: Record<string, unknown>;
  /** Set by a sweep: the key and name of its run, which the trial's run nests under. */
  parentKey?: string;
  parentName?: string;
}

/** What a stage activity returns: references and numbers, never the data itself. */
export interface StageOutput {
  artifacts: Record<string, ArtifactRef>;
  metrics: Record<string, number>;
}

/** Task queue names per plan queue; defaults `cpu` and `gpu`. */
export type QueueNames = Record<Queue, string>;

/** One trial's DAG, cut out of a plan by `trialInput()`. */
export interface TrialInput {
  experiment: string;
  planHash: string;
  specFile: string;
  trialId: string;
  /** Stage name -> instance key. */
  stages: Record<string, string>;
  /** The trial's instances and their topological order. */
  instances: Record<string, StageInstance>;
  order: string[];
  models: Record<string, ResolvedModel>;
  /** Results already finished elsewhere (the sweep's shared instances), by key. */
  given?: Record<string, StageResult>;
  queues?: QueueNames;
  /** Metric name the trial forwards to its parent sweep (early stopping). */
  reportMetric?: string;
  /** Where the trial's MLflow run goes; absent in inputs recorded before tracking existed. */
  tracking?: TrialTracking;
}

export type StageState = 'pending' | 'cached' | 'running' | 'done' | 'failed' | 'cancelled';

export interface StageProgress {
  stage: string;
  key: string;
  kind: string;
  queue: Queue;
  state: StageState;
  startedAt?: string;
  finishedAt?: string;
  error?: string;
  metrics?: Record<string, number>;
}

export type RunStatus = 'running' | 'completed' | 'failed' | 'cancelled';

export interface TrialProgress {
  experiment: string;
  trialId: string;
  status: RunStatus;
  stages: StageProgress[];
}

export interface TrialResult {
  trialId: string;
  /** Stage name -> its result; `cached` when it was reused rather than run. */
  stages: Record<string, StageResult & { cached: boolean }>;
}

export type TrialState = 'pending' | 'running' | 'completed' | 'failed' | 'stopped' | 'cancelled';

export interface TrialSummary {
  state: TrialState;
  error?: string;
  /** Metrics of every stage, `stage.metric` -> value (kept small for continue-as-new). */
  metrics?: Record<string, number>;
}

export interface SweepInput {
  plan: Plan;
  queues?: QueueNames;
  /** Continue-as-new once history passes this many events (default 4,000). */
  continueAsNewAt?: number;
  /** State carried over continue-as-new. */
  carried?: SweepCarried;
}

export interface SweepCarried {
  shared: Record<string, StageResult>;
  trials: Record<string, TrialSummary>;
  /** step -> trialId -> reported value. */
  reports: Record<string, Record<string, number>>;
  generation: number;
}

export interface SweepProgress {
  experiment: string;
  status: RunStatus;
  generation: number;
  maxParallel: number;
  running: string[];
  trials: Record<string, TrialSummary>;
  shared: StageProgress[];
  /** The sweep's objective (`stage.metric`), when the spec names one. */
  objective?: { metric: string; goal: 'maximize' | 'minimize' };
  /** Each trial's sweep assignment (dotted path -> value). */
  assignments?: Record<string, Record<string, unknown>>;
}

export interface SweepResult {
  trials: Record<string, TrialSummary>;
  best?: { trialId: string; value: number };
}

export interface MetricReport {
  trialId: string;
  step: number;
  value: number;
}

/** What a workflow hands the start activity; params are computed there from the spec. */
export interface RunStart {
  run: TrackedRun;
  /** The resolved spec; logged flattened, with `assignment` applied. */
  spec: Record<string, unknown>;
  assignment?: Record<string, unknown>;
  /** A sweep's run: every trial's assignment; its params are then only the values all trials share. */
  trialAssignments?: Record<string, unknown>[];
  trialId?: string;
  workflowId: string;
  planHash: string;
  specFile?: string;
}

export type RunEndStatus = 'FINISHED' | 'FAILED' | 'KILLED';

/** The tracking activities (src/runtime/activities.ts); workflows call them as local activities. */
export interface TrackingActivities {
  trackRunStart(start: RunStart): Promise<void>;
  trackStageMetrics(args: {
    run: TrackedRun;
    stage: string;
    metrics: Record<string, number>;
    finishedAt: string;
  }): Promise<void>;
  trackRunEnd(args: { run: TrackedRun; status: RunEndStatus }): Promise<void>;
}
