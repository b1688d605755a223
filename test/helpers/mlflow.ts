// Test harness: one real MLflow server per test file, on a free port in a temporary state folder,
// plus a way to read results back with MLflow's own Python client from the project venv.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  defaultVenv,
  killMlflowServer,
  startMlflowServer,
  stopMlflowServer,
  type MlflowServer,
} from '../../src/tracking/server';

export interface TestMlflow {
  readonly url: string;
  readonly stateDir: string;
  /** SIGKILLs the whole server process group, as a crash would. */
  kill(): Promise<void>;
  /** Starts the server again on the same state folder and port. */
  restart(): Promise<void>;
  /** Stops the server and deletes the state folder. */
  stop(): Promise<void>;
  /** Runs Python with mlflow imported and MLFLOW_TRACKING_URI set; returns the JSON it prints last. */
  python<T = unknown>(code: string): Promise<T>;
}

export async function startTestMlflow(): Promise<TestMlflow> {
  const stateDir = mkdtempSync(join(tmpdir(), 'alignrun-mlflow-test-'));
  let server: MlflowServer = await startMlflowServer({ stateDir, timeoutMs: 180_000 });
  const port = Number(new URL(server.url).port);
  return {
    get url() {
      return server.url;
    },
    stateDir,
    kill: () => killMlflowServer(stateDir),
    async restart() {
      server = await startMlflowServer({ stateDir, port, timeoutMs: 180_000 });
    },
    async stop() {
      await stopMlflowServer(stateDir);
      rmSync(stateDir, { recursive: true, force: true });
    },
    python: (code) => runPython(server.url, code),
  };
}

export function runPython<T>(trackingUri: string, code: string): Promise<T> {
  const python = join(defaultVenv(), 'bin', 'python');
  const script = `import json, mlflow\nfrom mlflow import MlflowClient\n${code}`;
  return new Promise((ok, fail) => {
    execFile(
      python,
      ['-c', script],
      { env: { ...process.env, MLFLOW_TRACKING_URI: trackingUri }, maxBuffer: 64 << 20, timeout: 180_000 },
      (err, stdout, stderr) => {
        if (err) return fail(new Error(`python failed: ${stderr.trim().split('\n').slice(-5).join('\n')}`));
        const lines = stdout.trim().split('\n');
        try {
          ok(JSON.parse(lines[lines.length - 1]) as T);
        } catch {
          fail(new Error(`python printed no JSON: ${stdout.slice(-500)}`));
        }
      },
    );
  });
}
