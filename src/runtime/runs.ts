// Client-side operations on runs: submit a plan, resume, cancel, list, and read live progress.
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { Plan } from '../spec/plan';
import { DEFAULT_QUEUES, experimentKey, planHashKey, progressQuery, statusKey } from './definitions';
import { trialInput, workflowIdFor } from './slice';
import type { QueueNames, SweepInput, SweepProgress, TrialInput, TrialProgress } from './protocol';
import { UserError } from './paths';

export interface Submitted {
  workflowId: string;
  runId?: string;
  type: 'experiment' | 'sweep';
  /** True when a run of this plan was already running (attached) or already completed. */
  existing: boolean;
  completed?: boolean;
  /** The previous run of this plan failed or was cancelled: this new run reuses its cached stages. */
  restarted?: boolean;
}

/** Starts the plan, or attaches to its running run (the id derives from the plan hash). */
export async function submitPlan(
  client: Client,
  plan: Plan,
  opts: { queues?: QueueNames } = {},
): Promise<Submitted> {
  const workflowId = workflowIdFor(plan);
  const type = plan.trials.length > 1 ? 'sweep' : 'experiment';
  const queues = opts.queues ?? DEFAULT_QUEUES;
  const args: [SweepInput] | [TrialInput] =
    type === 'sweep' ? [{ plan, queues }] : [trialInput(plan, plan.trials[0].id, { queues })];
  const before = await client.workflow
    .getHandle(workflowId)
    .describe()
    .catch(() => undefined);
  if (before?.status.name === 'RUNNING') return { workflowId, runId: before.runId, type, existing: true };
  if (before?.status.name === 'COMPLETED')
    return { workflowId, runId: before.runId, type, existing: true, completed: true };
  try {
    const handle = await client.workflow.start(type, {
      taskQueue: queues.cpu,
      workflowId,
      args,
      // Same plan while running: attach. After a failure or cancellation: a new run, which
      // reuses every cached stage. After success: refused (see below), nothing to do.
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      typedSearchAttributes: [
        { key: experimentKey, value: plan.experiment },
        { key: planHashKey, value: plan.planHash },
        { key: statusKey, value: 'running' },
      ],
      memo: { experiment: plan.experiment, specFile: plan.specFile, kind: type },
    });
    return {
      workflowId,
      runId: handle.firstExecutionRunId,
      type,
      existing: false,
      restarted: before !== undefined,
    };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError)
      return { workflowId, type, existing: true, completed: true };
    throw err;
  }
}

/** Starts a failed or cancelled run again with its own input; finished stages come from the cache. */
export async function resumeRun(
  client: Client,
  workflowId: string,
): Promise<{ runId: string; type: string }> {
  const handle = client.workflow.getHandle(workflowId);
  const desc = await describeOrExplain(handle);
  if (desc.status.name === 'RUNNING')
    throw new UserError(`Run ${workflowId} is still running; nothing to resume.`);
  if (desc.status.name === 'COMPLETED')
    throw new UserError(`Run ${workflowId} already completed; nothing to resume.`);
  const history = await handle.fetchHistory();
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const payload = started?.input?.payloads?.[0];
  if (!payload) throw new UserError(`Run ${workflowId} has no recorded input to resume from.`);
  const input = defaultPayloadConverter.fromPayload(payload) as TrialInput | SweepInput;
  if ('plan' in input && input.carried) {
    // Trials that did not finish are tried again; early-stopped ones stay stopped.
    for (const t of Object.values(input.carried.trials))
      if (!['completed', 'stopped'].includes(t.state)) t.state = 'pending';
  }
  const fresh = await client.workflow.start(desc.type, {
    taskQueue: desc.taskQueue,
    workflowId,
    args: [input],
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    typedSearchAttributes: desc.typedSearchAttributes.updateCopy([{ key: statusKey, value: 'running' }]),
    memo: { ...(desc.memo ?? {}), resumedFrom: desc.runId },
  });
  return { runId: fresh.firstExecutionRunId, type: desc.type };
}

/** Requests cancellation; running activities notice at their next heartbeat. */
export async function cancelRun(client: Client, workflowId: string): Promise<void> {
  const handle = client.workflow.getHandle(workflowId);
  const desc = await describeOrExplain(handle);
  if (desc.status.name !== 'RUNNING') {
    throw new UserError(
      `Run ${workflowId} is not running (${desc.status.name.toLowerCase()}); nothing to cancel.`,
    );
  }
  await handle.cancel();
}

