// The compiled form of an experiment: plain JSON, no functions, safe to hand to a Temporal
// workflow as its input. Produced by `compile()`; everything here is fully defaulted.

export const PLAN_VERSION = 1;

export type StageKind = 'prompts' | 'generate' | 'label' | 'reward' | 'finetune' | 'evaluate' | 'pretrain';
/** Stage kinds that exist only for tests and benchmarks of the orchestration (never in a spec). */
export type TestStageKind = 'noop' | 'sleep' | 'counter';
export type Queue = 'cpu' | 'gpu';

/** A model folder named in `models:`, resolved to an absolute path and hashed by content. */
export interface ResolvedModel {
  name: string;
  path: string;
  /** sha256 over the folder's files (relative path + bytes); changes when any weight changes. */
  contentHash: string;
  providers: string[];
  allowCpuFallback: boolean;
}

/** Where a stage input comes from: another stage instance's output, or a model folder. */
export type InputRef = { stage: string; key: string } | { model: string; contentHash: string };

export interface RetryPolicy {
  maximumAttempts: number;
  initialInterval: string;
  backoffCoefficient: number;
  maximumInterval: string;
}

export interface StageTimeouts {
  /** Whole-attempt limit (Temporal startToCloseTimeout), e.g. '2h'. */
  startToClose: string;
  /** A running attempt must heartbeat at least this often, e.g. '60s'. */
  heartbeat: string;
}

/** One runnable stage: the unit of caching. Trials that share it run it once. */
export interface StageInstance {
  /** sha256 hex over kind, implementation version, params, upstream keys, input content hashes. */
  key: string;
  /** Stage name in the spec ('reward'; round copies are 'reward@2'). */
  stage: string;
  kind: StageKind | TestStageKind;
  /** Implementation version of the stage kind (part of the cache key). */
  version: string;
  queue: Queue;
  /** Resolved parameters with defaults applied; references to stages/models are in `inputs`. */
  params: Record<string, unknown>;
  /** Named inputs (the spec field that held the reference) -> where it comes from. */
  inputs: Record<string, InputRef | InputRef[]>;
  /** Upstream instance keys (the DAG edges), sorted. */
  deps: string[];
  retry: RetryPolicy;
  timeouts: StageTimeouts;
  /** Trial ids that use this instance, sorted. */
  trials: string[];
}

export interface Trial {
  /** 't0', 't1', ... in expansion order. */
  id: string;
  /** The sweep assignment of this trial (dotted path -> value); empty without a sweep. */
  assignment: Record<string, unknown>;
  /** Stage name -> instance key, for every stage of the trial. */
  stages: Record<string, string>;
}

export interface SweepPlan {
  /** How the trials came about: a grid, random draws, or a list written out (`sweep.trials`). */
  method: 'grid' | 'random' | 'list';
  maxParallel: number;
  objective?: { metric: string; goal: 'maximize' | 'minimize' };
  earlyStop?: { method: 'median'; metric: string; afterStep: number; minTrials: number };
}

export interface Plan {
  planVersion: number;
  /** metadata.name of the spec. */
  experiment: string;
  /** Absolute path of the spec file it was compiled from. */
  specFile: string;
  /** sha256 of the instance keys and trial structure: equal plans get equal hashes. */
  planHash: string;
  tracking: { experiment: string; uri?: string };
  models: Record<string, ResolvedModel>;
  /** Every stage instance, keyed by its cache key (shared instances appear once). */
  instances: Record<string, StageInstance>;
  /** Instance keys in a topological order (dependencies first). */
  order: string[];
  trials: Trial[];
  sweep?: SweepPlan;
  /** The resolved spec (defaults applied), for tracking params. */
  resolvedSpec: Record<string, unknown>;
}
