// Stage `label`: binary feedback on the generate stage's images, from simulated raters (the shapes
// judge), an imported label file, or people at the labelling page (a `labeling` workflow waits for
// them). Every source ends the same way: labels.jsonl, one line per labelled image with its
// aggregated label and each rater's answer, plus the images and prompts passed through.
import { basename, extname, join } from 'node:path';
import { Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, WorkflowIdReusePolicy } from '@temporalio/common';
import { labelAgreement } from '../labels/agreement';
import { acquireLabelBridge } from '../labels/bridge';
import { importLabels, simulateLabels } from '../labels/sources';
import { LabelStore } from '../labels/store';
import { LabelError, type Label, type LabelValue, type TaskImageInput } from '../labels/types';
import type { ManifestEntry } from '../model/generate';
import type { StageContext, StageImplementation, StageInput } from '../runtime/stage';
import {
  aggregate,
  collectLabelsUpdate,
  expandLabels,
  LABELING_WORKFLOW_TYPE,
  labelingProgressQuery,
  labelingWorkflowId,
  labelsQuery,
  type CompactLabels,
  type LabelingInput,
  type LabelingOutcome,
  type LabelingWorkflow,
} from '../labels/protocol';
import type {
  HumanLabelSource,
  ImportLabelSource,
  LabelStage,
  SimulatedLabelSource,
} from '../spec/types.gen';
import {
  inputRef,
  materialiseDir,
  readJsonArtifact,
  upstreamArtifact,
  workDir,
  type PlannedParams,
} from './io';
import type { ArtifactRef } from '../artifacts/types';
import type { PromptRecord } from './prompts';
import { innermostMessage } from '../util/errors';
import { readManifest, type LabelRecord } from './examples';

/** The label stage's params as planned: the schema's types with its defaults filled in. */
export type LabelParams = PlannedParams<LabelStage, 'quorum' | 'aggregation'> & {
  source:
    | Required<SimulatedLabelSource>
    | (Required<Omit<HumanLabelSource, 'reminder_webhook'>> & Pick<HumanLabelSource, 'reminder_webhook'>)
    | ImportLabelSource;
};

/** How often a waiting human stage asks its workflow for progress (and heartbeats). */
const POLL_MS = 1000;

/** A user error: one sentence, and no retry can fix it. */
const userError = (input: StageInput, message: string, type = 'LabelStageError') =>
  ApplicationFailure.nonRetryable(`Label stage '${input.instance.stage}': ${message}`, type);

export const run: StageImplementation = async (input, ctx) => {
  const p = input.instance.params as unknown as LabelParams;
  const imagesInput = inputRef(input, 'images');
  const imagesRef = upstreamArtifact(input, imagesInput, 'images');
  const promptsRef = upstreamArtifact(input, imagesInput, 'prompts');
  const imagesDir = await materialise(input, ctx, imagesRef);
  const manifest = readManifest(imagesDir);
  if (manifest.length === 0) throw userError(input, 'the generate stage produced no images to label.');
  const { prompts } = await readJsonArtifact<{ prompts: PromptRecord[] }>(ctx, promptsRef);
  const byPrompt = new Map(prompts.map((x) => [x.id, x]));
  const entries = new Map(manifest.map((m) => [basename(m.png, extname(m.png)), m]));
  const task = labelingWorkflowId(input.instance.key);
  const taskImages: TaskImageInput[] = [...entries].map(([id, m]) => ({
    id,
    prompt: m.prompt,
    path: join(imagesDir, m.png),
    category: byPrompt.get(m.promptId)?.category,
    split: byPrompt.get(m.promptId)?.split,
  }));
  const publish = {
    id: task,
    experiment: input.experiment,
    title: `${input.experiment}: ${input.instance.stage}${input.trialId ? ` (${input.trialId})` : ''}`,
    quorum: p.quorum,
    images: taskImages,
  };

  let labels: { image: string; rater: string; value: LabelValue }[];
  if (p.source.type === 'human') {
    labels = await humanLabels(input, ctx, p, publish);
  } else {
    try {
      labels = await machineLabels(publish, p);
    } catch (err) {
      if (err instanceof LabelError) throw userError(input, err.message);
      throw err;
    }
  }

  const records = labelRecords(labels, entries, byPrompt, p);
  if (records.length === 0) {
    throw userError(
      input,
      `none of the ${entries.size} images got a good or bad label, so there is nothing to learn from.`,
    );
  }
  const agreement = labelAgreement(
    labels.map((l, seq) => ({ ...l, task, created: '', seq }) satisfies Label),
  );
  const metrics: Record<string, number> = {
    images: entries.size,
    labelled: records.length,
    complete: records.filter((r) => r.quorum).length,
    positive_rate: records.filter((r) => r.label >= 0.5).length / records.length,
    raters: agreement.raters,
  };
  // Kappa needs every image rated by the same number of raters; alpha copes with the rest.
  if (agreement.kappa !== null && Number.isFinite(agreement.kappa)) metrics.kappa = agreement.kappa;
  if (Number.isFinite(agreement.alpha)) metrics.alpha = agreement.alpha;
  const agree = metrics.kappa ?? metrics.alpha;
  if (agreement.raters >= 2 && agree !== undefined) metrics.agreement = agree;

  const jsonl = records.map((r) => JSON.stringify(r) + '\n').join('');
  const labelsRef = await ctx.store.put(jsonl, { mediaType: 'application/x-ndjson' });
  ctx.track.artifact('labels.jsonl', Buffer.from(jsonl));
  // The tokenizer travels along so the reward stage can read the prompts the way the model does.
  const tokenizer = input.upstream[(imagesInput as { key: string }).key]?.artifacts.tokenizer;
  return {
    artifacts: {
      labels: labelsRef,
      images: imagesRef,
      prompts: promptsRef,
      ...(tokenizer ? { tokenizer } : {}),
    },
    metrics,
  };
};

