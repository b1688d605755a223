// Runs tracked in MLflow end to end: real Temporal dev server, real workers, real MLflow server;
// what the runs hold is read back with MLflow's own Python client.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TAGS } from '../../src/tracking/params';
import { trackingOutboxes } from '../../src/tracking/run-tracking';
import { trialInput, workflowIdFor } from '../../src/runtime/slice';
import type { SweepInput, SweepResult } from '../../src/runtime/protocol';
import { startTestMlflow, type TestMlflow } from '../helpers/mlflow';
import { startTestStack, type TestStack } from '../helpers/temporal';
import { buildPlan } from '../workflows/plans';

let ts: TestStack;
let mlflow: TestMlflow;

before(async () => {
  [ts, mlflow] = await Promise.all([startTestStack(), startTestMlflow()]);
});
after(() => Promise.all([ts?.stop(), mlflow?.stop()]));

interface PyRun {
  id: string;
  name: string;
  status: string;
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: Record<string, number>;
}

// Every run of an experiment, as MLflow's Python client sees it.
const runsOf = (experiment: string) =>
  mlflow.python<PyRun[]>(`
exp = MlflowClient().get_experiment_by_name(${JSON.stringify(experiment)})
runs = MlflowClient().search_runs([exp.experiment_id]) if exp else []
print(json.dumps([{"id": r.info.run_id, "name": r.info.run_name, "status": r.info.status,
  "params": r.data.params, "tags": r.data.tags, "metrics": r.data.metrics} for r in runs]))`);

const history = (runId: string, key: string) =>
  mlflow.python<{ step: number; value: number; timestamp: number }[]>(`
h = MlflowClient().get_metric_history(${JSON.stringify(runId)}, ${JSON.stringify(key)})
print(json.dumps([{"step": m.step, "value": m.value, "timestamp": m.timestamp} for m in h]))`);

test('a one-trial run is one MLflow run with params, tags and every stage metric', async () => {
  const plan = buildPlan('tracked-one', [
    [
      { name: 'prep', kind: 'noop', params: { metrics: { items: 12 } } },
      { name: 'score', kind: 'counter', deps: ['prep'], params: { metrics: { alignment: 0.75 } } },
    ],
  ]);
  plan.tracking = { experiment: 'alignrun-tracked-one', uri: mlflow.url };
  plan.resolvedSpec = { metadata: { name: 'tracked-one' }, stages: { score: { lambda: 0.5, seed: 7 } } };
  const workflowId = workflowIdFor(plan);
  await ts.env.client.workflow.execute('experiment', {
    taskQueue: 'cpu',
    workflowId,
    args: [trialInput(plan, 't0')],
  });
  await ts.workers.tracking.flush(60_000);

  const runs = await runsOf('alignrun-tracked-one');
  assert.equal(runs.length, 1, 'exactly one run');
  const [run] = runs;
  assert.equal(run.status, 'FINISHED');
  assert.equal(run.name, 'tracked-one');
  assert.equal(run.params['stages.score.lambda'], '0.5');
  assert.equal(run.params['metadata.name'], 'tracked-one');
  assert.equal(run.params['trial.id'], 't0');
  assert.equal(run.params['trial.i'], '0', 'the trial assignment is a param');
  assert.equal(run.tags[TAGS.workflowId], workflowId);
  assert.equal(run.tags[TAGS.planHash], plan.planHash);
  assert.match(run.tags[TAGS.gitCommit], /^[0-9a-f]{40}$/);
  assert.equal(run.tags[TAGS.version], '0.1.0');
  assert.equal(run.tags['alignrun.key'], `${workflowId}/t0`);
  assert.equal(run.metrics['prep.items'], 12);
  assert.equal(run.metrics['score.alignment'], 0.75);
  assert.equal(run.metrics['score.executions'], 1);
  assert.deepEqual(
    (await history(run.id, 'score.alignment')).map((m) => [m.step, m.value]),
    [[0, 0.75]],
  );
  const resolved = await mlflow.python<unknown>(
    `
import tempfile, os
d = mlflow.artifacts.download_artifacts(run_id=${JSON.stringify('RUN')}, artifact_path="spec/resolved.json", dst_path=tempfile.mkdtemp())
print(json.dumps(json.load(open(d))))`.replace('RUN', run.id),
  );
  assert.deepEqual(resolved, plan.resolvedSpec, 'the resolved spec is an artifact of the run');

  // Submitting the same plan again: every stage comes from the cache, the same run is found again
  // and the cached stages' metrics (stamped with their finish time) add no rows.
  await ts.env.client.workflow.execute('experiment', {
    taskQueue: 'cpu',
    workflowId,
    args: [trialInput(plan, 't0')],
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });
  await ts.workers.tracking.flush(60_000);
  const again = await runsOf('alignrun-tracked-one');
  assert.equal(again.length, 1, 'the re-run found the same MLflow run');
  assert.equal(again[0].status, 'FINISHED');
  assert.equal((await history(run.id, 'score.alignment')).length, 1, 'no duplicate metric rows');
  assert.equal((await history(run.id, 'prep.items')).length, 1);
});

