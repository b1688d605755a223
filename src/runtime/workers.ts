// Workers: one per task queue on one shared connection. The cpu worker also hosts the workflows;
// the gpu worker runs only as many activities at once as there are devices.
import { fileURLToPath } from 'node:url';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import type { Queue } from '../spec/plan';
import { RunTracking } from '../tracking/run-tracking';
import { createActivities } from './activities';
import { DEFAULT_QUEUES } from './definitions';
import { UserError } from './paths';
import type { QueueNames } from './protocol';
import type { StageImplementation } from './stage';

export interface WorkerSetOptions {
  connection: NativeConnection;
  namespace?: string;
  /** State folder the activities read and write (artifacts, cache, counters). */
  stateDir: string;
  /** Which plan queues to serve; default both. Workflows run on the cpu queue's worker. */
  queues?: Queue[];
  /** Task queue name per plan queue; default `cpu` / `gpu`. */
  queueNames?: QueueNames;
  /** GPU activities at once: the number of devices; default `$ALIGNRUN_GPU_DEVICES` or 1. */
  gpuDevices?: number;
  /** CPU activities at once; default 8. */
  cpuSlots?: number;
  /** How long a stopping worker lets in-flight activities finish; default '30s'. */
  shutdownGraceTime?: string;
  /** Receives a line per stage event (start, retry, finish, failure, cancellation); default none. */
  log?: (line: string) => void;
  /** Stage kinds to serve besides the spec's (the tests' test stages); default none. */
  extraStages?: Record<string, StageImplementation>;
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** The workflow bundle, built once per process and shared by every worker. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)),
    logger: new DefaultLogger('WARN'),
  });
  return bundle;
}

export class WorkerSet {
  private constructor(
    readonly workers: Worker[],
    /** The workers' MLflow trackers; closed (undelivered calls kept) when the workers stop. */
    readonly tracking: RunTracking,
  ) {}

  static async create(opts: WorkerSetOptions): Promise<WorkerSet> {
    const queues = opts.queues ?? ['cpu', 'gpu'];
    const names = opts.queueNames ?? DEFAULT_QUEUES;
    const gpuDevices = opts.gpuDevices ?? Number(process.env.ALIGNRUN_GPU_DEVICES ?? 1);
    if (!Number.isInteger(gpuDevices) || gpuDevices < 1) {
      throw new UserError(
        `The number of GPU devices must be a whole number of at least 1, not ${gpuDevices}.`,
      );
    }
    const tracking = new RunTracking(opts.stateDir);
    // Calls a previous worker left undelivered (MLflow was away) go out now, not at the next run.
    tracking.resumePending();
    const activities = createActivities(opts.stateDir, {
      tracking,
      log: opts.log,
      extraStages: opts.extraStages,
    });
    const common = {
      connection: opts.connection,
      namespace: opts.namespace ?? 'default',
      activities,
      shutdownGraceTime: opts.shutdownGraceTime ?? '30s',
      // Heartbeats reach the server within a second (not 0.8 × the heartbeat timeout): live
      // progress, prompt cancellation and quick detection of a dead worker (./heartbeat.ts).
      maxHeartbeatThrottleInterval: '1s',
    };
    const workers: Worker[] = [];
    try {
      for (const q of queues) {
        workers.push(
          await Worker.create({
            ...common,
            taskQueue: names[q],
            ...(q === 'cpu'
              ? {
                  workflowBundle: await workflowBundle(),
                  maxConcurrentActivityTaskExecutions: opts.cpuSlots ?? 8,
                }
              : { maxConcurrentActivityTaskExecutions: gpuDevices }),
          }),
        );
      }
    } catch (err) {
      await tracking.close(0);
      throw err;
    }
    return new WorkerSet(workers, tracking);
  }

  /**
   * Runs every worker until all have shut down (SIGINT/SIGTERM or `shutdown()`), then gives MLflow
   * a moment to take the last tracking calls; any left wait in the outbox for the next worker.
   */
  async run(): Promise<void> {
    try {
      await Promise.all(this.workers.map((w) => w.run()));
    } finally {
      await this.tracking.close();
    }
  }

  /** Runs the workers while `fn` runs, then shuts them down gracefully. */
  async runUntil<T>(p: Promise<T>): Promise<T> {
    const running = this.run();
    try {
      return await p;
    } finally {
      this.shutdown();
      await running;
    }
  }

  shutdown(): void {
    for (const w of this.workers) if (w.getState() === 'RUNNING') w.shutdown();
  }
}