/** The images artifact as a folder under the instance's work folder (rater pages stream from it). */
function materialise(input: StageInput, ctx: StageContext, ref: ArtifactRef): Promise<string> {
  return materialiseDir(ctx, ref, join(workDir(input, ctx), 'images'), 'manifest.jsonl');
}

/**
 * Simulated or imported labels of a task. They never reach people, so a private in-memory store
 * is enough. Throws LabelError for an import file it cannot use.
 */
export async function machineLabels(
  publish: Parameters<LabelStore['publishTask']>[0],
  p: LabelParams,
): Promise<{ image: string; rater: string; value: LabelValue }[]> {
  if (p.source.type === 'human') throw new Error('machineLabels: human labels come from raters.');
  const store = new LabelStore(':memory:');
  try {
    store.publishTask(publish);
    if (p.source.type === 'simulated') {
      const { raters, noise, bias } = p.source;
      await simulateLabels({
        store,
        task: publish.id,
        seed: p.seed ?? 0,
        raters: Array.from({ length: raters }, (_, i) => ({ name: `sim-${i + 1}`, noise, bias })),
      });
    } else if (p.source.type === 'import') {
      importLabels(store, publish.id, p.source.path, p.source.format);
    }
    const names = new Map(store.listRaters().map((r) => [r.id, r.name]));
    return store
      .labels(publish.id)
      .map((l) => ({ image: l.image, rater: names.get(l.rater)!, value: l.value }));
  } finally {
    store.close();
  }
}

/** One record per image with a good or bad answer: its aggregated label and whether it reached the quorum. */
export function labelRecords(
  labels: { image: string; rater: string; value: LabelValue }[],
  entries: Map<string, ManifestEntry>,
  byPrompt: Map<string, PromptRecord>,
  p: LabelParams,
): LabelRecord[] {
  const byImage = new Map<string, Record<string, LabelValue>>();
  for (const l of labels) byImage.set(l.image, { ...byImage.get(l.image), [l.rater]: l.value });
  const out: LabelRecord[] = [];
  for (const [id, m] of entries) {
    const raters = byImage.get(id) ?? {};
    const values = Object.values(raters);
    const good = values.filter((v) => v === 'good').length;
    const bad = values.filter((v) => v === 'bad').length;
    const label = aggregate(good, bad, p.aggregation);
    if (label === null) continue;
    const prompt = byPrompt.get(m.promptId);
    out.push({
      image: id,
      promptId: m.promptId,
      prompt: m.prompt,
      category: prompt?.category ?? null,
      split: prompt?.split ?? null,
      png: m.png,
      tensor: m.tensor,
      label,
      good,
      bad,
      quorum: good + bad >= p.quorum,
      raters,
    });
  }
  return out;
}

