// One workflow per human label task: it holds the tally of forwarded labels, waits until every
// image has `quorum` good/bad labels or the deadline passes (then proceeds, fails or extends),
// sends reminders, and hands the final labels to the label stage before it completes.
//
// Labels arrive as the `addLabels` Update, sent by the bridge (src/labels/bridge.ts) from the label
// store's outbox; raters are registered first with `addRaters`. An Update counts against the
// per-execution limit of 2,000, so the workflow continues as new well before it, carrying the
// tally in a compact form (payloads are capped at 2 MB). Its input, outputs, Updates and queries
// are defined in src/labels/protocol.ts, for the workflow and its clients alike.
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { applyLabelEvents, emptyTally, tallyKey, type LabelTally } from '../src/labels/tally';
import {
  addLabelsUpdate,
  addRatersUpdate,
  aggregate,
  closeLabelingSignal,
  collectLabelsUpdate,
  compactLabels,
  expandLabels,
  labelingProgressQuery,
  labelsQuery,
  type LabelingActivities,
  type LabelingCarried,
  type LabelingInput,
  type LabelingOutcome,
  type LabelingProgress,
  type LabelingState,
  type LabelingSummary,
} from '../src/labels/protocol';
import { LABEL_VALUES, type LabelValue } from '../src/labels/types';

const MAX_BATCH = 1000;
const RATER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** '30s', '1.5h', '3d' -> milliseconds (the spec's duration format). */
export function durationMs(d: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)$/.exec(d);
  if (!m) throw ApplicationFailure.nonRetryable(`'${d}' is not a duration such as '30s', '10m' or '2d'.`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms'];
  return Number(m[1]) * unit;
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
