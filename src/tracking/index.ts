// Public API of alignrun's MLflow tracking.
export { startMlflowServer, stopMlflowServer, MlflowServerError } from './server';
export type { MlflowServer, MlflowServerOptions } from './server';
export { MlflowClient, MlflowError, RUN_KEY_TAG, PARENT_RUN_TAG } from './client';
export type { Experiment, Run, RunInfo, RunStatus, ArtifactFile, MlflowClientOptions } from './client';
export type { Metric, KeyValue, LogBatch } from './batch';
export { flattenParams, standardTags, TAGS } from './params';
export { Tracker } from './tracker';
export type { TrackerOptions, StartRunArgs, MetricPoint } from './tracker';
export { outboxStatus } from './outbox';
export type { OutboxStatus } from './outbox';