test('a sweep is a parent run with its trials nested under it; shared stages log to the parent', async () => {
  const shared = { name: 'prompts', kind: 'noop' as const, params: { metrics: { prompts: 40 } } };
  const trial = (lambda: number) => [
    shared,
    { name: 'train', kind: 'sleep' as const, deps: ['prompts'], params: { steps: 3, ms: 30, lambda } },
    { name: 'eval', kind: 'noop' as const, deps: ['train'], params: { metrics: { alignment: lambda } } },
  ];
  const plan = buildPlan('tracked-sweep', [trial(0.1), trial(0.5), trial(0.9)]);
  plan.tracking = { experiment: 'alignrun-tracked-sweep', uri: mlflow.url };
  // The spec's default lambda (0.3) is one that no trial uses.
  plan.resolvedSpec = {
    metadata: { name: 'tracked-sweep' },
    stages: { train: { lambda: 0.3, steps: 3 } },
    sweep: { parameters: { 'stages.train.lambda': [0.1, 0.5, 0.9] } },
  };
  plan.trials.forEach((t, i) => (t.assignment = { 'stages.train.lambda': [0.1, 0.5, 0.9][i] }));
  const workflowId = workflowIdFor(plan);
  const input: SweepInput = { plan };
  const result: SweepResult = await ts.env.client.workflow.execute('sweep', {
    taskQueue: 'cpu',
    workflowId,
    args: [input],
  });
  assert.deepEqual(
    Object.values(result.trials).map((t) => t.state),
    ['completed', 'completed', 'completed'],
  );
  await ts.workers.tracking.flush(60_000);

  const runs = await runsOf('alignrun-tracked-sweep');
  assert.equal(runs.length, 4, 'one parent and three trials');
  const parent = runs.find((r) => r.tags['alignrun.key'] === workflowId)!;
  assert.ok(parent, 'the sweep run is keyed by its workflow id');
  assert.equal(parent.status, 'FINISHED');
  assert.equal(parent.tags['mlflow.parentRunId'], undefined);
  assert.equal(parent.metrics['prompts.prompts'], 40, 'the shared stage logged to the parent');
  const children = runs.filter((r) => r !== parent).sort((a, b) => a.name.localeCompare(b.name));
  // The parent's params are what every trial shares: no swept value, no default no trial used.
  for (const [key, value] of Object.entries(parent.params))
    for (const c of children) assert.equal(c.params[key], value, `${c.name} shares ${key}`);
  assert.equal(parent.params['stages.train.lambda'], undefined);
  assert.equal(parent.params['stages.train.steps'], '3');
  assert.equal(parent.params['sweep.parameters.stages.train.lambda.2'], '0.9', 'the swept values');
  assert.deepEqual(
    children.map((c) => c.name),
    ['t0', 't1', 't2'],
  );
  for (const [i, c] of children.entries()) {
    assert.equal(c.tags['mlflow.parentRunId'], parent.id, `${c.name} is nested under the sweep`);
    assert.equal(c.tags['alignrun.key'], `${workflowId}/t${i}`);
    assert.equal(c.tags[TAGS.workflowId], `${workflowId}-t${i}`);
    assert.equal(c.status, 'FINISHED');
    assert.equal(c.params['stages.train.lambda'], String([0.1, 0.5, 0.9][i]), 'assignment applied');
    assert.equal(c.metrics['eval.alignment'], [0.1, 0.5, 0.9][i]);
    // The trial's own stage streamed a metric per step through ctx.track.
    assert.deepEqual(
      (await history(c.id, 'train.step')).map((m) => [m.step, m.value]).sort((a, b) => a[0] - b[0]),
      [
        [0, 1],
        [1, 2],
        [2, 3],
      ],
    );
  }
  // The per-URI outbox is empty once MLflow took everything.
  const outbox = trackingOutboxes(ts.stateDir).find((o) => o.uri === mlflow.url);
  assert.equal(outbox?.pending, 0);
  assert.equal(outbox?.dead, 0);
});
