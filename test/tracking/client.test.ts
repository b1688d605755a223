import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MlflowClient, MlflowError, RUN_KEY_TAG } from '../../src/tracking/client';
import { freePort } from '../../src/util/ports';
import { startTestMlflow, type TestMlflow } from '../helpers/mlflow';

let mlflow: TestMlflow;
let client: MlflowClient;

before(async () => {
  mlflow = await startTestMlflow();
  client = new MlflowClient(mlflow.url);
});
after(() => mlflow?.stop());

test('experiments and runs are found again instead of created twice', async () => {
  const exp = await client.getOrCreateExperiment('client-idempotent');
  assert.equal(await client.getOrCreateExperiment('client-idempotent'), exp);
  const first = await client.getOrCreateRun({ experimentId: exp, runName: 'train', key: 'plan1/train' });
  const again = await client.getOrCreateRun({ experimentId: exp, runName: 'train', key: 'plan1/train' });
  assert.equal(first.created, true);
  assert.equal(again.created, false);
  assert.equal(again.runId, first.runId);
  const seen = await mlflow.python<string[]>(
    `runs = mlflow.search_runs(experiment_ids=['${exp}'], filter_string="tags.\`${RUN_KEY_TAG}\` = 'plan1/train'", output_format='list')\nprint(json.dumps([r.info.run_id for r in runs]))`,
  );
  assert.deepEqual(seen, [first.runId]);
});

test('nested runs show under their parent through MLflow search', async () => {
  const exp = await client.getOrCreateExperiment('client-nested');
  const parent = await client.getOrCreateRun({ experimentId: exp, runName: 'sweep', key: 'sweep' });
  const kids = [];
  for (const i of [0, 1, 2]) {
    kids.push(
      await client.getOrCreateRun({
        experimentId: exp,
        runName: `trial-${i}`,
        key: `sweep/${i}`,
        parentRunId: parent.runId,
      }),
    );
  }
  await client.getOrCreateRun({ experimentId: exp, runName: 'loner', key: 'loner' });
  const children = await mlflow.python<string[]>(
    `runs = mlflow.search_runs(experiment_ids=['${exp}'], filter_string="tags.mlflow.parentRunId = '${parent.runId}'", output_format='list')\nprint(json.dumps(sorted(r.info.run_name for r in runs)))`,
  );
  assert.deepEqual(children, ['trial-0', 'trial-1', 'trial-2']);
});

test('a batch of 2,500 metrics and 250 params arrives whole', async () => {
  const exp = await client.getOrCreateExperiment('client-batch');
  const run = await client.getOrCreateRun({ experimentId: exp, runName: 'big', key: 'big' });
  const metrics = Array.from({ length: 2500 }, (_, i) => ({
    key: `loss${i % 5}`,
    value: i / 10,
    timestamp: 1_700_000_000_000 + i,
    step: Math.floor(i / 5),
  }));
  const params = Array.from({ length: 250 }, (_, i) => ({ key: `p.${i}`, value: `v${i}` }));
  await client.logBatch(run.runId, { metrics, params, tags: [{ key: 'kind', value: 'batch-test' }] });
  // Logging the same batch again (a retry) adds nothing: identical rows are de-duplicated.
  await client.logBatch(run.runId, { metrics, params });
  const got = await mlflow.python<{ params: number; history: number[]; last: number; tag: string }>(
    `c = MlflowClient()\nr = c.get_run('${run.runId}')\n` +
      `h = [len(c.get_metric_history('${run.runId}', f'loss{k}')) for k in range(5)]\n` +
      `print(json.dumps({'params': len(r.data.params), 'history': h, 'last': r.data.metrics['loss4'], 'tag': r.data.tags['kind']}))`,
  );
  assert.deepEqual(got, { params: 250, history: [500, 500, 500, 500, 500], last: 249.9, tag: 'batch-test' });
});

test('run status, end time and tags update', async () => {
  const exp = await client.getOrCreateExperiment('client-update');
  const run = await client.getOrCreateRun({
    experimentId: exp,
    runName: 'r',
    key: 'r',
    startTime: 1_700_000_000_000,
  });
  await client.setTag(run.runId, 'note', 'done');
  await client.updateRun(run.runId, { status: 'FINISHED', endTime: 1_700_000_100_000 });
  const got = await client.getRun(run.runId);
  assert.equal(got.info.status, 'FINISHED');
  assert.equal(got.info.endTime, 1_700_000_100_000);
  assert.equal(got.data.tags.note, 'done');
  const py = await mlflow.python<[string, number]>(
    `r = MlflowClient().get_run('${run.runId}')\nprint(json.dumps([r.info.status, r.info.end_time]))`,
  );
  assert.deepEqual(py, ['FINISHED', 1_700_000_100_000]);
});

