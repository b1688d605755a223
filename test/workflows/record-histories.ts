// Re-records test/fixtures/histories/*.json from real runs against a fresh dev server:
//   node --import tsx test/workflows/record-histories.ts
// Run it after a deliberate workflow change, and commit the new fixtures with it. Each workflow id
// equals its fixture's name: replay needs the original id (child ids derive from it).
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { repoRoot } from '../../src/runtime/paths';
import { WorkerSet } from '../../src/runtime/workers';
import { trialInput } from '../../workflows/slice';
import { startTestServer } from '../helpers/temporal';
import { buildPlan, type StageSpec } from './plans';

const out = path.join(repoRoot, 'test/fixtures/histories');
mkdirSync(out, { recursive: true });
const ts = await startTestServer();
const workers = await WorkerSet.create({ connection: ts.env.nativeConnection, stateDir: ts.stateDir });
const client = ts.env.client;

async function record(name: string, start: () => Promise<string>) {
  const id = await start();
  const handle = client.workflow.getHandle(id);
  await handle.result().catch(() => undefined);
  // The first run of the chain (a continued-as-new sweep ends it with ContinueAsNew).
  const first = client.workflow.getHandle(id, (await handle.describe()).runId);
  const history = await (
    name.includes('continue') ? client.workflow.getHandle(id, firstRun.get(id)) : first
  ).fetchHistory();
  writeFileSync(path.join(out, `${name}.json`), historyToJSON(history) + '\n');
  console.log(`${name}: ${history.events?.length} events`);
}
const firstRun = new Map<string, string>();

await workers.runUntil(
  (async () => {
    const diamond = buildPlan('diamond', [
      [
        { name: 'a', kind: 'counter' },
        { name: 'b', kind: 'sleep', deps: ['a'], params: { ms: 300, steps: 3 } },
        { name: 'c', kind: 'counter', deps: ['a'] },
        { name: 'd', kind: 'noop', deps: ['b', 'c'], params: { metrics: { score: 1 } } },
      ],
    ]);
    await record('experiment-diamond', async () => {
      await client.workflow.start('experiment', {
        taskQueue: 'cpu',
        workflowId: 'experiment-diamond',
        args: [trialInput(diamond, 't0')],
      });
      return 'experiment-diamond';
    });
    await record('experiment-cached', async () => {
      await client.workflow.start('experiment', {
        taskQueue: 'cpu',
        workflowId: 'experiment-cached',
        args: [trialInput(diamond, 't0')],
      });
      return 'experiment-cached';
    });
    const broken = buildPlan('broken', [
      [
        { name: 'ok', kind: 'noop' },
        { name: 'gen', kind: 'generate', deps: ['ok'] },
      ],
    ]);
    await record('experiment-failed', async () => {
      await client.workflow.start('experiment', {
        taskQueue: 'cpu',
        workflowId: 'experiment-failed',
        args: [trialInput(broken, 't0')],
      });
      return 'experiment-failed';
    });
    const early: StageSpec[][] = [0, 1, 2, 3].map((i) => [
      { name: 'shared', kind: 'counter' },
      { name: 'first', kind: 'noop', deps: ['shared'], params: { metrics: { score: i, step: 1 } } },
      { name: 'rest', kind: 'sleep', deps: ['first'], params: { ms: 3000, steps: 15 }, heartbeat: '2s' },
    ]);
    const sweepPlan = buildPlan('early', early, {
      sweep: { maxParallel: 4, earlyStop: { method: 'median', metric: 'score', afterStep: 1, minTrials: 4 } },
    });
    await record('sweep-early-stop', async () => {
      await client.workflow.start('sweep', {
        taskQueue: 'cpu',
        workflowId: 'sweep-early-stop',
        args: [{ plan: sweepPlan }],
      });
      return 'sweep-early-stop';
    });
    const many = buildPlan(
      'many',
      Array.from({ length: 6 }, (_, i) => [{ name: 'n', kind: 'noop' as const, params: { i } }]),
      { sweep: { maxParallel: 2 } },
    );
    await record('sweep-continue-as-new', async () => {
      const h = await client.workflow.start('sweep', {
        taskQueue: 'cpu',
        workflowId: 'sweep-continue-as-new',
        args: [{ plan: many, continueAsNewAt: 20 }],
      });
      firstRun.set('sweep-continue-as-new', h.firstExecutionRunId);
      return 'sweep-continue-as-new';
    });
  })(),
);
await ts.stop();
