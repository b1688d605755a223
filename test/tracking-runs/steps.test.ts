// Steps and timestamps of stage metrics in MLflow: the real stage activities (the `sleep` test
// stage logs `step` = step + 1 at each step and resumes from its checkpoint), run in a mocked
// activity context that gives them an attempt number and a checkpoint as Temporal would, logging
// to a real MLflow server; what the runs hold is read back with MLflow's own Python client.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/runtime/activities';
import type { StageInput, StageOutput } from '../../src/runtime/stage';
import { RunTracking } from '../../src/tracking/run-tracking';
import type { TrackedRun } from '../../src/runtime/protocol';
import { startTestMlflow, type TestMlflow } from '../helpers/mlflow';
import { testStages } from '../helpers/stages/index';
import { buildPlan, type StageSpec } from '../workflows/plans';

const EXPERIMENT = 'alignrun-steps';
let mlflow: TestMlflow;
let stateDir: string;

before(async () => {
  mlflow = await startTestMlflow();
  stateDir = mkdtempSync(join(tmpdir(), 'alignrun-steps-'));
});
after(async () => {
  await mlflow?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

const run = (key: string): TrackedRun => ({ key, name: key, experiment: EXPERIMENT, uri: mlflow.url });

// The input of each stage of a one-trial plan, logging to `runKey`.
function inputs(name: string, stages: StageSpec[], runKey: string): StageInput[] {
  const plan = buildPlan(name, [stages]);
  return plan.order.map((k) => ({
    experiment: name,
    instance: plan.instances[k],
    upstream: {},
    models: {},
    tracking: { run: run(runKey) },
  }));
}

// Runs one attempt of a stage activity as a worker sharing the state folder would.
function attempt(
  tracking: RunTracking,
  input: StageInput,
  info: { attempt: number; heartbeatDetails?: unknown },
) {
  const activity = createActivities(stateDir, { tracking, extraStages: testStages })[input.instance.kind];
  return new MockActivityEnvironment(info).run(activity, input);
}

// [step, value, timestamp] of every row of each metric, by run key and metric, sorted (one Python
// start for all: it takes seconds).
const histories = (metrics: Record<string, string[]>) =>
  mlflow.python<Record<string, Record<string, [number, number, number][]>>>(`
c = MlflowClient()
exp = c.get_experiment_by_name(${JSON.stringify(EXPERIMENT)})
out = {}
for key, metrics in json.loads(${JSON.stringify(JSON.stringify(metrics))}).items():
    [r] = c.search_runs([exp.experiment_id], f"tags.\`alignrun.key\` = '{key}'")
    out[key] = {m: sorted([x.step, x.value, x.timestamp] for x in c.get_metric_history(r.info.run_id, m)) for m in metrics}
print(json.dumps(out))`);
const points = (rows: [number, number, number][]) => rows.map(([step, value]) => [step, value]);

test('a summary metric with a curve never precedes it; from the cache into a fresh run it is at step 0', async () => {
  const tracking = new RunTracking(stateDir);
  // `exact` returns its curve's last value (as the reward stage's final loss); `smoothed` another.
  const [exact, smoothed] = inputs(
    'summary-steps',
    [
      { name: 'exact', kind: 'sleep', params: { steps: 4, metrics: { step: 4 } } },
      { name: 'smoothed', kind: 'sleep', params: { steps: 3, metrics: { step: 2.5 } } },
    ],
    'summary/t0',
  );
  for (const input of [exact, smoothed]) await attempt(tracking, { ...input, record: true }, { attempt: 1 });
  // Cached now: the same results logged to a run that holds no curve of them.
  await attempt(tracking, { ...exact, tracking: { run: run('fresh/t0') }, record: true }, { attempt: 1 });
  await tracking.flush(60_000);
  await tracking.close();

  const got = await histories({
    'summary/t0': ['exact.step', 'smoothed.step', 'exact.steps'],
    'fresh/t0': ['exact.step'],
  });
  assert.deepEqual(
    points(got['summary/t0']['exact.step']),
    [
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 4],
    ],
    'the curve alone: its last point already is the summary',
  );
  assert.deepEqual(
    points(got['summary/t0']['smoothed.step']),
    [
      [0, 1],
      [1, 2],
      [2, 2.5],
      [2, 3],
    ],
    'a different summary value at the last step of the curve',
  );
  assert.deepEqual(points(got['summary/t0']['exact.steps']), [[0, 4]], 'a key without a curve: step 0');
  assert.deepEqual(points(got['fresh/t0']['exact.step']), [[0, 4]], 'no curve in the fresh run: step 0');
});

test('curve points carry the time they were logged; a retry from a checkpoint adds no row for a logged step', async () => {
  const started = Date.now();
  const [input] = inputs(
    'retry-steps',
    [{ name: 'train', kind: 'sleep', params: { steps: 5, ms: 250 } }],
    'retry/t0',
  );
  const first = new RunTracking(stateDir);
  await attempt(first, input, { attempt: 1 });
  // The retry runs on another worker (its own trackers on the same state folder) and resumes
  // after step 2, as the first attempt's last heartbeat said: it logs steps 2..4 again.
  const second = new RunTracking(stateDir);
  const out = (await attempt(second, input, {
    attempt: 2,
    heartbeatDetails: { step: 2, steps: 5 },
  })) as StageOutput;
  assert.equal(out.metrics.resumedFrom, 2);
  await Promise.all([first.flush(60_000), second.flush(60_000)]);
  await Promise.all([first.close(), second.close()]);

  const rows = (await histories({ 'retry/t0': ['train.step'] }))['retry/t0']['train.step'];
  assert.deepEqual(
    points(rows),
    Array.from({ length: 5 }, (_, s) => [s, s + 1]),
    'one row per step',
  );
  assert.ok(rows[0][2] >= started, `stamped with the wall clock (${rows[0][2]} < ${started})`);
  for (let s = 1; s < rows.length; s++) {
    const gap = rows[s][2] - rows[s - 1][2];
    assert.ok(gap >= 40, `step ${s} logged ${gap} ms after step ${s - 1}; the stage slept 50 ms`);
  }
});