/**
 * Publishes the task in the shared label store, starts (or attaches to) its labelling workflow,
 * forwards labels to it while heartbeating progress, and returns the labels it closed with.
 */
async function humanLabels(
  input: StageInput,
  ctx: StageContext,
  p: LabelParams,
  publish: Parameters<LabelStore['publishTask']>[0],
): Promise<{ image: string; rater: string; value: LabelValue }[]> {
  const source = p.source as Extract<LabelParams['source'], { type: 'human' }>;
  const activity = Context.current();
  const client = activity.client;
  const bridge = acquireLabelBridge({ dbPath: join(ctx.stateDir, 'labels.db'), client });
  try {
    const store = bridge.store;
    const task = publish.id;
    const workflowInput: LabelingInput = {
      task,
      images: publish.images.map((im) => im.id),
      raters: store.listRaters().map((r) => r.id),
      quorum: p.quorum,
      aggregation: p.aggregation,
      deadline: source.deadline,
      minFraction: source.min_fraction,
      onDeadline: source.on_deadline,
      extendBy: source.extend_by,
    };
    // The workflows run on the cpu queue's worker.
    const queue = input.instance.queue === 'cpu' ? activity.info.taskQueue : 'cpu';
    if (source.reminder_webhook) {
      workflowInput.reminder = { webhook: source.reminder_webhook, every: source.reminder_every, queue };
    }
    // A task restarted after a failed run starts from the labels people already gave.
    if (store.getTask(task)) workflowInput.initial = compactFromStore(store, task);
    let handle: WorkflowHandle<LabelingWorkflow>;
    try {
      // Started before the task is published, so no label can arrive before its workflow exists.
      // A completed run is attached to (its labels are final); a failed one is started afresh.
      handle = await client.workflow.start<LabelingWorkflow>(LABELING_WORKFLOW_TYPE, {
        taskQueue: queue,
        workflowId: task,
        args: [workflowInput],
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      handle = client.workflow.getHandle<LabelingWorkflow>(task);
    }
    try {
      store.publishTask(publish);
    } catch (err) {
      if (err instanceof LabelError) throw userError(input, err.message);
      throw err;
    }

    let settled: { ok: true } | { ok: false; err: unknown } | undefined;
    handle.result().then(
      () => (settled = { ok: true }),
      (err) => (settled = { ok: false, err }),
    );
    let outcome: LabelingOutcome | undefined;
    while (!outcome) {
      const done = settled as typeof settled;
      if (done && !done.ok) throw userError(input, innermostMessage(done.err), 'LabelDeadline');
      if (done?.ok) {
        outcome = await handle.query(labelsQuery);
        break;
      }
      try {
        const progress = await handle.query(labelingProgressQuery);
        ctx.heartbeat({ step: progress.complete, steps: progress.total, labelled: progress.labelled });
        if (progress.state === 'closed') {
          // Stop the page taking labels the workflow would refuse, then take the final set.
          if (store.getTask(task)?.status === 'open') store.closeTask(task);
          outcome = await handle.executeUpdate(collectLabelsUpdate);
          break;
        }
      } catch (err) {
        // The run may have just ended or continued as new; the next round finds out which.
        if (settled === undefined)
          activity.log.debug(`label stage: progress of ${task}: ${innermostMessage(err)}`);
      }
      await ctx.sleep(POLL_MS);
    }
    if (store.getTask(task)?.status === 'open') store.closeTask(task);
    const names = new Map(store.listRaters().map((r) => [r.id, r.name]));
    return expandLabels(outcome.labels).map((l) => ({ ...l, rater: names.get(l.rater) ?? l.rater }));
  } finally {
    await bridge.release();
  }
}

function compactFromStore(store: LabelStore, task: string): CompactLabels {
  const labels = store.labels(task);
  const raters = [...new Set(labels.map((l) => l.rater))];
  const code = { good: 'g', bad: 'b', skip: 's' } as const;
  const values: Record<string, string> = {};
  for (const l of labels) {
    const s = (values[l.image] ??= '.'.repeat(raters.length)).split('');
    s[raters.indexOf(l.rater)] = code[l.value];
    values[l.image] = s.join('');
  }
  return { raters, values };
}