test('artifacts upload through the proxy and download with the Python client', async () => {
  const exp = await client.getOrCreateExperiment('client-artifacts');
  const run = await client.getOrCreateRun({ experimentId: exp, runName: 'a', key: 'a' });
  const file = join(mlflow.stateDir, 'weights.bin');
  const bytes = Buffer.alloc(3 << 20);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) & 0xff;
  writeFileSync(file, bytes);
  await client.uploadArtifact(run.runId, 'ckpt/weights.bin', { filePath: file });
  await client.uploadArtifact(run.runId, 'notes/readme 1.json', Buffer.from('{"a":1}'));
  assert.deepEqual(await client.listArtifacts(run.runId), [
    { path: 'ckpt', isDir: true, fileSize: undefined },
    { path: 'notes', isDir: true, fileSize: undefined },
  ]);
  assert.deepEqual(await client.listArtifacts(run.runId, 'ckpt'), [
    { path: 'ckpt/weights.bin', isDir: false, fileSize: bytes.length },
  ]);
  assert.equal((await client.downloadArtifact(run.runId, 'notes/readme 1.json')).toString(), '{"a":1}');
  const py = await mlflow.python<{ size: number; sum: number; note: string }>(
    `import os, tempfile\nd = tempfile.mkdtemp()\n` +
      `p = mlflow.artifacts.download_artifacts(run_id='${run.runId}', artifact_path='ckpt/weights.bin', dst_path=d)\n` +
      `b = open(p, 'rb').read()\nn = open(mlflow.artifacts.download_artifacts(run_id='${run.runId}', artifact_path='notes/readme 1.json', dst_path=d)).read()\n` +
      `print(json.dumps({'size': len(b), 'sum': sum(b[::4096]), 'note': n}))`,
  );
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 4096) sum += bytes[i];
  assert.deepEqual(py, { size: bytes.length, sum, note: '{"a":1}' });
});

test('errors are one sentence naming the server and what failed', async () => {
  await assert.rejects(client.getRun('0123456789abcdef0123456789abcdef'), (err: MlflowError) => {
    assert.ok(err instanceof MlflowError);
    assert.equal(err.retryable, false);
    assert.equal(err.errorCode, 'RESOURCE_DOES_NOT_EXIST');
    assert.equal(
      err.message,
      `MLflow at ${mlflow.url} could not get run 0123456789abcdef0123456789abcdef: Run with id=0123456789abcdef0123456789abcdef not found (HTTP 404 RESOURCE_DOES_NOT_EXIST).`,
    );
    return true;
  });
  const nowhere = `http://127.0.0.1:${await freePort()}`;
  await assert.rejects(new MlflowClient(nowhere).getOrCreateExperiment('x'), (err: MlflowError) => {
    assert.equal(err.retryable, true);
    assert.equal(
      err.message,
      `MLflow at ${nowhere} is unreachable, could not get experiment 'x' (ECONNREFUSED).`,
    );
    return true;
  });
  const exp = await client.getOrCreateExperiment('client-errors');
  const run = await client.getOrCreateRun({ experimentId: exp, runName: 'e', key: 'e' });
  await client.logBatch(run.runId, { params: [{ key: 'lr', value: '0.1' }] });
  await assert.rejects(
    client.logBatch(run.runId, { params: [{ key: 'lr', value: '0.2' }] }),
    (err: MlflowError) => {
      assert.equal(err.retryable, false);
      assert.match(
        err.message,
        /^MLflow at .* could not log a batch to run \w+: Changing param values is not allowed\./,
      );
      return true;
    },
  );
});

test('the server itself refuses an unsplit batch over 1,000 metrics (why logBatch splits)', async () => {
  const exp = await client.getOrCreateExperiment('client-limit');
  const run = await client.getOrCreateRun({ experimentId: exp, runName: 'l', key: 'l' });
  const metrics = Array.from({ length: 1001 }, (_, i) => ({ key: 'm', value: i, timestamp: i, step: i }));
  const res = await fetch(`${mlflow.url}/api/2.0/mlflow/runs/log-batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ run_id: run.runId, metrics }),
  });
  assert.equal(res.status, 400);
  await client.logBatch(run.runId, { metrics });
  assert.equal((await client.getMetricHistory(run.runId, 'm')).length, 1001);
});
