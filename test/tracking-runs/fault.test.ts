// Fault test: MLflow is killed while a tracked run is logging a metric per step, and started again
// on the same state folder and port. The run must not fail, and afterwards MLflow must hold every
// metric exactly once (read back with MLflow's own Python client).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { trialInput, workflowIdFor } from '../../src/runtime/slice';
import { startTestMlflow, type TestMlflow } from '../helpers/mlflow';
import { startTestStack, type TestStack } from '../helpers/temporal';
import { buildPlan } from '../workflows/plans';

let ts: TestStack;
let mlflow: TestMlflow;

before(async () => {
  [ts, mlflow] = await Promise.all([startTestStack(), startTestMlflow()]);
});
after(() => Promise.all([ts?.stop(), mlflow?.stop()]));

const STEPS = 40;

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('MLflow killed mid-run and restarted: the run finishes and every metric is there exactly once', async () => {
  const plan = buildPlan('tracked-fault', [
    [
      { name: 'train', kind: 'sleep', params: { steps: STEPS, ms: STEPS * 150 } },
      { name: 'eval', kind: 'noop', deps: ['train'], params: { metrics: { alignment: 0.5 } } },
    ],
  ]);
  plan.tracking = { experiment: 'alignrun-tracked-fault', uri: mlflow.url };
  const workflowId = workflowIdFor(plan);
  const handle = await ts.env.client.workflow.start('experiment', {
    taskQueue: 'cpu',
    workflowId,
    args: [trialInput(plan, 't0')],
  });
  const history = (key: string) =>
    mlflow.python<{ step: number; value: number }[]>(`
exp = MlflowClient().get_experiment_by_name("alignrun-tracked-fault")
runs = MlflowClient().search_runs([exp.experiment_id]) if exp else []
h = MlflowClient().get_metric_history(runs[0].info.run_id, ${JSON.stringify(key)}) if runs else []
print(json.dumps([{"step": m.step, "value": m.value} for m in h]))`);

  // Some steps reach MLflow before it dies.
  await until('the first steps were delivered', () => ts.workers.tracking.pendingCount() === 0);
  await until('a few steps were logged', async () => (await history('train.step')).length >= 3);
  await mlflow.kill();

  // The stage keeps logging; its calls wait in the outbox.
  await until('calls wait in the outbox', () => ts.workers.tracking.pendingCount() >= 5);
  await mlflow.restart();
  const result = await handle.result();
  assert.equal(result.stages.eval.metrics.alignment, 0.5, 'the run finished despite the outage');
  await ts.workers.tracking.flush(120_000);

  const steps = await history('train.step');
  assert.equal(steps.length, STEPS, `one row per step (got ${steps.length})`);
  assert.deepEqual(
    steps.map((m) => [m.step, m.value]).sort((a, b) => a[0] - b[0]),
    Array.from({ length: STEPS }, (_, i) => [i, i + 1]),
  );
  assert.deepEqual(await history('eval.alignment'), [{ step: 0, value: 0.5 }]);
  assert.deepEqual(await history('train.steps'), [{ step: 0, value: STEPS }]);
  const [status, count] = await mlflow.python<[string, number]>(`
exp = MlflowClient().get_experiment_by_name("alignrun-tracked-fault")
runs = MlflowClient().search_runs([exp.experiment_id])
print(json.dumps([runs[0].info.status, len(runs)]))`);
  assert.equal(count, 1, 'one MLflow run');
  assert.equal(status, 'FINISHED');
});
