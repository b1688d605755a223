// Sweeps: the parallel limit, shared stages run once, continue-as-new, median early stopping.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CounterStore, type Execution } from '../helpers/stages/counters';
import { progressQuery } from '../../src/runtime/definitions';
import type { SweepProgress, SweepResult } from '../../src/runtime/protocol';
import { startTestStack, type TestStack } from '../helpers/temporal';
import { buildPlan, type StageSpec } from './plans';

let ts: TestStack;
let counters: CounterStore;
before(async () => {
  ts = await startTestStack({ cpuSlots: 16 });
  counters = CounterStore.forState(ts.stateDir);
});
after(async () => {
  counters?.close();
  await ts?.stop();
});

/** The most executions that were running at the same moment. */
function maxOverlap(execs: Execution[]): number {
  const points = execs.flatMap((e) => [
    [e.startedAt, 1],
    [e.endedAt!, -1],
  ]);
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]); // an end before a start at the same ms
  let now = 0;
  let most = 0;
  for (const [, d] of points) most = Math.max(most, (now += d));
  return most;
}

test('16 trials, maxParallel 3: never more than 3 running, the shared stage runs once', async () => {
  const trials: StageSpec[][] = Array.from({ length: 16 }, (_, i) => [
    { name: 'prompts', kind: 'counter' },
    { name: 'train', kind: 'counter', deps: ['prompts'], params: { ms: 300, trial: i } },
    { name: 'eval', kind: 'noop', deps: ['train'], params: { metrics: { score: i } } },
  ]);
  const plan = buildPlan('sweep16', trials, {
    sweep: { maxParallel: 3, objective: { metric: 'eval.score', goal: 'maximize' } },
  });
  const shared = plan.trials[0].stages.prompts;
  assert.deepEqual(plan.instances[shared].trials.length, 16);
  const handle = await ts.env.client.workflow.start('sweep', {
    taskQueue: 'cpu',
    workflowId: 'sweep16',
    // A small history limit makes this sweep continue as new at least once.
    args: [{ plan, continueAsNewAt: 60 }],
  });
  const result = (await handle.result()) as SweepResult;
  assert.equal(Object.values(result.trials).filter((t) => t.state === 'completed').length, 16);
  assert.deepEqual(result.best, { trialId: 't15', value: 15 });
  assert.equal(counters.executions({ key: shared }).length, 1, 'the shared stage ran once');
  const train = counters.executions({ stage: 'train' });
  assert.equal(train.length, 16);
  const overlap = maxOverlap(train);
  assert.ok(overlap <= 3, `at most 3 trials at once, saw ${overlap}`);
  assert.ok(overlap > 1, 'trials do run in parallel');
  const progress = (await handle.query(progressQuery)) as SweepProgress;
  assert.ok(progress.generation >= 1, 'continued as new');
  assert.equal(progress.status, 'completed');
});

test('median early stopping cancels the trials below the median of the others', async () => {
  const trials: StageSpec[][] = [0, 1, 2, 3].map((i) => [
    { name: 'first', kind: 'noop', params: { metrics: { score: i, step: 1 } } },
    { name: 'rest', kind: 'sleep', deps: ['first'], params: { ms: 5000, steps: 25 }, heartbeat: '2s' },
  ]);
  const plan = buildPlan('early', trials, {
    sweep: {
      maxParallel: 4,
      earlyStop: { method: 'median', metric: 'first.score', afterStep: 1, minTrials: 4 },
    },
  });
  const result = (await ts.env.client.workflow.execute('sweep', {
    taskQueue: 'cpu',
    workflowId: 'early',
    args: [{ plan }],
  })) as SweepResult;
  const states = Object.fromEntries(Object.entries(result.trials).map(([id, t]) => [id, t.state]));
  assert.deepEqual(states, { t0: 'stopped', t1: 'stopped', t2: 'completed', t3: 'completed' });
  assert.match(result.trials.t0.error!, /score 0 at step 1 worse than median 2/);
  const stopped = counters.executions({ stage: 'rest' }).filter((e) => e.outcome === 'cancelled');
  assert.deepEqual(stopped.map((e) => e.trialId).sort(), ['t0', 't1']);
});

test(
  'several shared instances of one stage (a reward per lambda, shared across betas) each run once',
  { timeout: 60_000 },
  async () => {
    // 4 trials = lambda {0, 1} x beta {0, 1}: `reward` has two instances, each shared by two trials.
    const trials: StageSpec[][] = [0, 1, 2, 3].map((i) => [
      { name: 'labels', kind: 'counter' },
      { name: 'reward', kind: 'counter', deps: ['labels'], params: { lambda: i % 2 } },
      { name: 'finetune', kind: 'noop', deps: ['reward'], params: { beta: Math.floor(i / 2) } },
    ]);
    const plan = buildPlan('multishared', trials, { sweep: { maxParallel: 4 } });
    const rewardKeys = new Set(plan.trials.map((t) => t.stages.reward));
    assert.equal(rewardKeys.size, 2);
    const result = (await ts.env.client.workflow.execute('sweep', {
      taskQueue: 'cpu',
      workflowId: 'multishared',
      args: [{ plan }],
    })) as SweepResult;
    assert.equal(Object.values(result.trials).filter((t) => t.state === 'completed').length, 4);
    for (const key of rewardKeys)
      assert.equal(counters.executions({ key }).length, 1, `reward ${key} ran once`);
  },
);
