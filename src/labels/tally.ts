// The receiving side of forwarded label events: applies them exactly once, in order. Pure and
// deterministic (no Node built-ins, no clock), so workflow code may import it.
import type { LabelEvent, LabelValue } from './types';

export interface LabelTally {
  /** Highest seq applied per source store; anything at or below it is a re-send. */
  lastSeq: Record<string, number>;
  /** Current label per `task/image/rater` key. */
  labels: Record<string, LabelValue>;
}

export function emptyTally(): LabelTally {
  return { lastSeq: {}, labels: {} };
}

export const tallyKey = (task: string, image: string, rater: string) => `${task}/${image}/${rater}`;

/**
 * Applies a batch in place. The forwarder sends each store's events in seq order and re-sends
 * only a prefix it was not sure landed, so one high-water mark per store is enough to dedupe.
 */
export function applyLabelEvents(
  tally: LabelTally,
  batch: LabelEvent[],
): { applied: number; duplicates: number } {
  let applied = 0;
  let duplicates = 0;
  for (const e of batch) {
    if (e.seq <= (tally.lastSeq[e.store] ?? 0)) {
      duplicates += 1;
      continue;
    }
    tally.lastSeq[e.store] = e.seq;
    const key = tallyKey(e.task, e.image, e.rater);
    if (e.kind === 'label' && e.value) tally.labels[key] = e.value;
    else delete tally.labels[key];
    applied += 1;
  }
  return { applied, duplicates };
}

/** Good/bad counts per image of a task (skips are not judgements). */
export function countsByImage(
  tally: LabelTally,
  task: string,
): Record<string, { good: number; bad: number }> {
  const out: Record<string, { good: number; bad: number }> = {};
  const prefix = `${task}/`;
  for (const [key, value] of Object.entries(tally.labels)) {
    if (!key.startsWith(prefix) || value === 'skip') continue;
    const image = key.slice(prefix.length, key.lastIndexOf('/'));
    const c = (out[image] ??= { good: 0, bad: 0 });
    c[value] += 1;
  }
  return out;
}
