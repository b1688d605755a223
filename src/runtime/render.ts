// Terminal views of runs for `status` and `watch`.
import { table } from '../util/table';
import type { RunRow, RunView } from './runs';
import type { StageProgress, SweepProgress, TrialProgress } from './protocol';
import { objectiveValue } from './objective';

export { objectiveValue };

export function renderRuns(rows: RunRow[]): string {
  if (!rows.length) return 'No alignrun runs yet; start one with `alignrun submit FILE`.';
  return table([
    ['ID', 'EXPERIMENT', 'KIND', 'STATUS', 'STARTED', 'PLAN'],
    ...rows.map((r) => [
      r.workflowId,
      r.experiment,
      r.type,
      r.status,
      r.startTime.toISOString(),
      r.planHash.slice(0, 12),
    ]),
  ]);
}

export function bar(fraction: number, width = 20): string {
  const n = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
}

function stageRow(s: StageProgress, view: RunView): string[] {
  const pending = s.state === 'running' ? view.pending[s.stage] : undefined;
  const hb = pending?.heartbeat as { step?: number; steps?: number } | undefined;
  let progress = '';
  if (s.state === 'done' || s.state === 'cached') progress = bar(1);
  else if (hb?.step !== undefined && hb.steps) progress = `${bar(hb.step / hb.steps)} ${hb.step}/${hb.steps}`;
  else if (hb?.step !== undefined) progress = `step ${hb.step}`;
  const metrics = Object.entries(s.metrics ?? {})
    .slice(0, 4)
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toPrecision(4)}`)
    .join(' ');
  const attempt = pending ? String(pending.attempt) : '';
  const note = s.error ?? pending?.lastFailure ?? metrics;
  return [s.stage, s.kind, s.queue, s.state, attempt, progress, note];
}

export function renderRun(view: RunView): string {
  const head = `${view.workflowId}  ${view.type}  ${view.status}`;
  const lines = [head];
  if (view.failure) lines.push(`failure: ${view.failure}`);
  const p = view.progress;
  if (!p) {
    lines.push(view.progressError ?? 'progress unavailable');
    return lines.join('\n');
  }
  if ('trials' in p) {
    const sp = p as SweepProgress;
    const counts: Record<string, number> = {};
    for (const t of Object.values(sp.trials)) counts[t.state] = (counts[t.state] ?? 0) + 1;
    lines.push(
      `trials: ${Object.entries(counts)
        .map(([k, v]) => `${v} ${k}`)
        .join(', ')}  (at most ${sp.maxParallel} at once; run ${sp.generation + 1})`,
    );
    if (sp.shared.length) {
      lines.push(
        'shared stages:',
        table([
          ['STAGE', 'KIND', 'QUEUE', 'STATE', 'ATTEMPT', 'PROGRESS', ''],
          ...sp.shared.map((s) => stageRow(s, view)),
        ]),
      );
    }
    lines.push(...renderTrials(view.workflowId, sp));
    return lines.join('\n');
  }
  const tp = p as TrialProgress;
  lines.push(
    table([
      ['STAGE', 'KIND', 'QUEUE', 'STATE', 'ATTEMPT', 'PROGRESS', ''],
      ...tp.stages.map((s) => stageRow(s, view)),
    ]),
  );
  return lines.join('\n');
}

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(4));

/**
 * The trials table of a sweep: assignment, state and the objective (or the first metrics), then,
 * with an objective, its mean per value of each swept parameter over completed trials (e.g. the
 * mean over seeds of each lambda) and the best trial.
 */
export function renderTrials(workflowId: string, sp: SweepProgress): string[] {
  const objective = sp.objective;
  const assignment = (id: string) =>
    Object.entries(sp.assignments?.[id] ?? {})
      .map(([k, v]) => `${k.replace(/^stages\./, '')}=${JSON.stringify(v)}`)
      .join(' ');
  const rows = Object.entries(sp.trials).map(([id, t]) => {
    const value = objective && objectiveValue(t.metrics, objective.metric);
    const note =
      t.error ??
      (objective
        ? value === undefined
          ? ''
          : `${objective.metric}=${fmt(value)}`
        : Object.entries(t.metrics ?? {})
            .slice(0, 3)
            .map(([k, v]) => `${k}=${fmt(v)}`)
            .join(' '));
    return [id, assignment(id), t.state, note];
  });
  const lines = [
    table([['TRIAL', 'ASSIGNMENT', 'STATE', objective ? 'OBJECTIVE' : ''], ...rows]),
    `run ids: ${workflowId}-<trial> (status one for its stages)`,
  ];
  if (!objective) return lines;
  const done = Object.entries(sp.trials).flatMap(([id, t]) => {
    const v = t.state === 'completed' ? objectiveValue(t.metrics, objective.metric) : undefined;
    return v === undefined ? [] : [{ id, v, a: sp.assignments?.[id] ?? {} }];
  });
  if (!done.length) return lines;
  const paths = [...new Set(done.flatMap((d) => Object.keys(d.a)))];
  const summary: string[][] = [];
  for (const path of paths) {
    const groups = new Map<string, number[]>();
    for (const d of done) {
      const key = JSON.stringify(d.a[path]);
      groups.set(key, [...(groups.get(key) ?? []), d.v]);
    }
    if (groups.size < 2) continue;
    for (const [value, vs] of groups) {
      const mean = vs.reduce((a, b) => a + b, 0) / vs.length;
      const sd = Math.sqrt(vs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, vs.length - 1));
      summary.push([
        path.replace(/^stages\./, ''),
        value,
        String(vs.length),
        fmt(mean),
        vs.length > 1 ? fmt(sd) : '',
      ]);
    }
  }
  if (summary.length) {
    lines.push(
      `${objective.metric} by parameter value (completed trials):`,
      table([['PARAMETER', 'VALUE', 'TRIALS', 'MEAN', 'SD'], ...summary]),
    );
  }
  const best = done.reduce((a, b) => ((objective.goal === 'minimize' ? b.v < a.v : b.v > a.v) ? b : a));
  lines.push(
    `best (${objective.goal}): ${best.id} ${objective.metric}=${fmt(best.v)}  ${assignment(best.id)}`,
  );
  return lines;
}
