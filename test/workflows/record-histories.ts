// Records test/fixtures/histories/<name><suffix>.json from real runs against a fresh dev server:
//   node --import tsx test/workflows/record-histories.ts [--suffix -batched] [--force]
// Run it after a deliberate workflow change (gated with patched()), with a new suffix, and commit
// the new fixtures with it: the fixtures of earlier workflow code stay, so runs started on it keep
// replaying. Existing files are kept unless --force. Each workflow id equals its fixture's name:
// replay needs the original id (child ids derive from it).
//   (none)     the first workflow code (per-stage cache lookup/record local activities)
//   -batched   the batched path (one cache lookup per run, stages record their own results)
import { existsSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { repoRoot } from '../../src/runtime/paths';
import { WorkerSet } from '../../src/runtime/workers';
import { trialInput } from '../../src/runtime/slice';
import { testStages } from '../helpers/stages/index';
import { startTestServer } from '../helpers/temporal';
import { buildPlan, type StageSpec } from './plans';

const { values } = parseArgs({
  options: { suffix: { type: 'string', default: '-batched' }, force: { type: 'boolean', default: false } },
});
const suffix = values.suffix;
const out = path.join(repoRoot, 'test/fixtures/histories');
mkdirSync(out, { recursive: true });
const ts = await startTestServer();
const workers = await WorkerSet.create({
  connection: ts.env.nativeConnection,
  stateDir: ts.stateDir,
  extraStages: testStages,
});
const client = ts.env.client;

async function record(base: string, start: (workflowId: string) => Promise<string>) {
  const name = `${base}${suffix}`;
  const file = path.join(out, `${name}.json`);
  const id = await start(name);
  const handle = client.workflow.getHandle(id);
  await handle.result().catch(() => undefined);
  // The first run of the chain (a continued-as-new sweep ends it with ContinueAsNew).
  const first = client.workflow.getHandle(id, (await handle.describe()).runId);
  const history = await (
    name.includes('continue') ? client.workflow.getHandle(id, firstRun.get(id)) : first
  ).fetchHistory();
  // Runs always (later recordings may rely on earlier ones, e.g. for cache hits); files are kept.
  if (existsSync(file) && !values.force) {
    console.log(`${name}: kept the existing file (--force records it again)`);
    return;
  }
  writeFileSync(file, historyToJSON(history) + '\n');
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
    await record('experiment-diamond', async (workflowId) => {
      await client.workflow.start('experiment', {
        taskQueue: 'cpu',
        workflowId,
        args: [trialInput(diamond, 't0')],
      });
      return workflowId;
    });
    await record('experiment-cached', async (workflowId) => {
      await client.workflow.start('experiment', {
        taskQueue: 'cpu',
        workflowId,
        args: [trialInput(diamond, 't0')],
      });
      return workflowId;
    });
    const broken = buildPlan('broken', [
      [
        { name: 'ok', kind: 'noop' },
        { name: 'gen', kind: 'generate', deps: ['ok'] },
      ],
    ]);
    await record('experiment-failed', async (workflowId) => {
      await client.workflow.start('experiment', {
        taskQueue: 'cpu',
        workflowId,
        args: [trialInput(broken, 't0')],
      });
      return workflowId;
    });
    const early: StageSpec[][] = [0, 1, 2, 3].map((i) => [
      { name: 'shared', kind: 'counter' },
      { name: 'first', kind: 'noop', deps: ['shared'], params: { metrics: { score: i, step: 1 } } },
      { name: 'rest', kind: 'sleep', deps: ['first'], params: { ms: 3000, steps: 15 }, heartbeat: '2s' },
    ]);
    const sweepPlan = buildPlan('early', early, {
      sweep: { maxParallel: 4, earlyStop: { method: 'median', metric: 'score', afterStep: 1, minTrials: 4 } },
    });
    await record('sweep-early-stop', async (workflowId) => {
      await client.workflow.start('sweep', {
        taskQueue: 'cpu',
        workflowId,
        args: [{ plan: sweepPlan }],
      });
      return workflowId;
    });
    const many = buildPlan(
      'many',
      Array.from({ length: 6 }, (_, i) => [{ name: 'n', kind: 'noop' as const, params: { i } }]),
      { sweep: { maxParallel: 2 } },
    );
    await record('sweep-continue-as-new', async (workflowId) => {
      const h = await client.workflow.start('sweep', {
        taskQueue: 'cpu',
        workflowId,
        args: [{ plan: many, continueAsNewAt: 20 }],
      });
      firstRun.set(workflowId, h.firstExecutionRunId);
      return workflowId;
    });
  })(),
);
await ts.stop();
