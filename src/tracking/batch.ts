// Splits one logical log-batch into requests that MLflow's `runs/log-batch` accepts.
// Limits from mlflow/utils/validation.py (3.17): 1000 metrics, 100 params, 100 tags, 1000
// entities in all, 1 MB per request. (The 3.17 server measures the 1 MB limit on the parsed
// dict, so it does not actually enforce it; hosted servers do, so we keep to it.)

export interface Metric {
  key: string;
  value: number;
  /** Milliseconds since the epoch. Fixed by the caller so that a retried batch is identical. */
  timestamp: number;
  step: number;
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface LogBatch {
  metrics?: Metric[];
  params?: KeyValue[];
  tags?: KeyValue[];
}

export const BATCH_LIMITS = {
  metrics: 1000,
  params: 100,
  tags: 100,
  entities: 1000,
  bytes: 1_000_000,
} as const;

/** MLflow param values longer than this are rejected (or truncated, if the server is told to). */
export const MAX_PARAM_VALUE_LENGTH = 6000;
/** MLflow tag values longer than this are rejected. */
export const MAX_TAG_VALUE_LENGTH = 8000;
/** Param, metric and tag keys longer than this are rejected. */
export const MAX_KEY_LENGTH = 250;

// Room for `{"run_id":"<32 hex>","metrics":[],"params":[],"tags":[]}` and some slack.
const ENVELOPE_BYTES = 200;

type Kind = 'metrics' | 'params' | 'tags';

/**
 * Splits `batch` into requests within BATCH_LIMITS, keeping items in their given order.
 * Every returned request is non-empty; an empty batch gives no request.
 */
export function splitLogBatch(batch: LogBatch, limits = BATCH_LIMITS): Required<LogBatch>[] {
  const out: Required<LogBatch>[] = [];
  let current: Required<LogBatch> = { metrics: [], params: [], tags: [] };
  let bytes = ENVELOPE_BYTES;
  let entities = 0;

  const push = (kind: Kind, item: Metric | KeyValue) => {
    const size = Buffer.byteLength(JSON.stringify(item)) + 1;
    if (size + ENVELOPE_BYTES > limits.bytes) {
      throw new Error(
        `A ${kind.slice(0, -1)} '${item.key}' is larger than MLflow's ${limits.bytes}-byte request limit.`,
      );
    }
    const full =
      current[kind].length >= limits[kind] || entities >= limits.entities || bytes + size > limits.bytes;
    if (full) {
      out.push(current);
      current = { metrics: [], params: [], tags: [] };
      bytes = ENVELOPE_BYTES;
      entities = 0;
    }
    (current[kind] as (Metric | KeyValue)[]).push(item);
    bytes += size;
    entities += 1;
  };

  for (const m of batch.metrics ?? []) push('metrics', m);
  for (const p of batch.params ?? []) push('params', p);
  for (const t of batch.tags ?? []) push('tags', t);
  if (entities > 0) out.push(current);
  return out;
}
