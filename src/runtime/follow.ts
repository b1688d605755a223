// Following a run until it closes: redraws in place on a terminal, prints changes otherwise.
import type { Client } from '@temporalio/client';
import { renderRun } from './render';
import { viewRun } from './runs';

/** Returns 0 when the run completed, 1 otherwise. */
export async function followRun(client: Client, workflowId: string, intervalMs = 1000): Promise<number> {
  const tty = process.stdout.isTTY;
  let last = '';
  let drawnLines = 0;
  for (;;) {
    const view = await viewRun(client, workflowId);
    const text = renderRun(view);
    if (text !== last) {
      if (tty && drawnLines) process.stdout.write(`\x1b[${drawnLines}A\x1b[J`);
      process.stdout.write(text + '\n');
      drawnLines = text.split('\n').length;
      last = text;
    }
    if (view.status !== 'running') return view.status === 'completed' ? 0 : 1;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
