// With the timeouts and retries a compiled spec gets by default: a SIGKILLed worker's stage is
// retried on another worker within 20 s, `status` shows a long stage's progress live, `cancel`
// stops a running stage within a couple of seconds, and the worker logs a line per stage event.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { compileFile } from '../../src/spec/compile';
import type { StageInstance } from '../../src/spec/plan';
import { CounterStore } from '../helpers/stages/counters';
import { cancelRun, submitPlan, viewRun } from '../../src/runtime/runs';
import { repoRoot } from '../../src/runtime/paths';
import { trialInput } from '../../src/runtime/slice';
import { startTestServer, type TestServer } from '../helpers/temporal';
import { buildPlan, type StageSpec } from './plans';
import { spawnWorker, type WorkerProcess } from './worker-process';

let ts: TestServer;
let counters: CounterStore;
let defaults: Pick<StageInstance, 'retry' | 'timeouts'>;
const workers: WorkerProcess[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'alignrun-recovery-'));

before(async () => {
  ts = await startTestServer();
  counters = CounterStore.forState(ts.stateDir);
  // The shipped quickstart's generate stage sets no timeouts or retries: it has the defaults.
  const { plan } = await compileFile(join(repoRoot, 'experiments/quickstart.yaml'), {
    stateDir: join(scratch, 'state'),
  });
  const generate = Object.values(plan!.instances).find((i) => i.kind === 'generate')!;
  defaults = { retry: generate.retry, timeouts: generate.timeouts };
});
after(async () => {
  for (const w of workers) await w.kill('SIGTERM');
  counters?.close();
  await ts?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A plan of test stages, each with the compiled defaults for timeouts and retries. */
function defaultPlan(experiment: string, stages: StageSpec[]) {
  const plan = buildPlan(experiment, [stages]);
  for (const inst of Object.values(plan.instances)) Object.assign(inst, structuredClone(defaults));
  return plan;
}

async function heartbeatStep(workflowId: string, stage: string): Promise<number | undefined> {
  const view = await viewRun(ts.env.client, workflowId);
  return (view.pending[stage]?.heartbeat as { step?: number } | undefined)?.step;
}

test('a SIGKILLed worker: its stage restarts on another worker within 20 s; every stage event is logged', async () => {
  const plan = defaultPlan('recover', [
    { name: 'long', kind: 'sleep', params: { ms: 30_000, steps: 300 } },
    { name: 'flaky', kind: 'counter', deps: ['long'], params: { fail_attempts: 1 } },
  ]);
  const a = spawnWorker(ts.server.address, ts.stateDir);
  workers.push(a);
  await a.ready;
  const handle = await ts.env.client.workflow.start('experiment', {
    taskQueue: 'cpu',
    workflowId: 'recover',
    args: [trialInput(plan, 't0')],
  });
  const waitFrom = Date.now();
  while (((await heartbeatStep('recover', 'long')) ?? 0) < 5) {
    if (Date.now() - waitFrom > 20_000)
      assert.fail('status did not show step 5 of the running stage in 20 s');
    await sleep(200);
  }
  // A second worker waits on the queue; then the first dies mid-stage.
  const b = spawnWorker(ts.server.address, ts.stateDir);
  workers.push(b);
  await b.ready;
  const killedAt = Date.now();
  await a.kill('SIGKILL');
  let restart: { startedAt: number; startStep: number } | undefined;
  while (!restart) {
    restart = counters.executions({ key: plan.trials[0].stages.long }).find((e) => e.attempt === 2);
    if (Date.now() - killedAt > 60_000) assert.fail('the stage was not restarted within 60 s');
    await sleep(100);
  }
  const seconds = (restart.startedAt - killedAt) / 1000;
  console.log(`# restarted ${seconds.toFixed(1)} s after SIGKILL, resuming at step ${restart.startStep}`);
  assert.ok(seconds <= 20, `restarted ${seconds.toFixed(1)} s after the kill`);
  assert.ok(restart.startStep >= 5, 'resumed from the checkpoint, not from the start');
  await handle.result();

  const aLog = a.output();
  const bLog = b.output();
  assert.match(aLog, /alignrun worker: \S+Z run recover stage long \(sleep, attempt 1 of 3\) started\n/);
  assert.match(bLog, /run recover stage long \(sleep, attempt 2 of 3\) retrying\n/);
  assert.match(bLog, /run recover stage long \(sleep, attempt 2 of 3\) finished in \d+\.\d s\n/);
  assert.match(
    bLog,
    /run recover stage flaky \(counter, attempt 1 of 3\) failed after \d+\.\d s: counter: attempt 1 fails, as the test asked\n/,
  );
  assert.match(bLog, /run recover stage flaky \(counter, attempt 2 of 3\) retrying\n/);
  assert.match(bLog, /run recover stage flaky \(counter, attempt 2 of 3\) finished in/);
});

test('status shows a long stage live; cancel stops it within seconds', async () => {
  const w = spawnWorker(ts.server.address, ts.stateDir);
  workers.push(w);
  await w.ready;
  const plan = defaultPlan('live', [{ name: 'long', kind: 'sleep', params: { ms: 20_000, steps: 200 } }]);
  const { workflowId } = await submitPlan(ts.env.client, plan);
  const seen = new Set<number>();
  const t0 = Date.now();
  while (Date.now() - t0 < 4000) {
    const step = await heartbeatStep(workflowId, 'long');
    if (step !== undefined) seen.add(step);
    await sleep(250);
  }
  // 100 ms steps for 4 s: a view at most about a second old sees several distinct steps.
  assert.ok(seen.size >= 3, `status saw steps ${[...seen].join(', ')} in 4 s`);

  const cancelledAt = Date.now();
  await cancelRun(ts.env.client, workflowId);
  await ts.env.client.workflow
    .getHandle(workflowId)
    .result()
    .catch(() => undefined);
  const [run] = counters.executions({ stage: 'long', key: plan.order[0] });
  assert.equal(run.outcome, 'cancelled');
  const seconds = (run.endedAt! - cancelledAt) / 1000;
  console.log(`# stopped ${seconds.toFixed(1)} s after cancel`);
  assert.ok(seconds < 3, `the stage stopped ${seconds.toFixed(1)} s after the cancel`);
  // Whichever worker ran it (the first test's second worker is still serving) logged the cancel.
  const logs = workers.map((x) => x.output()).join('');
  assert.ok(logs.includes(`run ${workflowId} stage long (sleep, attempt 1 of 3) cancelled after`), logs);
});
