// The labelling workflow's contract (the workflow is workflows/labeling.ts): its input, progress
// and outcome, the Updates, queries and signal clients send it, and the compact form labels travel
// in. The label stage starts the workflow and collects its labels, the bridge (./bridge.ts) feeds
// it. The workflow bundle loads this file: it must stay deterministic (no Node APIs).
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { tallyKey, type LabelTally } from './tally';
import type { LabelEvent, LabelValue } from './types';

export type Aggregation = 'majority' | 'mean';
export type DeadlinePolicy = 'proceed' | 'fail' | 'extend';

export interface LabelingInput {
  /** The label store's task id; the label stage uses the workflow id as task id. */
  task: string;
  /** Image ids of the task, in publication order. */
  images: string[];
  /** Rater ids known at start; more are registered with `addRaters`. */
  raters?: string[];
  /** Good/bad labels an image needs (skips do not count). */
  quorum: number;
  aggregation: Aggregation;
  /** How long to wait for quorum, e.g. '3d'. */
  deadline: string;
  /** At the deadline, proceed when at least this share of images reached quorum. */
  minFraction: number;
  /** What to do at the deadline below minFraction. */
  onDeadline: DeadlinePolicy;
  /** How much longer to wait each time `onDeadline` is `extend`. */
  extendBy: string;
  /** POST progress to `webhook` every `every` while the task is open (activity `labelReminder` on `queue`). */
  reminder?: { webhook: string; every: string; queue: string };
  /** Continue as new after this many accepted Updates in one run. Default 500 (the server's limit is 2,000). */
  maxUpdatesPerRun?: number;
  /** How long a closed task waits for the stage to collect its labels before completing anyway. Default '1h'. */
  collectWithin?: string;
  /** Labels already in the store when the workflow starts (a restarted task). */
  initial?: CompactLabels;
  /** State carried over continue-as-new. */
  carried?: LabelingCarried;
}

/**
 * The labels of a task without repeating ids: `values[image]` has one character per rater of
 * `raters` ('.' none, 'g' good, 'b' bad, 's' skip). About 10 bytes per image with 3 raters.
 */
export interface CompactLabels {
  raters: string[];
  values: Record<string, string>;
}

export interface LabelingCarried {
  labels: CompactLabels;
  lastSeq: Record<string, number>;
  /** Epoch milliseconds (workflow time). */
  deadlineAt: number;
  nextReminderAt?: number;
  extensions: number;
  closeRequested: boolean;
  /** Updates accepted over all runs. */
  updates: number;
  runs: number;
}

export type LabelingState = 'open' | 'closed';

export interface LabelingProgress {
  task: string;
  state: LabelingState;
  total: number;
  /** Images with at least `quorum` good/bad labels. */
  complete: number;
  /** Images with at least one good/bad label. */
  labelled: number;
  quorum: number;
  deadline: string;
  extensions: number;
  /** Rater id -> answers given, skips included. */
  perRater: Record<string, { good: number; bad: number; skip: number }>;
  runs: number;
}

export interface LabelingSummary extends LabelingProgress {
  /** Why labelling ended: every image reached quorum, the deadline passed, or someone closed it. */
  reason: 'quorum' | 'deadline' | 'closed';
  /** Aggregated labels: images judged good / bad; `ties` are majority ties (counted as bad). */
  positive: number;
  negative: number;
  ties: number;
}

export interface LabelingOutcome {
  summary: LabelingSummary;
  labels: CompactLabels;
}

export interface AddLabelsResult {
  applied: number;
  duplicates: number;
  complete: number;
  total: number;
}

export interface ReminderInput {
  webhook: string;
  task: string;
  complete: number;
  total: number;
  quorum: number;
  deadline: string;
}

export interface LabelingActivities {
  labelReminder(input: ReminderInput): Promise<void>;
}

/** The workflow as clients start it, by its type name (the export of workflows/index.ts). */
export type LabelingWorkflow = (input: LabelingInput) => Promise<LabelingSummary>;
export const LABELING_WORKFLOW_TYPE = 'labeling';

export const addLabelsUpdate = defineUpdate<AddLabelsResult, [LabelEvent[]]>('addLabels');
export const addRatersUpdate = defineUpdate<number, [string[]]>('addRaters');
/** Accepted only once the task is closed; returns the final labels and lets the workflow complete. */
export const collectLabelsUpdate = defineUpdate<LabelingOutcome, []>('collectLabels');
export const labelingProgressQuery = defineQuery<LabelingProgress>('labelingProgress');
/** The labels as they stand (also on a completed workflow). */
export const labelsQuery = defineQuery<LabelingOutcome>('labels');
/** Stops labelling now and proceeds with the labels there are. */
export const closeLabelingSignal = defineSignal('closeLabeling');

/** The workflow id (and label task id) of a label stage instance. */
export const labelingWorkflowId = (instanceKey: string) => `label-${instanceKey.slice(0, 16)}`;

const CODE: Record<LabelValue, string> = { good: 'g', bad: 'b', skip: 's' };
const VALUE: Record<string, LabelValue> = { g: 'good', b: 'bad', s: 'skip' };

/** The labels of `tally` for `task`, compact. */
export function compactLabels(
  tally: LabelTally,
  task: string,
  images: string[],
  raters: string[],
): CompactLabels {
  const values: Record<string, string> = {};
  for (const im of images) {
    const s = raters.map((r) => CODE[tally.labels[tallyKey(task, im, r)]] ?? '.').join('');
    if (/[gbs]/.test(s)) values[im] = s;
  }
  return { raters, values };
}

/** Every label of a compact set as (image, rater, value). */
export function expandLabels(c: CompactLabels): { image: string; rater: string; value: LabelValue }[] {
  const out: { image: string; rater: string; value: LabelValue }[] = [];
  for (const [image, s] of Object.entries(c.values)) {
    for (let i = 0; i < s.length; i++)
      if (VALUE[s[i]]) out.push({ image, rater: c.raters[i], value: VALUE[s[i]] });
  }
  return out;
}

/** The aggregated label of an image: majority gives 0/1 (a tie is 0), mean the share of good. */
export function aggregate(good: number, bad: number, how: Aggregation): number | null {
  if (good + bad === 0) return null;
  if (how === 'mean') return good / (good + bad);
  return good > bad ? 1 : 0;
}
