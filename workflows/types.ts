// Data that crosses the workflow boundary (inputs, results, progress): plain JSON only, and small:
// big data travels as artifact references (Temporal payloads are capped at 2 MB).
import type { ArtifactRef, StageResult } from '../src/artifacts/types';
import type { Plan, Queue, ResolvedModel, StageInstance } from '../src/spec/plan';

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
