// `cancel` stops a running stage at its next heartbeat; `resume` finishes the run from the cache.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { CounterStore } from '../helpers/stages/counters';
import { cancelRun, listRuns, resumeRun, submitPlan, viewRun } from '../../src/runtime/runs';
import type { TrialProgress, TrialResult } from '../../src/runtime/protocol';
import { startTestStack, type TestStack } from '../helpers/temporal';
import { buildPlan } from './plans';

let ts: TestStack;
let counters: CounterStore;
before(async () => {
  ts = await startTestStack();
  counters = CounterStore.forState(ts.stateDir);
});
after(async () => {
  counters?.close();
  await ts?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('cancel stops the running stage; resume finishes from the first unfinished stage', async () => {
  // 'long' would take 10 s; its steps heartbeat every 100 ms against a 2 s heartbeat timeout.
  const plan = buildPlan('cancel-me', [
    [
      { name: 'first', kind: 'counter' },
      { name: 'long', kind: 'sleep', deps: ['first'], params: { ms: 10_000, steps: 100 }, heartbeat: '2s' },
      { name: 'last', kind: 'counter', deps: ['long'] },
    ],
  ]);
  const { workflowId, existing } = await submitPlan(ts.env.client, plan);
  assert.equal(existing, false);
  assert.equal((await submitPlan(ts.env.client, plan)).existing, true, 'a second submit attaches');
  while (!(await viewRun(ts.env.client, workflowId)).pending.long) await sleep(200);

  await cancelRun(ts.env.client, workflowId);
  const err = await ts.env.client.workflow
    .getHandle(workflowId)
    .result()
    .then(
      () => assert.fail('a cancelled run has no result'),
      (e) => e,
    );
  assert.ok(err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure);
  // The workflow closes only after the activity acknowledged: it really stopped, early.
  const [stopped] = counters.executions({ stage: 'long' });
  assert.equal(stopped.outcome, 'cancelled');
  assert.ok(stopped.endedAt! - stopped.startedAt < 10_000, 'stopped long before its natural end');
  const view = await viewRun(ts.env.client, workflowId);
  assert.equal(view.status, 'cancelled');
  const states = (view.progress as TrialProgress).stages.map((s) => s.state);
  assert.deepEqual(states, ['done', 'cancelled', 'pending']);
  await assert.rejects(cancelRun(ts.env.client, workflowId), /not running/);

  // The new run reuses the cached 'first' and runs 'long' and 'last'.
  await resumeRun(ts.env.client, workflowId);
  const result = (await ts.env.client.workflow.getHandle(workflowId).result()) as TrialResult;
  assert.equal(result.stages.first.cached, true);
  assert.equal(result.stages.long.cached, false);
  assert.equal(counters.executions({ stage: 'first' }).length, 1);
  assert.equal(counters.executions({ stage: 'last' }).length, 1);
  await assert.rejects(resumeRun(ts.env.client, workflowId), /already completed/);
  assert.equal((await submitPlan(ts.env.client, plan)).completed, true);

  const rows = await listRuns(ts.env.client);
  assert.deepEqual(
    rows.map((r) => [r.workflowId, r.experiment]),
    [[workflowId, 'cancel-me']],
  );
});
