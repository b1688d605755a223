// `alignrun up` starts MLflow beside Temporal and records its URL; `down` stops it; calls made
// while it is down wait in the outbox, `status` says so, and the next `up` (same port) takes them.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { stopDevServer } from '../../src/runtime/devserver';
import { freePort } from '../../src/util/ports';
import { localMlflowDir, recordedLocalMlflowUrl, RunTracking } from '../../src/tracking/run-tracking';
import { stopMlflowServer } from '../../src/tracking/server';
import { runPython } from '../helpers/mlflow';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'alignrun.js');
const state = mkdtempSync(join(tmpdir(), 'alignrun-cli-tracking-'));

async function alignrun(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, ALIGNRUN_STATE: state };
  delete env.MLFLOW_TRACKING_URI;
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

after(async () => {
  await stopMlflowServer(localMlflowDir(state));
  await stopDevServer(state);
  rmSync(state, { recursive: true, force: true });
});

test('up starts MLflow and records it; tracking calls made while it is down wait, are reported, and arrive', async () => {
  const port = String(await freePort());
  const labelPort = String(await freePort());
  const up = await alignrun(
    'up',
    '--no-workers',
    '--port',
    port,
    '--ui-port',
    String(await freePort()),
    '--label-port',
    labelPort,
  );
  assert.equal(up.code, 0, up.stderr);
  const url = recordedLocalMlflowUrl(state)!;
  assert.match(up.stdout, new RegExp(`MLflow: ${url.replace(/[.:/]/g, '\\$&')} \\(pid \\d+`));
  assert.equal((await fetch(`${url}/health`)).ok, true, 'MLflow answers at the printed URL');
  assert.match(up.stdout, new RegExp(`Labelling page: http://127\\.0\\.0\\.1:${labelPort}/? \\(pid \\d+`));
  assert.equal(
    (await fetch(`http://127.0.0.1:${labelPort}/api/tasks`)).status,
    401,
    'the label API answers (and wants a token)',
  );

  const down = await alignrun('down');
  assert.match(down.stdout, /MLflow: stopped\. Label server: stopped\./);
  await assert.rejects(fetch(`http://127.0.0.1:${labelPort}/api/tasks`), 'the label server is stopped');
  await assert.rejects(fetch(`${url}/health`), 'MLflow is stopped');

  // A run tracked with no URI in the spec goes to the recorded local server, which is down.
  const tracking = new RunTracking(state, { warn: () => undefined });
  const run = { key: 'cli-run/t0', name: 'cli-run', experiment: 'alignrun-cli' };
  tracking.startRun({ run, spec: { a: 1 }, workflowId: 'cli-run', planHash: 'h' });
  tracking.logStageMetrics(run, 'eval', { alignment: 0.9 }, new Date().toISOString());
  tracking.endRun(run, 'FINISHED');
  assert.equal(tracking.pendingCount(), 4, 'run start, resolved-spec artifact, metrics, run end');
  await tracking.close(0);
  const status = await alignrun('status');
  assert.match(
    status.stdout,
    new RegExp(`Warning: 4 tracking calls waiting for MLflow at ${url.replace(/[.:/]/g, '\\$&')}\\.`),
  );

  // The next `up` brings MLflow back on the same URL; a worker's tracking delivers what waited.
  const again = await alignrun('up', '--no-workers', '--no-label-server', '--port', port);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(recordedLocalMlflowUrl(state), url, 'same port as before');
  const worker = new RunTracking(state, { warn: () => undefined });
  worker.resumePending();
  await worker.flush(60_000);
  await worker.close();
  const after = await alignrun('status');
  assert.doesNotMatch(after.stdout, /tracking calls? waiting/);
  const got = await runPython<[string, number]>(
    url,
    `
exp = MlflowClient().get_experiment_by_name("alignrun-cli")
r = MlflowClient().search_runs([exp.experiment_id])[0]
print(json.dumps([r.info.status, r.data.metrics["eval.alignment"]]))`,
  );
  assert.deepEqual(got, ['FINISHED', 0.9]);
  assert.match((await alignrun('down')).stdout, /MLflow: stopped\./);
});
