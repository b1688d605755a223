// Terminal views of runs for `status` and `watch`.
import { table } from '../cli/table';
import type { RunRow, RunView } from './runs';
import type { StageProgress, SweepProgress, TrialProgress } from '../../workflows/types';

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
    const rows = Object.entries(sp.trials).map(([id, t]) => [
      id,
      `${view.workflowId}-${id}`,
      t.state,
      t.error ??
        Object.entries(t.metrics ?? {})
          .slice(0, 3)
          .map(([k, v]) => `${k}=${v}`)
          .join(' '),
    ]);
    lines.push(table([['TRIAL', 'RUN ID (status it for stages)', 'STATE', ''], ...rows]));
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