export interface RunRow {
  workflowId: string;
  experiment: string;
  type: string;
  status: string;
  startTime: Date;
  closeTime?: Date;
  planHash: string;
}

/** Top-level alignrun runs (latest run per workflow id), newest first (trials of a sweep are listed by their sweep). */
export async function listRuns(
  client: Client,
  opts: { experiment?: string; limit?: number } = {},
): Promise<RunRow[]> {
  const query = opts.experiment
    ? `AlignrunExperiment = '${opts.experiment.replace(/'/g, '')}'`
    : `WorkflowType IN ('experiment', 'sweep') AND AlignrunPlanHash IS NOT NULL`;
  const rows: RunRow[] = [];
  const seen = new Set<string>();
  for await (const wf of client.workflow.list({ query })) {
    // Resumed runs share their workflow id: show the newest run only.
    if (seen.has(wf.workflowId)) continue;
    seen.add(wf.workflowId);
    rows.push({
      workflowId: wf.workflowId,
      experiment: wf.typedSearchAttributes.get(experimentKey) ?? '',
      type: wf.type,
      status: wf.status.name.toLowerCase(),
      startTime: wf.startTime,
      closeTime: wf.closeTime,
      planHash: wf.typedSearchAttributes.get(planHashKey) ?? '',
    });
    if (rows.length >= (opts.limit ?? 50)) break;
  }
  return rows;
}

export interface PendingActivity {
  activityId: string;
  state: string;
  attempt: number;
  heartbeat?: unknown;
  lastFailure?: string;
}

export interface RunView {
  workflowId: string;
  runId: string;
  type: string;
  /** Temporal's execution status, lower case (running, completed, failed, cancelled, terminated, ...). */
  status: string;
  progress?: TrialProgress | SweepProgress;
  /** Why `progress` is missing (e.g. no worker to answer the query). */
  progressError?: string;
  /** Activities in flight, by activity id (= stage name), with attempt and last heartbeat. */
  pending: Record<string, PendingActivity>;
  failure?: string;
}

/** Everything `status ID` and `watch` show: the workflow's progress query plus server-side activity state. */
export async function viewRun(client: Client, workflowId: string): Promise<RunView> {
  const handle = client.workflow.getHandle(workflowId);
  const desc = await describeOrExplain(handle);
  const pending: Record<string, PendingActivity> = {};
  for (const a of desc.raw.pendingActivities ?? []) {
    const hb = a.heartbeatDetails?.payloads?.[0];
    const id = a.activityId ?? '';
    const entry: PendingActivity = {
      activityId: id,
      state: String(a.state ?? ''),
      attempt: a.attempt ?? 1,
      heartbeat: hb ? defaultPayloadConverter.fromPayload(hb) : undefined,
      lastFailure: a.lastFailure?.message ?? undefined,
    };
    pending[id] = entry;
    // A sweep's second instance of a stage runs as `stage#key`; rows look activities up by stage.
    pending[id.split('#')[0]] ??= entry;
  }
  const view: RunView = {
    workflowId,
    runId: desc.runId,
    type: desc.type,
    status: desc.status.name.toLowerCase(),
    pending,
  };
  try {
    view.progress = await queryProgress(client, workflowId);
  } catch (err) {
    view.progressError = `progress unavailable (${String((err as Error).message).split('\n')[0]}); is a worker running?`;
  }
  if (view.status === 'failed') {
    try {
      await handle.result();
    } catch (err) {
      view.failure = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
    }
  }
  return view;
}

/** A run's progress query, given up after 5 s (queries need a worker; don't hang without one). */
export function queryProgress(client: Client, workflowId: string): Promise<TrialProgress | SweepProgress> {
  return client.withDeadline(Date.now() + 5000, () =>
    client.workflow.getHandle(workflowId).query(progressQuery),
  );
}

/** Describes a run; an unknown id is one sentence. */
export async function describeOrExplain(handle: WorkflowHandle) {
  try {
    return await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw new UserError(`No run with id ${handle.workflowId}; see \`alignrun status\`.`);
    throw err;
  }
}
