// Durable buffering of tracking calls: calls are committed to the outbox first, and a background
// flusher delivers them to MLflow in order, retrying with backoff while the server is away.
// Delivery is idempotent, so calls that were delivered but not yet acknowledged when the process
// or the server died are simply sent again: runs are found by their key tag, metrics carry fixed
// timestamps (MLflow drops identical rows), params are re-logged with the same value, artifact
// uploads overwrite the same path, and run updates set the same fields.
import { randomUUID } from 'node:crypto';
import type { KeyValue, Metric } from './batch';
import { MlflowClient, MlflowError } from './client';
import { Outbox, type OutboxStatus, type PendingOp, type TrackingOp } from './outbox';

export interface TrackingBufferOptions {
  /** MLflow tracking server URL. */
  trackingUri: string;
  /** SQLite file holding unacknowledged calls; reopened after a crash to deliver them. */
  outboxPath: string;
  /** First retry delay after MLflow could not be reached. Default 250 ms. */
  minBackoffMs?: number;
  /** Longest retry delay. Default 10 s. */
  maxBackoffMs?: number;
  /** How often an idle flusher looks for calls appended by other processes. Default 1 s. */
  pollMs?: number;
  /** Per-request timeout for MLflow. Default 30 s. */
  requestTimeoutMs?: number;
  /** Told about calls MLflow refused for good (kept in the outbox's dead-letter table). Default: stderr. */
  onDeadLetter?: (message: string) => void;
  /** Told about each failed delivery attempt that will be retried. Default: silent. */
  onRetry?: (message: string, attempt: number) => void;
}

const LEASE_MS = 60_000;
// Metrics of consecutive logMetrics calls are sent together; this bounds one delivery step.
const METRICS_PER_STEP = 5000;

// Resolves after `ms`, on abort, or when `onWake` is handed a call and it is made. The timer is
// unref'd: a process that forgets to close its tracker still exits, its calls kept in the outbox.
function pause(ms: number, signal: AbortSignal, onWake?: (wake: () => void) => void): Promise<void> {
  return new Promise((ok) => {
    if (signal.aborted) return ok();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      ok();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener('abort', done);
    onWake?.(done);
  });
}

