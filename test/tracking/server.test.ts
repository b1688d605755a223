import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMlflowServer, stopMlflowServer, type MlflowServer } from '../../src/tracking/server';

// Live, non-zombie processes in a process group, as ps sees them.
function liveGroupMembers(pgid: number): string[] {
  const out = execFileSync('ps', ['-e', '-o', 'pgid=,stat=,pid=']).toString();
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([g, stat]) => Number(g) === pgid && stat && !stat.startsWith('Z'))
    .map(([, , pid]) => pid);
}

// Status of a request sent with a given Host header (fetch does not let us set it).
function statusWithHost(url: string, host: string): Promise<number> {
  const u = new URL(url);
  return new Promise((ok, fail) => {
    request(
      {
        host: u.hostname,
        port: u.port,
        path: '/api/2.0/mlflow/experiments/search?max_results=1',
        headers: { host },
      },
      (res) => {
        res.resume();
        ok(res.statusCode ?? 0);
      },
    )
      .on('error', fail)
      .end();
  });
}

let stateDir: string;
let server: MlflowServer;

before(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'alignrun-mlflow-server-'));
  server = await startMlflowServer({ stateDir, timeoutMs: 180_000, allowedHosts: ['mlflow.lab:*'] });
});

after(async () => {
  await stopMlflowServer(stateDir);
  rmSync(stateDir, { recursive: true, force: true });
});

test('the server answers /health, logs to the state folder and records its pid', async () => {
  const res = await fetch(`${server.url}/health`);
  assert.equal(res.status, 200);
  assert.equal(server.reused, false);
  assert.ok(existsSync(join(stateDir, 'mlflow.db')));
  assert.ok(readFileSync(join(stateDir, 'mlflow.log'), 'utf8').includes('Uvicorn running'));
  const pidFile = JSON.parse(readFileSync(join(stateDir, 'mlflow.pid'), 'utf8'));
  assert.deepEqual(pidFile, { pid: server.pid, url: server.url });
});

test('the server uses one worker and no job runner', () => {
  const cmds = execFileSync('ps', ['-o', 'args=', '-g', String(server.pid)]).toString();
  assert.match(cmds, /uvicorn .*--workers 1/);
  assert.doesNotMatch(cmds, /huey|_job_runner/);
});

test('allowed hosts add to loopback instead of replacing it', async () => {
  const port = new URL(server.url).port;
  assert.equal(await statusWithHost(server.url, `mlflow.lab:${port}`), 200);
  assert.equal(await statusWithHost(server.url, `127.0.0.1:${port}`), 200);
  assert.equal(await statusWithHost(server.url, `localhost:${port}`), 200);
  assert.equal(await statusWithHost(server.url, `evil.example:${port}`), 403);
});

test('starting again for the same state folder returns the running server', async () => {
  const again = await startMlflowServer({ stateDir, timeoutMs: 5_000 });
  assert.equal(again.reused, true);
  assert.equal(again.pid, server.pid);
  assert.equal(again.url, server.url);
});

test('a port already in use is refused with a sentence naming the port', async () => {
  const holder: Server = createServer();
  await new Promise<void>((ok) => holder.listen(0, '127.0.0.1', ok));
  const port = (holder.address() as { port: number }).port;
  const other = mkdtempSync(join(tmpdir(), 'alignrun-mlflow-busy-'));
  try {
    await assert.rejects(startMlflowServer({ stateDir: other, port, timeoutMs: 5_000 }), {
      message: `Port ${port} on 127.0.0.1 is already in use; choose another port for MLflow.`,
    });
  } finally {
    holder.close();
    rmSync(other, { recursive: true, force: true });
  }
});

test('a missing venv asks the user to run setup', async () => {
  const other = mkdtempSync(join(tmpdir(), 'alignrun-mlflow-novenv-'));
  try {
    await assert.rejects(
      startMlflowServer({ stateDir: other, venv: join(other, 'no-venv') }),
      (err: Error) => {
        assert.match(err.message, /^MLflow is not installed at .*no-venv\/bin\/mlflow; run npm run setup\.$/);
        return true;
      },
    );
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});

test('stop leaves no process of the server running', async () => {
  const pgid = server.pid;
  assert.ok(liveGroupMembers(pgid).length >= 2, 'mlflow and its uvicorn worker run in one group');
  await server.stop();
  assert.deepEqual(liveGroupMembers(pgid), []);
  assert.equal(existsSync(join(stateDir, 'mlflow.pid')), false);
  await stopMlflowServer(stateDir); // a second stop is a no-op
});
