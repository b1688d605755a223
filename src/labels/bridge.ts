// The bridge from the label store to the labelling workflows: one forwarder per label database
// and process, whose `send` routes each event to its task's workflow (workflow id = task id) as an
// `addLabels` Update, registering unseen raters first. The forwarder drops an event from the outbox
// only once this resolves, so a label is never lost on the way; one the workflow cannot take any
// more (its task closed, or its workflow is gone) stays in the store and is reported here.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { startForwarder, type Forwarder } from './forwarder';
import { addLabelsUpdate, addRatersUpdate, type ReminderInput } from './protocol';
import { LabelStore } from './store';
import { innermostMessage } from '../util/errors';
import type { LabelEvent } from './types';

export interface LabelBridgeOptions {
  client: Client;
  store: LabelStore;
  /** Reports events a workflow refused or could not receive. Default: console.error. */
  log?: (line: string) => void;
}

/** Failure types of the labelling workflow's validators (see workflows/labeling.ts). */
const RETRY_AFTER_REGISTERING = 'LabelRaterUnknown';

/** A `send` for startForwarder that delivers each task's events to its labelling workflow. */
export function labelEventSender(options: LabelBridgeOptions): (batch: LabelEvent[]) => Promise<void> {
  const { client, store, log = (l: string) => console.error(l) } = options;
  // Raters each workflow has been told about by this process; a workflow keeps its raters across
  // continue-as-new, and a refusal naming an unknown rater clears this so they are sent again.
  const registered = new Map<string, Set<string>>();
  // Tasks already reported as not counting labels (with why): one line per task and cause, not
  // one per batch, however many late labels arrive.
  const reported = new Set<string>();
  return async (batch) => {
    const byTask = new Map<string, LabelEvent[]>();
    for (const e of batch) byTask.set(e.task, [...(byTask.get(e.task) ?? []), e]);
    for (const [task, events] of byTask) {
      const handle = client.workflow.getHandle(task);
      const known = registered.get(task) ?? new Set<string>();
      registered.set(task, known);
      try {
        const fresh = [...new Set(events.map((e) => e.rater))].filter((r) => !known.has(r));
        if (fresh.length) {
          await handle.executeUpdate(addRatersUpdate, { args: [fresh] });
          fresh.forEach((r) => known.add(r));
        }
        await handle.executeUpdate(addLabelsUpdate, { args: [events] });
      } catch (err) {
        const type = failureType(err);
        if (type === RETRY_AFTER_REGISTERING) registered.delete(task);
        if (err instanceof WorkflowNotFoundError || (type && type !== RETRY_AFTER_REGISTERING)) {
          const why =
            err instanceof WorkflowNotFoundError
              ? `no labelling workflow runs for task '${task}': its run ended or was never started`
              : innermostMessage(err).replace(/\.$/, '');
          if (!reported.has(`${task}\n${why}`)) {
            reported.add(`${task}\n${why}`);
            log(
              `label bridge: ${events.length} label change(s) for task '${task}' were not counted ` +
                `(${why}); they stay in ${store.path}, and later ones for this task are not reported again.`,
            );
          }
          continue;
        }
        throw err;
      }
    }
  };
}

/** The ApplicationFailure type of a refused Update, if that is what `err` is. */
function failureType(err: unknown): string | undefined {
  const e = err as { name?: string; cause?: { name?: string; type?: string } };
  if (e?.name === 'WorkflowUpdateFailedError' && e.cause?.name === 'ApplicationFailure') return e.cause.type;
  return undefined;
}

interface SharedBridge {
  store: LabelStore;
  forwarder: Forwarder;
  users: number;
}

const bridges = new Map<string, SharedBridge>();

export interface AcquiredBridge {
  /** The process's store for this database (shared; do not close it). */
  store: LabelStore;
  /** Stops the forwarder once the last user released it. */
  release(): Promise<void>;
}

/**
 * The process's forwarder for a label database, started on first use. One per database, because
 * two forwarders would send the same events at once; every label stage running in the process
 * shares it, and it serves every task in the database.
 */
export function acquireLabelBridge(options: {
  dbPath: string;
  client: Client;
  intervalMs?: number;
  log?: (line: string) => void;
}): AcquiredBridge {
  let shared = bridges.get(options.dbPath);
  if (!shared) {
    const store = new LabelStore(options.dbPath);
    const forwarder = startForwarder({
      store,
      intervalMs: options.intervalMs ?? 250,
      send: labelEventSender({ client: options.client, store, log: options.log }),
    });
    shared = { store, forwarder, users: 0 };
    bridges.set(options.dbPath, shared);
  }
  shared.users += 1;
  const s = shared;
  let released = false;
  return {
    store: s.store,
    async release() {
      if (released) return;
      released = true;
      s.users -= 1;
      if (s.users > 0) return;
      bridges.delete(options.dbPath);
      await s.forwarder.stop();
      s.store.close();
    },
  };
}

/** Activity `labelReminder`: POSTs a task's progress to a webhook (Slack-style `text` plus the numbers). */
export async function labelReminder(input: ReminderInput): Promise<void> {
  const text =
    `Labelling task '${input.task}': ${input.complete} of ${input.total} images have ${input.quorum} ` +
    `label(s); the deadline is ${input.deadline}.`;
  const res = await fetch(input.webhook, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text, ...input, webhook: undefined }),
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new Error(`The reminder webhook ${input.webhook} answered ${res.status}.`);
}
