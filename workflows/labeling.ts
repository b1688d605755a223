// One workflow per human label task: it holds the tally of forwarded labels, waits until every
// image has `quorum` good/bad labels or the deadline passes (then proceeds, fails or extends),
// sends reminders, and hands the final labels to the label stage before it completes.
//
// Labels arrive as the `addLabels` Update, sent by the bridge (src/labels/bridge.ts) from the label
// store's outbox; raters are registered first with `addRaters`. An Update counts against the
// per-execution limit of 2,000, so the workflow continues as new well before it, carrying the
// tally in a compact form (payloads are capped at 2 MB).
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { applyLabelEvents, emptyTally, tallyKey, type LabelTally } from '../src/labels/tally';
import { LABEL_VALUES, type LabelEvent, type LabelValue } from '../src/labels/types';

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

const MAX_BATCH = 1000;
const RATER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const CODE: Record<LabelValue, string> = { good: 'g', bad: 'b', skip: 's' };
const VALUE: Record<string, LabelValue> = { g: 'good', b: 'bad', s: 'skip' };

/** '30s', '1.5h', '3d' -> milliseconds (the spec's duration format). */
export function durationMs(d: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)$/.exec(d);
  if (!m) throw ApplicationFailure.nonRetryable(`'${d}' is not a duration such as '30s', '10m' or '2d'.`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms'];
  return Number(m[1]) * unit;
}

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

/** Refusal types: the bridge drops events of a closed task, and registers raters again on LabelRaterUnknown. */
const reject = (message: string, type = 'LabelRejected') => ApplicationFailure.nonRetryable(message, type);

