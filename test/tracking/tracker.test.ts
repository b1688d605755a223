import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Outbox, outboxStatus } from '../../src/tracking/outbox';
import { freePort } from '../../src/util/ports';
import { Tracker } from '../../src/tracking/tracker';
import { startTestMlflow, type TestMlflow } from '../helpers/mlflow';

let mlflow: TestMlflow;
let dir: string;
const trackers: Tracker[] = [];

function tracker(
  outbox: string,
  url = mlflow.url,
  extra: Partial<ConstructorParameters<typeof Tracker>[0]> = {},
) {
  const t = new Tracker({ trackingUri: url, outboxPath: join(dir, outbox), minBackoffMs: 50, ...extra });
  trackers.push(t);
  return t;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'alignrun-tracker-'));
  mlflow = await startTestMlflow();
});
after(async () => {
  for (const t of trackers) await t.close();
  await mlflow?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface RunView {
  name: string;
  status: string;
  parent: string | null;
  params: Record<string, string>;
  tags: Record<string, string>;
  history: Record<string, [number, number, number][]>;
}

// Everything about an experiment's runs, as MLflow's own Python client sees it.
function readBack(experiment: string): Promise<Record<string, RunView>> {
  return mlflow.python(`
c = MlflowClient()
exp = c.get_experiment_by_name('${experiment}')
out = {}
for r in c.search_runs([exp.experiment_id]):
    key = r.data.tags['alignrun.key']
    assert key not in out, 'two runs share key ' + key
    hist = {m: sorted((x.step, x.value, x.timestamp) for x in c.get_metric_history(r.info.run_id, m)) for m in r.data.metrics}
    parent = r.data.tags.get('mlflow.parentRunId')
    out[key] = {'name': r.info.run_name, 'status': r.info.status, 'id': r.info.run_id,
                'parent': parent and c.get_run(parent).data.tags['alignrun.key'],
                'params': r.data.params, 'tags': {k: v for k, v in r.data.tags.items() if not k.startswith('mlflow.')},
                'history': hist}
print(json.dumps(out))
`);
}

function logExperiment(t: Tracker, experiment: string, artifactFile: string): void {
  const spec = {
    stages: { reward: { lambda: 0.5, 'weird key!': true } },
    prompts: ['a', 'b'],
    long: 'z'.repeat(7000),
  };
  t.startRun({ key: 'sweep', name: 'sweep', experiment, params: spec, tags: { 'alignrun.plan_hash': 'p1' } });
  for (const trial of [0, 1]) {
    const key = `sweep/trial-${trial}`;
    t.startRun({
      key,
      name: `trial-${trial}`,
      experiment,
      parentKey: 'sweep',
      params: { trial: { lr: 0.1 * (trial + 1) } },
    });
    for (let step = 0; step < 30; step++) {
      t.logMetrics(key, [
        { key: 'loss', value: 1 / (step + 1) + trial, step, timestamp: 1_700_000_000_000 + step },
        { key: 'reward/mean', value: step * 0.01, step, timestamp: 1_700_000_000_000 + step },
      ]);
    }
    t.logArtifact(key, 'samples/grid.txt', Buffer.from(`trial ${trial}`));
    t.logArtifact(key, 'ckpt/model.bin', artifactFile);
    t.setTags(key, { result: trial === 0 ? 'good' : 'better' });
    t.endRun(key, 'FINISHED', 1_700_000_100_000);
  }
  t.endRun('sweep', 'FINISHED', 1_700_000_200_000);
}

function checkExperiment(runs: Record<string, RunView>): void {
  assert.deepEqual(Object.keys(runs).sort(), ['sweep', 'sweep/trial-0', 'sweep/trial-1']);
  assert.equal(runs.sweep.parent, null);
  assert.equal(runs.sweep.params['stages.reward.lambda'], '0.5');
  assert.equal(runs.sweep.params['stages.reward.weird key_'], 'true');
  assert.equal(runs.sweep.params['prompts.1'], 'b');
  assert.equal(runs.sweep.params.long.length, 6000);
  assert.equal(runs.sweep.tags['alignrun.plan_hash'], 'p1');
  for (const trial of [0, 1]) {
    const run = runs[`sweep/trial-${trial}`];
    assert.equal(run.parent, 'sweep');
    assert.equal(run.status, 'FINISHED');
    assert.equal(run.params['trial.lr'], String(0.1 * (trial + 1)));
    assert.equal(run.tags.result, trial === 0 ? 'good' : 'better');
    assert.deepEqual(
      run.history.loss,
      Array.from({ length: 30 }, (_, s) => [s, 1 / (s + 1) + trial, 1_700_000_000_000 + s]),
    );
    assert.equal(run.history['reward/mean'].length, 30);
  }
}

test('runs, nested runs, params, metrics, tags and artifacts arrive through the outbox', async () => {
  const file = join(dir, 'model.bin');
  writeFileSync(file, Buffer.from('weights-v1'));
  const t = tracker('happy.db');
  logExperiment(t, 'tracker-happy', file);
  await t.flush(60_000);
  assert.equal(t.pendingCount(), 0);
  checkExperiment(await readBack('tracker-happy'));
  const files = await mlflow.python<string[]>(`
import tempfile
r = MlflowClient().search_runs([MlflowClient().get_experiment_by_name('tracker-happy').experiment_id], "tags.\`alignrun.key\` = 'sweep/trial-1'")[0]
d = tempfile.mkdtemp()
print(json.dumps([open(mlflow.artifacts.download_artifacts(run_id=r.info.run_id, artifact_path=p, dst_path=d)).read() for p in ['samples/grid.txt', 'ckpt/model.bin']]))
`);
  assert.deepEqual(files, ['trial 1', 'weights-v1']);
});

test('replaying an outbox that was delivered but never acknowledged duplicates nothing', async () => {
  const file = join(dir, 'model2.bin');
  writeFileSync(file, Buffer.from('weights-v2'));
  // Fill an outbox while MLflow is unreachable, keep a copy of it, then deliver the original.
  const offline = tracker('replay.db', `http://127.0.0.1:${await freePort()}`);
  logExperiment(offline, 'tracker-replay', file);
  await offline.close();
  assert.equal(existsSync(join(dir, 'replay.db-wal')), false, 'closing checkpoints the WAL');
  copyFileSync(join(dir, 'replay.db'), join(dir, 'replay-copy.db'));
  const pending = outboxStatus(join(dir, 'replay.db')).pending;
  assert.equal(pending, 2 * (1 + 30 + 2 + 1 + 1) + 2); // per trial: start, metrics, artifacts, tags, end
  const first = tracker('replay.db');
  await first.flush(60_000);
  // The copy is what a process that crashed right before acknowledging would find on restart.
  const second = tracker('replay-copy.db');
  assert.equal(second.pendingCount(), pending);
  await second.flush(60_000);
  checkExperiment(await readBack('tracker-replay'));
});

test('calls MLflow refuses for good are set aside without blocking later calls', async () => {
  const dead: string[] = [];
  const t = tracker('dead.db', mlflow.url, { onDeadLetter: (m) => dead.push(m) });
  t.startRun({ key: 'p', name: 'p', experiment: 'tracker-dead', params: { lr: 1 } });
  t.startRun({ key: 'p', name: 'p', experiment: 'tracker-dead', params: { lr: 2 } }); // params are write-once
  t.logMetrics('p', [{ key: 'm', value: 1, step: 0, timestamp: 5 }]);
  t.endRun('p', 'FAILED', 10);
  await t.flush(30_000);
  assert.equal(dead.length, 1);
  assert.match(
    dead[0],
    /^A startRun call for run 'p' was set aside in .*dead\.db \(dead letters\): .*Changing param values/,
  );
  assert.equal(t.status().dead, 1);
  const runs = await readBack('tracker-dead');
  assert.equal(runs.p.status, 'FAILED');
  assert.deepEqual(runs.p.history.m, [[0, 1, 5]]);
  assert.equal(runs.p.params.lr, '1');
});

test('mistakes a caller can make are one clear sentence, at call time', () => {
  const t = tracker('mistakes.db');
  assert.throws(() => t.logMetrics('nope', [{ key: 'm', value: 1, step: 0 }]), {
    message: "The run 'nope' was never started: call startRun with this key first.",
  });
  assert.throws(() => t.startRun({ key: 'c', name: 'c', experiment: 'e', parentKey: 'ghost' }), {
    message: "The parent run 'ghost' was never started: call startRun with this key first.",
  });
  t.startRun({ key: 'ok', name: 'ok', experiment: 'tracker-mistakes' });
  assert.throws(() => t.logMetrics('ok', [{ key: 'bad*name', value: 1, step: 0 }]), {
    message: /^Metric 'bad\*name' is not a valid MLflow name/,
  });
  assert.throws(() => t.logArtifact('ok', '../escape.txt', Buffer.from('x')), {
    message: /must be relative/,
  });
  assert.throws(() => t.logArtifact('ok', 'x.bin', join(dir, 'missing.bin')), {
    message: /^Artifact file .*missing\.bin does not exist or is not a file\.$/,
  });
});

test('while MLflow is unreachable calls wait in the outbox and flush says so', async () => {
  const url = `http://127.0.0.1:${await freePort()}`;
  const t = tracker('down.db', url);
  t.startRun({ key: 'r', name: 'r', experiment: 'tracker-down' });
  t.logMetrics('r', [{ key: 'm', value: 1, step: 0 }]);
  await assert.rejects(t.flush(500), (err: Error) => {
    assert.match(
      err.message,
      new RegExp(`^MLflow at ${url} has not acknowledged 2 tracking call\\(s\\) after 0.5 s`),
    );
    assert.match(err.message, /ECONNREFUSED/);
    return true;
  });
  assert.equal(t.pendingCount(), 2);
  assert.equal(outboxStatus(join(dir, 'down.db')).pending, 2);
});

test('two trackers sharing one outbox deliver every call once, in order', async () => {
  const a = tracker('shared.db');
  const b = tracker('shared.db');
  a.startRun({ key: 'shared', name: 'shared', experiment: 'tracker-shared' });
  // b knows the run from the shared outbox although a started it.
  for (let step = 0; step < 50; step++) {
    (step % 2 ? a : b).logMetrics('shared', [
      { key: 'm', value: step, step, timestamp: 1_700_000_000_000 + step },
    ]);
  }
  b.endRun('shared', 'FINISHED', 1_700_000_100_000);
  await Promise.all([a.flush(60_000), b.flush(60_000)]);
  const runs = await readBack('tracker-shared');
  assert.equal(runs.shared.status, 'FINISHED');
  assert.deepEqual(
    runs.shared.history.m,
    Array.from({ length: 50 }, (_, s) => [s, s, 1_700_000_000_000 + s]),
  );
});

test('a lease left by a process that died does not hold delivery up', async () => {
  const deadPid = spawnSync('true').pid!; // exited and reaped: no process has this pid now
  const box = new Outbox(join(dir, 'orphan.db'));
  assert.equal(box.tryLease(`${deadPid}-crashed`, 60_000), true);
  box.close();
  const t = tracker('orphan.db');
  t.startRun({ key: 'o', name: 'o', experiment: 'tracker-orphan' });
  await t.flush(15_000); // the lease would otherwise block delivery for 60 s
  assert.equal(t.pendingCount(), 0);
});

test('starting a known run finds it again; only reopen sets an ended run running', async () => {
  const t = tracker('reopen.db');
  t.startRun({ key: 'again', name: 'again', experiment: 'tracker-reopen' });
  t.endRun('again', 'FAILED', 1_700_000_000_000);
  t.startRun({ key: 'again', name: 'again', experiment: 'tracker-reopen' }); // e.g. a worker attaching
  await t.flush(30_000);
  assert.equal((await readBack('tracker-reopen')).again.status, 'FAILED');
  t.startRun({ key: 'again', name: 'again', experiment: 'tracker-reopen', reopen: true }); // a retried stage
  await t.flush(30_000);
  assert.equal((await readBack('tracker-reopen')).again.status, 'RUNNING');
  assert.equal(t.knowsRun('again'), true);
  assert.equal(t.knowsRun('never'), false);
});
