// A worker killed with SIGKILL mid-stage: the run completes on a new worker, finished stages do
// not run again, and the interrupted stage resumes from its last heartbeat checkpoint.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CounterStore } from '../helpers/stages/counters';
import { viewRun } from '../../src/runtime/runs';
import { trialInput } from '../../src/runtime/slice';
import type { TrialResult } from '../../src/runtime/protocol';
import { startTestServer, type TestServer } from '../helpers/temporal';
import { buildPlan } from './plans';
import { spawnWorker, type WorkerProcess } from './worker-process';

let ts: TestServer;
let counters: CounterStore;
const workers: WorkerProcess[] = [];
before(async () => {
  ts = await startTestServer();
  counters = CounterStore.forState(ts.stateDir);
});
after(async () => {
  for (const w of workers) await w.kill('SIGTERM');
  counters?.close();
  await ts?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a SIGKILLed worker: the run finishes on a new worker, resuming from the checkpoint', async () => {
  const plan = buildPlan('crash', [
    [
      { name: 'first', kind: 'counter' },
      { name: 'long', kind: 'sleep', deps: ['first'], params: { ms: 12_000, steps: 40 }, heartbeat: '2s' },
      { name: 'last', kind: 'counter', deps: ['long'] },
    ],
  ]);
  const a = spawnWorker(ts.server.address, ts.stateDir);
  workers.push(a);
  await a.ready;
  const handle = await ts.env.client.workflow.start('experiment', {
    taskQueue: 'cpu',
    workflowId: 'crash',
    args: [trialInput(plan, 't0')],
  });
  // Wait until the server has recorded a checkpoint well into the stage.
  let checkpoint = 0;
  while (checkpoint < 8) {
    const view = await viewRun(ts.env.client, 'crash');
    checkpoint = (view.pending.long?.heartbeat as { step?: number } | undefined)?.step ?? 0;
    await sleep(200);
  }
  await a.kill('SIGKILL');
  const interrupted = counters.executions({ stage: 'long' });
  assert.equal(interrupted.length, 1);
  assert.equal(interrupted[0].endedAt, null, 'the killed attempt never finished');

  const b = spawnWorker(ts.server.address, ts.stateDir);
  workers.push(b);
  await b.ready;
  const result = (await handle.result()) as TrialResult;

  assert.equal(counters.executions({ stage: 'first' }).length, 1, 'first is not run again');
  assert.equal(counters.executions({ stage: 'last' }).length, 1);
  const runs = counters.executions({ stage: 'long' });
  assert.equal(runs.length, 2);
  assert.equal(runs[1].attempt, 2);
  assert.ok(runs[1].startStep >= checkpoint, `resumed at ${runs[1].startStep}, checkpoint was ${checkpoint}`);
  assert.equal(result.stages.long.metrics.resumedFrom, runs[1].startStep);
  assert.notEqual(runs[1].pid, runs[0].pid);
});
