// Fault test: MLflow is SIGKILLed in the middle of a run while metrics keep being logged, then
// restarted on the same state folder. Afterwards every metric must be there exactly once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tracker } from '../../src/tracking/tracker';
import { startTestMlflow, type TestMlflow } from '../helpers/mlflow';

let mlflow: TestMlflow;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'alignrun-fault-'));
  mlflow = await startTestMlflow();
});
after(async () => {
  await mlflow?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const T0 = 1_700_000_000_000;

test('a server killed mid-run and restarted ends with every metric exactly once', async () => {
  const retries: string[] = [];
  const tracker = new Tracker({
    trackingUri: mlflow.url,
    outboxPath: join(dir, 'outbox.db'),
    minBackoffMs: 100,
    maxBackoffMs: 1000,
    onRetry: (m) => retries.push(m),
  });
  let step = 0;
  const logStep = () => {
    tracker.logMetrics('fault', [
      { key: 'loss', value: 1 / (step + 1), step, timestamp: T0 + step },
      { key: 'reward/mean', value: step % 7, step, timestamp: T0 + step },
    ]);
    step += 1;
  };
  try {
    tracker.startRun({ key: 'fault', name: 'fault', experiment: 'fault', params: { steps: 'many' } });
    for (let i = 0; i < 80; i++, await sleep(10)) logStep();

    await mlflow.kill();
    let maxPending = 0;
    for (let i = 0; i < 80; i++, await sleep(10)) {
      logStep();
      maxPending = Math.max(maxPending, tracker.pendingCount());
    }
    assert.ok(maxPending >= 80, `calls wait in the outbox while MLflow is down (saw ${maxPending})`);

    // Keep logging while the server starts up again.
    const restarted = mlflow.restart();
    let up = false;
    void restarted.then(() => (up = true));
    while (!up) {
      logStep();
      await sleep(20);
    }
    await restarted;
    for (let i = 0; i < 40; i++, await sleep(10)) logStep();
    tracker.endRun('fault', 'FINISHED', T0 + 1_000_000);
    await tracker.flush(120_000);
  } finally {
    await tracker.close();
  }
  assert.ok(retries.length > 0, 'the flusher saw the outage and retried');
  assert.ok(retries.some((m) => /ECONNREFUSED|unreachable/.test(m)));

  const seen = await mlflow.python<{ status: string; runs: number; loss: number[][]; reward: number[][] }>(`
c = MlflowClient()
exp = c.get_experiment_by_name('fault')
runs = mlflow.search_runs([exp.experiment_id], output_format='list')
r = runs[0]
h = lambda k: sorted([m.step, m.value, m.timestamp] for m in c.get_metric_history(r.info.run_id, k))
print(json.dumps({'status': r.info.status, 'runs': len(runs), 'loss': h('loss'), 'reward': h('reward/mean')}))
`);
  assert.equal(seen.runs, 1);
  assert.equal(seen.status, 'FINISHED');
  const n = step;
  assert.ok(n > 200, `logged ${n} steps`);
  assert.deepEqual(
    seen.loss,
    Array.from({ length: n }, (_, s) => [s, 1 / (s + 1), T0 + s]),
  );
  assert.deepEqual(
    seen.reward,
    Array.from({ length: n }, (_, s) => [s, s % 7, T0 + s]),
  );
});