// The lease owner is `<pid>-<uuid>`; a process that died holding it need not be waited for.
function ownerGone(owner: string): boolean {
  const pid = Number(owner.split('-')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** A call MLflow refused for good: it goes to the dead letters instead of being retried. */
class Refused extends Error {}

export class TrackingBuffer {
  readonly outbox: Outbox;
  private readonly client: MlflowClient;
  private readonly options: Required<Omit<TrackingBufferOptions, 'onRetry'>> &
    Pick<TrackingBufferOptions, 'onRetry'>;
  private readonly owner = `${process.pid}-${randomUUID()}`;
  private readonly stop = new AbortController();
  private readonly experiments = new Map<string, string>();
  private wake: (() => void) | undefined;
  // Set by enqueue: a call arrived since the flusher last looked (so no wake-up is lost).
  private nudged = false;
  private loop: Promise<void>;
  private failures = 0;
  private lastError: string | undefined;

  constructor(options: TrackingBufferOptions) {
    this.options = {
      minBackoffMs: 250,
      maxBackoffMs: 10_000,
      pollMs: 1000,
      requestTimeoutMs: 30_000,
      onDeadLetter: (m) => process.stderr.write(`alignrun: ${m}\n`),
      ...options,
    };
    this.outbox = new Outbox(options.outboxPath);
    this.client = new MlflowClient(options.trackingUri, {
      timeoutMs: this.options.requestTimeoutMs,
      signal: this.stop.signal,
    });
    this.loop = this.run();
  }

  /** Commits a call to the outbox (durable on return) and nudges the flusher. */
  enqueue(op: TrackingOp, blob?: Uint8Array): void {
    if (this.stop.signal.aborted)
      throw new Error('The tracker is closed; tracking calls can no longer be made.');
    this.outbox.append(op, blob);
    this.nudged = true;
    this.wake?.();
  }

  knowsRun(runKey: string): boolean {
    return this.outbox.knowsRun(runKey);
  }

  pendingCount(): number {
    return this.outbox.pendingCount();
  }

  status(): OutboxStatus & { lastError?: string } {
    return { ...this.outbox.status(), lastError: this.lastError };
  }

  /** Waits until every call in the outbox was acknowledged by MLflow, or throws after `timeoutMs`. */
  async flush(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pending = this.outbox.pendingCount();
      if (pending === 0) return;
      if (Date.now() >= deadline) {
        throw new Error(
          `MLflow at ${this.client.url} has not acknowledged ${pending} tracking call(s) after ${timeoutMs / 1000} s` +
            `${this.lastError ? ` (last error: ${this.lastError})` : ''}; they stay in ${this.outbox.path} and are sent once it answers.`,
        );
      }
      this.wake?.();
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the flusher (cancelling a request in flight) and closes the outbox; pending calls stay. */
  async close(): Promise<void> {
    if (this.stop.signal.aborted) return;
    this.stop.abort();
    await this.loop;
    this.outbox.releaseLease(this.owner);
    this.outbox.close();
  }

  private async run(): Promise<void> {
    const signal = this.stop.signal;
    while (!signal.aborted) {
      this.nudged = false;
      let idle = true;
      if (this.outbox.tryLease(this.owner, LEASE_MS, ownerGone)) {
        try {
          idle = !(await this.step());
          this.failures = 0;
        } catch (err) {
          if (signal.aborted) break;
          this.failures += 1;
          this.lastError = (err as Error).message;
          this.options.onRetry?.(this.lastError, this.failures);
          const backoff = Math.min(
            this.options.maxBackoffMs,
            this.options.minBackoffMs * 2 ** (this.failures - 1),
          );
          await pause(backoff * (0.5 + Math.random() / 2), signal);
          continue;
        }
      }
      if (idle && !this.nudged) {
        await pause(this.options.pollMs, signal, (wake) => (this.wake = wake));
        this.wake = undefined;
      }
    }
  }

  /** Delivers the oldest call(s). Returns false when there was nothing to deliver. */
  private async step(): Promise<boolean> {
    const head = this.outbox.peek(1)[0];
    if (!head) return false;
    if (head.op.kind !== 'logMetrics') {
      await this.attempt([head], () => this.deliver(head));
      return true;
    }
    // Consecutive logMetrics calls at the head go out as one log-batch per run. Runs are
    // independent, and each run's calls keep their order, so grouping is safe.
    const byRun = new Map<string, PendingOp[]>();
    for (const p of this.metricsWindow()) byRun.set(p.op.runKey, [...(byRun.get(p.op.runKey) ?? []), p]);
    for (const group of byRun.values()) await this.attempt(group, () => this.deliverMetrics(group));
    return true;
  }

  // Acknowledges `batch` once `send` succeeded; buries it if MLflow refused it for good; otherwise
  // records the failure and rethrows so that the flusher backs off.
  private async attempt(batch: PendingOp[], send: () => Promise<void>): Promise<void> {
    const seqs = batch.map((p) => p.seq);
    try {
      await send();
    } catch (err) {
      if (err instanceof Refused || (err instanceof MlflowError && !err.retryable)) {
        this.outbox.bury(seqs, err.message);
        const op = batch[0].op;
        this.options.onDeadLetter(
          `A ${op.kind} call for run '${op.runKey}' was set aside in ${this.outbox.path} (dead letters): ${err.message}`,
        );
        return;
      }
      this.outbox.noteFailure(seqs, (err as Error).message);
      throw err;
    }
    this.outbox.ack(seqs);
    this.lastError = undefined;
  }

  private metricsWindow(): PendingOp[] {
    const out: PendingOp[] = [];
    let count = 0;
    for (const p of this.outbox.peek(500)) {
      if (p.op.kind !== 'logMetrics') break;
      if (out.length > 0 && count + p.op.metrics.length > METRICS_PER_STEP) break;
      out.push(p);
      count += p.op.metrics.length;
    }
    return out;
  }

  private runIdOf(runKey: string): string {
    const id = this.outbox.runId(runKey);
    if (!id) throw new Refused(`its run was never created in MLflow (its startRun call failed).`);
    return id;
  }

  private async deliverMetrics(batch: PendingOp[]): Promise<void> {
    const metrics: Metric[] = batch.flatMap((p) => (p.op.kind === 'logMetrics' ? p.op.metrics : []));
    await this.client.logBatch(this.runIdOf(batch[0].op.runKey), { metrics });
  }

  private async experimentId(name: string): Promise<string> {
    let id = this.experiments.get(name);
    if (!id) {
      id = await this.client.getOrCreateExperiment(name);
      this.experiments.set(name, id);
    }
    return id;
  }

  private async deliver(pending: PendingOp): Promise<void> {
    const op = pending.op;
    switch (op.kind) {
      case 'startRun': {
        const experimentId = await this.experimentId(op.experiment);
        const parentRunId = op.parentKey ? this.runIdOf(op.parentKey) : undefined;
        const run = await this.client.getOrCreateRun({
          experimentId,
          runName: op.name,
          key: op.runKey,
          parentRunId,
          startTime: op.startTime,
        });
        this.outbox.recordRun(op.runKey, run.runId, experimentId);
        if (op.reopen && !run.created && run.status !== 'RUNNING') {
          await this.client.updateRun(run.runId, { status: 'RUNNING' });
        }
        await this.client.logBatch(run.runId, { params: op.params, tags: op.tags });
        return;
      }
      case 'setTags':
        return this.client.logBatch(this.runIdOf(op.runKey), { tags: op.tags as KeyValue[] });
      case 'logArtifact': {
        const source = pending.blob ?? (op.filePath ? { filePath: op.filePath } : undefined);
        if (!source) throw new Refused(`artifact '${op.artifactPath}' has neither bytes nor a file`);
        return this.client.uploadArtifact(this.runIdOf(op.runKey), op.artifactPath, source);
      }
      case 'endRun':
        await this.client.updateRun(this.runIdOf(op.runKey), { status: op.status, endTime: op.endTime });
        return;
      case 'logMetrics':
        return this.deliverMetrics([pending]);
    }
  }
}