export async function labeling(input: LabelingInput): Promise<LabelingSummary> {
  const { task, images, quorum } = input;
  const total = images.length;
  const imageSet = new Set(images);
  const carried = input.carried;
  const start = carried?.labels ?? input.initial;
  const raters = new Set<string>([...(input.raters ?? []), ...(start?.raters ?? [])]);
  const tally: LabelTally = emptyTally();
  if (carried) tally.lastSeq = { ...carried.lastSeq };
  for (const l of start ? expandLabels(start) : []) tally.labels[tallyKey(task, l.image, l.rater)] = l.value;

  let deadlineAt = carried?.deadlineAt ?? Date.now() + durationMs(input.deadline);
  let nextReminderAt =
    carried?.nextReminderAt ?? (input.reminder ? Date.now() + durationMs(input.reminder.every) : undefined);
  let extensions = carried?.extensions ?? 0;
  let closeRequested = carried?.closeRequested ?? false;
  let updatesThisRun = 0;
  const updatesBefore = carried?.updates ?? 0;
  const runs = (carried?.runs ?? 0) + 1;
  const maxUpdates = input.maxUpdatesPerRun ?? 500;
  let state: LabelingState = 'open';
  let collected = false;

  // Good/bad counts per image and the number at quorum, kept current as batches arrive.
  const counts = new Map<string, { good: number; bad: number }>();
  let complete = 0;
  const recount = (image: string) => {
    const before = counts.get(image) ?? { good: 0, bad: 0 };
    const c = { good: 0, bad: 0 };
    for (const r of raters) {
      const v = tally.labels[tallyKey(task, image, r)];
      if (v === 'good' || v === 'bad') c[v] += 1;
    }
    counts.set(image, c);
    complete += Number(c.good + c.bad >= quorum) - Number(before.good + before.bad >= quorum);
  };
  images.forEach(recount);

  const progress = (): LabelingProgress => {
    const perRater: LabelingProgress['perRater'] = {};
    for (const r of raters) perRater[r] = { good: 0, bad: 0, skip: 0 };
    const prefix = `${task}/`;
    for (const [key, v] of Object.entries(tally.labels)) {
      const rater = key.slice(key.lastIndexOf('/') + 1);
      if (key.startsWith(prefix) && perRater[rater]) perRater[rater][v] += 1;
    }
    let labelled = 0;
    for (const c of counts.values()) if (c.good + c.bad > 0) labelled += 1;
    return {
      task,
      state,
      total,
      complete,
      labelled,
      quorum,
      deadline: new Date(deadlineAt).toISOString(),
      extensions,
      perRater,
      runs,
    };
  };
  const outcome = (reason: LabelingSummary['reason']): LabelingOutcome => {
    let positive = 0;
    let negative = 0;
    let ties = 0;
    for (const c of counts.values()) {
      const a = aggregate(c.good, c.bad, input.aggregation);
      if (a === null) continue;
      if (a >= 0.5) positive += 1;
      else negative += 1;
      if (input.aggregation === 'majority' && c.good === c.bad) ties += 1;
    }
    return {
      summary: { ...progress(), reason, positive, negative, ties },
      labels: compactLabels(tally, task, images, [...raters]),
    };
  };
  let reason: LabelingSummary['reason'] = 'quorum';

  setHandler(labelingProgressQuery, progress);
  setHandler(labelsQuery, () => outcome(reason));
  setHandler(closeLabelingSignal, () => void (closeRequested = true));
  setHandler(
    addRatersUpdate,
    (ids) => {
      ids.forEach((id) => raters.add(id));
      updatesThisRun += 1;
      return raters.size;
    },
    {
      validator: (ids) => {
        if (state !== 'open')
          throw reject(`Task '${task}' is closed and takes no more raters.`, 'LabelTaskClosed');
        if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_BATCH)
          throw reject(`addRaters takes a list of 1 to ${MAX_BATCH} rater ids.`);
        const bad = ids.find((id) => typeof id !== 'string' || !RATER_ID.test(id));
        if (bad !== undefined) throw reject(`'${String(bad)}' is not a rater id.`);
      },
    },
  );
  setHandler(
    addLabelsUpdate,
    (batch) => {
      const { applied, duplicates } = applyLabelEvents(tally, batch);
      new Set(batch.map((e) => e.image)).forEach(recount);
      updatesThisRun += 1;
      return { applied, duplicates, complete, total };
    },
    {
      validator: (batch) => {
        if (state !== 'open')
          throw reject(`Task '${task}' is closed and takes no more labels.`, 'LabelTaskClosed');
        if (!Array.isArray(batch) || batch.length === 0 || batch.length > MAX_BATCH)
          throw reject(`addLabels takes a list of 1 to ${MAX_BATCH} label events.`);
        for (const e of batch) {
          if (e?.task !== task)
            throw reject(`A label for task '${e?.task}' was sent to the workflow of task '${task}'.`);
          if (!imageSet.has(e.image)) throw reject(`Task '${task}' has no image '${e.image}'.`);
          if (!raters.has(e.rater))
            throw reject(
              `Rater '${e.rater}' is not registered with task '${task}'; register them with addRaters first.`,
              'LabelRaterUnknown',
            );
          if (typeof e.store !== 'string' || !Number.isInteger(e.seq) || e.seq < 1)
            throw reject(`Label event '${e.id}' has no store id and positive sequence number.`);
          if (e.kind === 'label' ? !LABEL_VALUES.includes(e.value as LabelValue) : e.kind !== 'retract')
            throw reject(`Label event '${e.id}' is neither a good/bad/skip label nor a retraction.`);
        }
      },
    },
  );
  setHandler(
    collectLabelsUpdate,
    () => {
      collected = true;
      return outcome(reason);
    },
    {
      validator: () => {
        if (state !== 'closed')
          throw reject(`Task '${task}' is still open; its labels are collected once it closes.`);
      },
    },
  );

  const tooLong = () => updatesThisRun >= maxUpdates || workflowInfo().continueAsNewSuggested;
  for (;;) {
    if (complete === total) {
      reason = 'quorum';
      break;
    }
    if (closeRequested) {
      reason = 'closed';
      break;
    }
    if (tooLong()) {
      // Updates change state synchronously, so waiting for handlers loses nothing; an Update that
      // reaches this run after it closed fails at the sender, which sends it again to the next run.
      await condition(allHandlersFinished);
      const next: LabelingCarried = {
        labels: compactLabels(tally, task, images, [...raters]),
        lastSeq: tally.lastSeq,
        deadlineAt,
        nextReminderAt,
        extensions,
        closeRequested,
        updates: updatesBefore + updatesThisRun,
        runs,
      };
      await continueAsNew<typeof labeling>({ ...input, initial: undefined, carried: next });
    }
    const now = Date.now();
    if (now >= deadlineAt) {
      const fraction = complete / total;
      if (fraction >= input.minFraction || input.onDeadline === 'proceed') {
        reason = 'deadline';
        break;
      }
      const pct = (100 * fraction).toFixed(0);
      const shortfall = `${complete} of ${total} images (${pct}%) at the quorum of ${quorum} label${quorum === 1 ? '' : 's'}, below min_fraction ${input.minFraction}`;
      if (input.onDeadline === 'fail') {
        throw ApplicationFailure.nonRetryable(
          `Labelling task '${task}' reached its deadline with ${shortfall}; label more images, lower min_fraction or set on_deadline to extend.`,
          'LabelDeadline',
        );
      }
      if (input.onDeadline !== 'extend') {
        throw ApplicationFailure.nonRetryable(`Unknown on_deadline '${input.onDeadline}'.`, 'LabelDeadline');
      }
      deadlineAt = now + durationMs(input.extendBy);
      extensions += 1;
      log.info(`Labelling task '${task}': ${shortfall}; deadline extended by ${input.extendBy}.`);
    }
    if (input.reminder && nextReminderAt !== undefined && now >= nextReminderAt) {
      nextReminderAt = now + durationMs(input.reminder.every);
      const { labelReminder } = proxyActivities<LabelingActivities>({
        taskQueue: input.reminder.queue,
        startToCloseTimeout: '30s',
        retry: { maximumAttempts: 3 },
      });
      const r = input.reminder;
      // A reminder that cannot be sent must not stop the labelling.
      labelReminder({
        webhook: r.webhook,
        task,
        complete,
        total,
        quorum,
        deadline: progress().deadline,
      }).catch((err) =>
        log.warn(`Labelling task '${task}': reminder to ${r.webhook} failed: ${err?.message ?? err}`),
      );
    }
    const wakeAt = Math.min(deadlineAt, nextReminderAt ?? Infinity);
    await condition(() => complete === total || closeRequested || tooLong(), Math.max(1, wakeAt - now));
  }

  state = 'closed';
  const collectWithin = durationMs(input.collectWithin ?? '1h');
  if (!(await condition(() => collected, collectWithin))) {
    log.warn(`Labelling task '${task}': nobody collected its labels within ${input.collectWithin ?? '1h'}.`);
  }
  await condition(allHandlersFinished);
  return outcome(reason).summary;
}
