// Following a run until it closes: on a terminal the whole view redraws in place; otherwise (a
// log, CI) one line per stage state change, so the output stays readable.
import type { Client } from '@temporalio/client';
import type { StageProgress } from './protocol';
import { renderRun } from './render';
import { viewRun, type RunView } from './runs';

/** Returns 0 when the run completed, 1 otherwise. */
export async function followRun(client: Client, workflowId: string, intervalMs = 1000): Promise<number> {
  const tty = process.stdout.isTTY;
  const started = Date.now();
  let last = '';
  let drawnLines = 0;
  const seen = new Map<string, string>();
  for (;;) {
    const view = await viewRun(client, workflowId);
    if (tty) {
      const text = renderRun(view);
      if (text !== last) {
        if (drawnLines) process.stdout.write(`\x1b[${drawnLines}A\x1b[J`);
        process.stdout.write(text + '\n');
        drawnLines = text.split('\n').length;
        last = text;
      }
    } else {
      for (const line of stateChanges(view, seen)) {
        process.stdout.write(
          `[${String(Math.round((Date.now() - started) / 1000)).padStart(4)} s] ${line}\n`,
        );
      }
    }
    if (view.status !== 'running') {
      if (!tty) process.stdout.write(renderRun(view) + '\n');
      return view.status === 'completed' ? 0 : 1;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Stages (of a trial, or a sweep's shared stages) whose state changed since the last call. */
function stateChanges(view: RunView, seen: Map<string, string>): string[] {
  const p = view.progress as { stages?: StageProgress[]; shared?: StageProgress[] } | undefined;
  const stages = [...(p?.stages ?? []), ...(p?.shared ?? [])];
  const out: string[] = [];
  for (const s of stages) {
    const id = `${s.stage}:${s.key}`;
    if (seen.get(id) === s.state) continue;
    seen.set(id, s.state);
    if (s.state === 'pending') continue;
    out.push(`${s.stage}: ${s.state}${s.error ? ` (${s.error})` : ''}`);
  }
  return out;
}
