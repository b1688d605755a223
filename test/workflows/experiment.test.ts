import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { openArtifacts } from '../../src/artifacts/index';
import { CounterStore } from '../helpers/stages/counters';
import { progressQuery } from '../../src/runtime/definitions';
import { trialInput } from '../../src/runtime/slice';
import type { TrialProgress } from '../../src/runtime/protocol';
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

// a -> (b, c) -> d, with b and c holding long enough to overlap if run in parallel.
const diamond = (salt: string) =>
  buildPlan(
    'diamond',
    [
      [
        { name: 'a', kind: 'counter' },
        { name: 'b', kind: 'counter', deps: ['a'], params: { ms: 600 } },
        { name: 'c', kind: 'counter', deps: ['a'], params: { ms: 600 } },
        { name: 'd', kind: 'counter', deps: ['b', 'c'], params: { metrics: { score: 1 } } },
      ],
    ],
    { salt },
  );

test('stages respect dependencies and independent stages run in parallel', async () => {
  const plan = diamond('order');
  const result = await ts.env.client.workflow.execute('experiment', {
    taskQueue: 'cpu',
    workflowId: 'diamond-order',
    args: [trialInput(plan, 't0')],
  });
  const ex = Object.fromEntries(
    counters
      .executions()
      .filter((e) => e.key in plan.instances)
      .map((e) => [e.stage, e]),
  );
  assert.deepEqual(Object.keys(ex).sort(), ['a', 'b', 'c', 'd']);
  assert.ok(ex.a.endedAt! <= ex.b.startedAt && ex.a.endedAt! <= ex.c.startedAt, 'a before b and c');
  assert.ok(ex.b.endedAt! <= ex.d.startedAt && ex.c.endedAt! <= ex.d.startedAt, 'b and c before d');
  assert.ok(ex.b.startedAt < ex.c.endedAt! && ex.c.startedAt < ex.b.endedAt!, 'b and c overlap');
  assert.equal(result.stages.d.metrics.score, 1);
  assert.equal(result.stages.a.cached, false);
});

test('a resubmitted plan reuses every stage from the cache', async () => {
  const plan = diamond('resubmit');
  const input = trialInput(plan, 't0');
  await ts.env.client.workflow.execute('experiment', {
    taskQueue: 'cpu',
    workflowId: 'resubmit-1',
    args: [input],
  });
  const handle = await ts.env.client.workflow.start('experiment', {
    taskQueue: 'cpu',
    workflowId: 'resubmit-2',
    args: [input],
  });
  const second = await handle.result();
  for (const s of ['a', 'b', 'c', 'd']) assert.equal(second.stages[s].cached, true, s);
  for (const key of Object.keys(plan.instances)) assert.equal(counters.executions({ key }).length, 1);
  const progress = (await handle.query(progressQuery)) as TrialProgress;
  assert.equal(progress.status, 'completed');
  assert.deepEqual(
    progress.stages.map((s) => s.state),
    ['cached', 'cached', 'cached', 'cached'],
  );
});

test('a failing stage fails the run with a message naming it', async () => {
  const plan = buildPlan('broken', [
    [
      { name: 'ok', kind: 'noop' },
      // A stage whose implementation refuses its params, non-retryably.
      { name: 'gen', kind: 'reward', deps: ['ok'], params: { backbone: { type: 'clip' } } },
    ],
  ]);
  const handle = await ts.env.client.workflow.start('experiment', {
    taskQueue: 'cpu',
    workflowId: 'broken',
    args: [trialInput(plan, 't0')],
  });
  const err = await handle.result().then(
    () => assert.fail('should fail'),
    (e) => e,
  );
  assert.ok(err instanceof WorkflowFailedError);
  assert.match(
    err.cause!.message,
    /^Stage gen failed: Reward stage 'gen': backbone type 'clip' needs a 'path' to a CLIP ONNX export folder\.$/,
  );
  const progress = (await handle.query(progressQuery)) as TrialProgress;
  assert.deepEqual(
    progress.stages.map((s) => [s.stage, s.state]),
    [
      ['ok', 'done'],
      ['gen', 'failed'],
    ],
  );
  const { cache } = openArtifacts(ts.stateDir);
  assert.ok(await cache.lookup(plan.trials[0].stages.ok), 'the finished stage is recorded');
  assert.equal(await cache.lookup(plan.trials[0].stages.gen), undefined, 'the failed one is not');
});

test('a result recorded after the run started is reused, not run again', async () => {
  const plan = buildPlan(
    'late-hit',
    [
      [
        { name: 'slow', kind: 'counter', params: { ms: 1500 } },
        { name: 'next', kind: 'counter', deps: ['slow'] },
      ],
    ],
    { salt: 'late' },
  );
  const next = plan.trials[0].stages.next;
  const handle = await ts.env.client.workflow.start('experiment', {
    taskQueue: 'cpu',
    workflowId: 'late-hit',
    args: [trialInput(plan, 't0')],
  });
  // Another run records `next` while `slow` still runs (after this run's cache lookup).
  while (counters.executions({ key: plan.trials[0].stages.slow }).length === 0)
    await new Promise((r) => setTimeout(r, 50));
  const { cache } = openArtifacts(ts.stateDir);
  await cache.record({
    key: next,
    artifacts: {},
    metrics: { elsewhere: 1 },
    finishedAt: new Date().toISOString(),
  });
  const result = await handle.result();
  assert.equal(counters.executions({ key: next }).length, 0, 'next did not run');
  assert.equal(result.stages.next.cached, true);
  assert.equal(result.stages.next.metrics.elsewhere, 1);
  assert.equal(result.stages.slow.cached, false);
});
