// Shared shapes of the human-feedback part: what a task, an image, a label and a forwarded event are.

export type LabelValue = 'good' | 'bad' | 'skip';
export const LABEL_VALUES: readonly LabelValue[] = ['good', 'bad', 'skip'];

export interface TaskImageInput {
  /** Stable id of the image inside its task (e.g. the artifact hash). */
  id: string;
  prompt: string;
  /** File on disk the server streams to raters. */
  path: string;
  /** Prompt category, e.g. 'color', 'count', 'background', 'combo'. */
  category?: string;
  /** Dataset split, e.g. 'train' or 'eval'. */
  split?: string;
}

export interface TaskInput {
  id: string;
  experiment: string;
  title: string;
  /** Good/bad labels an image needs before it counts as done (skips do not count). Default 1. */
  quorum?: number;
  images: TaskImageInput[];
}

export interface TaskInfo {
  id: string;
  experiment: string;
  title: string;
  status: 'open' | 'closed';
  quorum: number;
  created: string;
}

export interface TaskImage {
  id: string;
  prompt: string;
  path: string;
  category: string | null;
  split: string | null;
}

export interface Rater {
  id: string;
  name: string;
  revoked: boolean;
  created: string;
}

export interface Label {
  task: string;
  image: string;
  rater: string;
  value: LabelValue;
  created: string;
  seq: number;
}

export interface RaterProgress {
  rater: string;
  name: string;
  /** Images this rater has answered, skips included. */
  labelled: number;
}

export interface Progress {
  task: string;
  total: number;
  /** Images with at least `quorum` good/bad labels. */
  complete: number;
  quorum: number;
  perRater: RaterProgress[];
}

/**
 * One accepted change, as forwarded to the workflow. `id` is stable across restarts so the
 * receiver can drop a re-sent event; `kind: 'retract'` (from undo) withdraws the triple's label.
 */
export interface LabelEvent {
  id: string;
  /** The store that accepted it; seq grows per store, so a receiver can keep one high-water mark each. */
  store: string;
  seq: number;
  kind: 'label' | 'retract';
  task: string;
  image: string;
  rater: string;
  value: LabelValue | null;
  at: string;
}

export type LabelErrorCode = 'invalid' | 'not_found' | 'closed' | 'forbidden' | 'conflict';

/** An error whose message is one sentence meant for the person who caused it. */
export class LabelError extends Error {
  constructor(
    readonly code: LabelErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'LabelError';
  }
}
