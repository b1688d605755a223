// `alignrun compare`: one table of swept values and metrics across runs and the trials of sweeps,
// so results tables are printed from the runs themselves, not copied by hand.
//
// A column is a run (an experiment workflow) or one trial of a sweep (`ID/t3`, or every trial of a
// sweep given by its ID). Metrics come from the workflow's result when it has finished (no worker
// needed) and from its progress query while it runs; a sweep's assignments from its plan, which is
// in the workflow's start input.
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { table } from '../util/table';
import { UserError } from './paths';
import type { SweepInput, SweepProgress, SweepResult, TrialProgress, TrialResult } from './protocol';
import { describeOrExplain, queryProgress } from './runs';

export interface CompareColumn {
  /** `ID` for a run, `ID/t3` for a trial of a sweep. */
  label: string;
  state: string;
  /** Swept values, dotted path -> value. */
  params: Record<string, unknown>;
  /** `stage.metric` -> value. */
  metrics: Record<string, number>;
}

/** The columns `refs` name: `ID` (a run, or every trial of a sweep) or `ID/TRIAL`. */
export async function compareColumns(client: Client, refs: string[]): Promise<CompareColumn[]> {
  const out: CompareColumn[] = [];
  for (const ref of refs) {
    const [id, trial] = splitRef(ref);
    const handle = client.workflow.getHandle(id);
    const desc = await describeOrExplain(handle);
    const status = desc.status.name.toLowerCase();
    const finished = status === 'completed';
    if (desc.type === 'sweep') {
      const summary = finished
        ? ((await handle.result()) as SweepResult).trials
        : ((await runningProgress(client, id)) as SweepProgress).trials;
      const assignments = await sweepAssignments(client, id);
      const ids = trial ? [trial] : Object.keys(assignments);
      for (const t of ids) {
        if (!(t in assignments))
          throw new UserError(
            `Sweep ${id} has no trial ${t}; it has ${Object.keys(assignments).join(', ')}.`,
          );
        out.push({
          label: `${id}/${t}`,
          state: summary[t]?.state ?? 'pending',
          params: assignments[t],
          metrics: summary[t]?.metrics ?? {},
        });
      }
      continue;
    }
    if (trial) throw new UserError(`${id} is a single run, not a sweep; compare it as ${id}.`);
    const metrics: Record<string, number> = {};
    if (finished) {
      for (const [stage, r] of Object.entries(((await handle.result()) as TrialResult).stages))
        for (const [k, v] of Object.entries(r.metrics)) metrics[`${stage}.${k}`] = v;
    } else {
      for (const s of ((await runningProgress(client, id)) as TrialProgress).stages)
        for (const [k, v] of Object.entries(s.metrics ?? {})) metrics[`${s.stage}.${k}`] = v;
    }
    out.push({ label: id, state: status, params: {}, metrics });
  }
  return out;
}

function splitRef(ref: string): [string, string | undefined] {
  const m = /^(.+)\/(t\d+)$/.exec(ref);
  return m ? [m[1], m[2]] : [ref, undefined];
}

async function runningProgress(client: Client, id: string): Promise<TrialProgress | SweepProgress> {
  try {
    return await queryProgress(client, id);
  } catch (err) {
    throw new UserError(
      `Run ${id} is still going and did not answer (${String((err as Error).message).split('\n')[0]}); is a worker running?`,
    );
  }
}

/** Each trial's assignment, from the plan in the sweep's start input (its latest run's). */
async function sweepAssignments(
  client: Client,
  id: string,
): Promise<Record<string, Record<string, unknown>>> {
  const history = await client.workflow.getHandle(id).fetchHistory();
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  const input = payload ? (defaultPayloadConverter.fromPayload(payload) as SweepInput) : undefined;
  return Object.fromEntries((input?.plan.trials ?? []).map((t) => [t.id, t.assignment]));
}

export interface CompareOptions {
  /** Keep only metrics whose name matches one of these (`*` matches any run of characters). */
  metrics?: string[];
  /** Only the rows whose values differ between columns. */
  onlyDifferent?: boolean;
}

/** The comparison as a table: a row per swept path, then per metric; a column per run or trial. */
export function renderComparison(columns: CompareColumn[], opts: CompareOptions = {}): string {
  if (columns.length === 0) return 'Nothing to compare.';
  const patterns = (opts.metrics ?? []).map(
    (p) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`),
  );
  const keys = (pick: (c: CompareColumn) => Record<string, unknown>) =>
    [...new Set(columns.flatMap((c) => Object.keys(pick(c))))].sort();
  const params = keys((c) => c.params);
  const metrics = keys((c) => c.metrics).filter(
    (m) => patterns.length === 0 || patterns.some((p) => p.test(m)),
  );
  const rows: string[][] = [];
  const add = (name: string, cells: string[]) => {
    if (opts.onlyDifferent && new Set(cells).size <= 1) return;
    rows.push([name, ...cells]);
  };
  add(
    'state',
    columns.map((c) => c.state),
  );
  for (const p of params)
    add(
      p,
      columns.map((c) => (p in c.params ? JSON.stringify(c.params[p]) : '-')),
    );
  for (const m of metrics)
    add(
      m,
      columns.map((c) => formatMetric(c.metrics[m])),
    );
  return table([['', ...columns.map((c) => c.label)], ...rows]);
}

function formatMetric(v: number | undefined): string {
  if (v === undefined) return '-';
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
}
