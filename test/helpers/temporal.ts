// One real Temporal dev server per test file, on free ports, in a temporary state folder.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startDevServerOnFreePorts, stopDevServer, type DevServerInfo } from '../../src/runtime/devserver';
import { WorkerSet, type WorkerSetOptions } from '../../src/runtime/workers';
import { testStages } from './stages/index';

export interface TestServer {
  env: TestWorkflowEnvironment;
  server: DevServerInfo;
  /** Temporary state folder (database, artifacts, cache, counters). */
  stateDir: string;
  stop(): Promise<void>;
}

export async function startTestServer(): Promise<TestServer> {
  // Worker INFO lines would drown the test report; warnings and errors still show.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'alignrun-test-'));
  const server = await startDevServerOnFreePorts({ stateDir });
  const env = await TestWorkflowEnvironment.createFromExistingServer({ address: server.address });
  return {
    env,
    server,
    stateDir,
    async stop() {
      await env.teardown();
      await stopDevServer(stateDir);
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

export interface TestStack extends TestServer {
  workers: WorkerSet;
}

/**
 * A dev server with a WorkerSet serving both queues on it, the test stages (./stages) included;
 * `stop()` shuts the workers down first.
 */
export async function startTestStack(options: Partial<WorkerSetOptions> = {}): Promise<TestStack> {
  const ts = await startTestServer();
  const workers = await WorkerSet.create({
    connection: ts.env.nativeConnection,
    stateDir: ts.stateDir,
    extraStages: testStages,
    ...options,
  });
  const running = workers.run();
  return {
    ...ts,
    workers,
    async stop() {
      workers.shutdown();
      await running;
      await ts.stop();
    },
  };
}
