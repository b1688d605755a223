// Per-kind facts the compiler needs: code versions (part of every cache key), default queues
// and timeouts.
import { fileURLToPath } from 'node:url';
import { stageCodeVersions } from './code-version';
import type { Queue, StageKind } from './plan';

let versions: Record<StageKind, string> | undefined;
/** Each stage kind's code version (src/spec/code-version.ts), computed once per process. */
export function stageVersions(): Record<StageKind, string> {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  versions ??= stageCodeVersions(root, Object.keys(DEFAULT_QUEUE) as StageKind[]);
  return versions;
}

export const DEFAULT_QUEUE: Record<StageKind, Queue> = {
  prompts: 'cpu',
  generate: 'gpu',
  label: 'cpu',
  reward: 'gpu',
  finetune: 'gpu',
  evaluate: 'gpu',
  pretrain: 'gpu',
};

/** A label stage may wait days for people; training stages run for hours. */
export const DEFAULT_TIMEOUT: Record<StageKind, string> = {
  prompts: '10m',
  generate: '6h',
  label: '30d',
  reward: '6h',
  finetune: '24h',
  evaluate: '6h',
  pretrain: '48h',
};

/** Fields that say how a stage runs, not what it computes: left out of the cache key. */
export const RUN_FIELDS = [
  'kind',
  'description',
  'queue',
  'retries',
  'timeout',
  'heartbeat_timeout',
] as const;

/** Fields that name input files whose content belongs in the cache key. */
export const FILE_FIELDS: Partial<Record<StageKind, string[][]>> = {
  prompts: [['file']],
  label: [['source', 'path']],
  reward: [
    ['backbone', 'path'],
    ['backbone', 'init'],
  ],
  finetune: [['pretrain_data', 'path']],
};
